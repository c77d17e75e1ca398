"""FAISS, imported on its first use: the index modules name ``faiss`` from here, so importing
them (as ``imgsearch index`` does before its first decode) does not load it; the writer thread
that opens the cache does, while the first images decode."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any


class _LazyModule:
    """Stands for a module until an attribute is asked for, then imports it."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)


if TYPE_CHECKING:
    import faiss
else:
    faiss = _LazyModule("faiss")

__all__ = ["faiss"]
