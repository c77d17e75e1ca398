"""The FAISS cache: image ids -> unit vectors, stamped file format, back-end kinds from a
registry, recall tuning, exact top-k and k-means on FAISS's own primitives.

Names load on first use (PEP 562): importing the package costs nothing until a name
is used."""

from __future__ import annotations

from typing import TYPE_CHECKING

from search.lazy import lazy_names

_SOURCES: dict[str, str] = {
    "ALL_KINDS": "search.index.build",
    "IndexConfig": "search.index.build",
    "set_threads": "search.index.build",
    "CropIndex": "search.index.crops",
    "reserve": "search.index.disk_space",
    "CorruptIndexError": "search.index.errors",
    "ForeignIndexError": "search.index.errors",
    "IndexCacheError": "search.index.errors",
    "IndexInputError": "search.index.errors",
    "IndexMissingError": "search.index.errors",
    "StaleIndexError": "search.index.errors",
    "IndexStamp": "search.index.file_format",
    "read_header": "search.index.file_format",
    "KnnGraph": "search.index.knn",
    "iter_knn": "search.index.knn",
    "knn_graph": "search.index.knn",
    "range_neighbours": "search.index.knn",
    "stored_neighbours": "search.index.knn",
    "LayoutIndex": "search.index.layouts",
    "NearestNeighbourIndex": "search.index.protocol",
    "exact_topk": "search.index.tune",
    "spherical_kmeans": "search.index.tune",
    "VectorIndex": "search.index.vector_index",
}

__all__ = [
    "ALL_KINDS",
    "CorruptIndexError",
    "CropIndex",
    "ForeignIndexError",
    "IndexCacheError",
    "IndexConfig",
    "IndexInputError",
    "IndexMissingError",
    "IndexStamp",
    "KnnGraph",
    "LayoutIndex",
    "NearestNeighbourIndex",
    "StaleIndexError",
    "VectorIndex",
    "exact_topk",
    "iter_knn",
    "knn_graph",
    "range_neighbours",
    "read_header",
    "reserve",
    "set_threads",
    "spherical_kmeans",
    "stored_neighbours",
]


__getattr__, __dir__ = lazy_names(__name__, _SOURCES, globals())

if TYPE_CHECKING:  # type checkers and IDEs see the names eagerly
    from search.index.build import ALL_KINDS, IndexConfig, set_threads
    from search.index.crops import CropIndex
    from search.index.disk_space import reserve
    from search.index.errors import (
        CorruptIndexError,
        ForeignIndexError,
        IndexCacheError,
        IndexInputError,
        IndexMissingError,
        StaleIndexError,
    )
    from search.index.file_format import IndexStamp, read_header
    from search.index.knn import KnnGraph, iter_knn, knn_graph, range_neighbours, stored_neighbours
    from search.index.protocol import NearestNeighbourIndex
    from search.index.tune import exact_topk, spherical_kmeans
    from search.index.vector_index import VectorIndex
