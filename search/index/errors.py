"""Errors of the FAISS cache: a file that cannot be used as is, bad arguments."""

from __future__ import annotations

from models.errors import ImgsearchError


class IndexCacheError(ImgsearchError):
    """The FAISS cache file cannot be used as is; rebuild it from the store."""


class StaleIndexError(IndexCacheError):
    """The file belongs to this library but an older/newer generation or vector count."""


class ForeignIndexError(IndexCacheError):
    """The file belongs to another library, model or dimension."""


class CorruptIndexError(IndexCacheError):
    """The file is unreadable: truncated, damaged, checksum mismatch or not an index file."""


class IndexMissingError(CorruptIndexError, FileNotFoundError):
    """There is no index file at the path."""


class IndexInputError(ImgsearchError, ValueError):
    """Bad arguments: wrong shape / dimension / dtype, duplicate or negative ids, bad kind."""
