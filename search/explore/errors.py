"""Errors of the explore stage."""

from __future__ import annotations

from models.errors import ImgsearchError


class ExploreError(ImgsearchError):
    """A clustering, outlier or map request that cannot be answered (bad option, no vectors);
    ``option``: the option whose value it refuses (``"k"``, ``"min_size"``), None otherwise."""

    def __init__(self, message: str, *, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option
