"""Exploring a collection from its stored vectors: clusters (k-means, density), outliers and a
2-D map, cached per index generation.

Names load on first use (PEP 562): importing the package costs nothing until a name
is used."""

from __future__ import annotations

from typing import TYPE_CHECKING

from search.lazy import lazy_names

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
    "Cluster": "search.explore.results",
    "Clusters": "search.explore.results",
    "Explorer": "search.explore.service",
    "ResultCache": "search.explore.cache",
    "LibraryMap": "search.explore.results",
    "Member": "search.explore.results",
    "Outlier": "search.explore.results",
    "MapColouring": "search.explore.results",
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
    "MapColouring",
    "Member",
    "Outlier",
    "ResultCache",
    "default_k",
    "density_labels",
    "kmeans_labels",
    "knn_graph",
    "outlier_scores",
    "project",
    "reduced",
    "umap_available",
]


__getattr__, __dir__ = lazy_names(__name__, _SOURCES, globals())

if TYPE_CHECKING:  # type checkers and IDEs see the names eagerly
    from search.explore.cache import ResultCache
    from search.explore.clusters import DEFAULT_MIN_SIZE, METHODS, default_k, kmeans_labels
    from search.explore.density import density_labels
    from search.explore.errors import ExploreError
    from search.explore.graph import Graph, knn_graph, reduced
    from search.explore.outliers import DEFAULT_K, outlier_scores
    from search.explore.projection import PROJECTIONS, project, umap_available
    from search.explore.results import (
        Cluster,
        Clusters,
        LibraryMap,
        MapColouring,
        Member,
        Outlier,
    )
    from search.explore.service import Explorer
