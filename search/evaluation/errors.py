"""Errors of offline evaluation: ground-truth files, copy sets."""

from __future__ import annotations

from models.errors import ImgsearchError


class TruthError(ImgsearchError, ValueError):
    """A ground-truth file is missing, malformed, or does not match the image folder."""


class CopiesError(ImgsearchError, ValueError):
    """The copy set cannot be generated (bad sources, or an output folder in the way)."""
