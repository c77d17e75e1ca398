"""Errors of deduplication."""

from __future__ import annotations

from models.errors import ImgsearchError


class DedupError(ImgsearchError, ValueError):
    """Bad input to the deduplication (ids, vectors, threshold, rules)."""
