"""The FAISS cache: image ids -> unit vectors, stamped file format, back-end kinds from a
registry, recall tuning, exact top-k and k-means on FAISS's own primitives."""

from __future__ import annotations

from search.index.build import ALL_KINDS, IndexConfig, set_threads
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

__all__ = [
    "ALL_KINDS",
    "CorruptIndexError",
    "ForeignIndexError",
    "IndexCacheError",
    "IndexConfig",
    "IndexInputError",
    "IndexMissingError",
    "IndexStamp",
    "KnnGraph",
    "NearestNeighbourIndex",
    "StaleIndexError",
    "VectorIndex",
    "exact_topk",
    "iter_knn",
    "knn_graph",
    "range_neighbours",
    "read_header",
    "set_threads",
    "spherical_kmeans",
    "stored_neighbours",
]
