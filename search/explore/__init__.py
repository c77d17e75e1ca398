"""Exploring a collection from its stored vectors: clusters (k-means, density), outliers and a
2-D map, cached per index generation.

Names load on first use (PEP 562): importing the package costs nothing until a name
is used."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_SOURCES: dict[str, str] = {
    "DEFAULT_MIN_SIZE": "search.explore.clusters",
    "METHODS": "search.explore.clusters",
    "default_k": "search.explore.clusters",
    "kmeans_labels": "search.explore.clusters",
    "density_labels": "search.explore.density",
    "ExploreError": "search.explore.errors",
    "Graph": "search.explore.graph",
    "knn_graph": "search.explore.graph",
    "reduced": "search.explore.graph",
    "DEFAULT_K": "search.explore.outliers",
    "outlier_scores": "search.explore.outliers",
    "PROJECTIONS": "search.explore.projection",
    "project": "search.explore.projection",
    "umap_available": "search.explore.projection",
    "Cluster": "search.explore.service",
    "Clusters": "search.explore.service",
    "Explorer": "search.explore.service",
    "LibraryMap": "search.explore.service",
    "Member": "search.explore.service",
    "Outlier": "search.explore.service",
}

__all__ = [
    "DEFAULT_K",
    "DEFAULT_MIN_SIZE",
    "METHODS",
    "PROJECTIONS",
    "Cluster",
    "Clusters",
    "ExploreError",
    "Explorer",
    "Graph",
    "LibraryMap",
    "Member",
    "Outlier",
    "default_k",
    "density_labels",
    "kmeans_labels",
    "knn_graph",
    "outlier_scores",
    "project",
    "reduced",
    "umap_available",
]


def __getattr__(name: str) -> Any:
    module = _SOURCES.get(name)
    if module is None:
        raise AttributeError(f"module 'search.explore' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # type checkers and IDEs see the names eagerly
    from search.explore.clusters import DEFAULT_MIN_SIZE, METHODS, default_k, kmeans_labels
    from search.explore.density import density_labels
    from search.explore.errors import ExploreError
    from search.explore.graph import Graph, knn_graph, reduced
    from search.explore.outliers import DEFAULT_K, outlier_scores
    from search.explore.projection import PROJECTIONS, project, umap_available
    from search.explore.service import Cluster, Clusters, Explorer, LibraryMap, Member, Outlier
