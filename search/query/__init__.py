"""Queries: the engine the web and the CLI call (by image, region, id, label), reverse
lookup, result types and query errors."""

from __future__ import annotations

from search.query.engine import SearchEngine
from search.query.errors import ImageNotFoundError, NoLabelsError, PathEscapeError, QueryError
from search.query.records import ImageFile
from search.query.results import MAX_IMAGE_ID, MAX_K, SearchHit
from search.query.reverse_lookup import (
    EXACT,
    NEAR,
    SIMILAR,
    LookupMatch,
    LookupResult,
    cut,
    default_threshold,
    library_duplicates,
    lookup,
)
from search.store.records import ImageInfo

__all__ = [
    "EXACT",
    "MAX_IMAGE_ID",
    "MAX_K",
    "NEAR",
    "SIMILAR",
    "ImageFile",
    "ImageInfo",
    "ImageNotFoundError",
    "LookupMatch",
    "LookupResult",
    "NoLabelsError",
    "PathEscapeError",
    "QueryError",
    "SearchEngine",
    "SearchHit",
    "cut",
    "default_threshold",
    "library_duplicates",
    "lookup",
]
