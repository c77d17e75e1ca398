"""Errors of the explore stage."""

from __future__ import annotations

from models.errors import ImgsearchError


class ExploreError(ImgsearchError):
    """A clustering, outlier or map request that cannot be answered (bad option, no vectors)."""
