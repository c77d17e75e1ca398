"""Exploring a collection from its stored vectors: clusters (k-means, density), outliers and a
2-D map, cached per index generation."""

from __future__ import annotations

from search.explore.clusters import DEFAULT_MIN_SIZE, METHODS, default_k, kmeans_labels
from search.explore.density import density_labels
from search.explore.errors import ExploreError
from search.explore.graph import Graph, knn_graph, reduced
from search.explore.outliers import DEFAULT_K, outlier_scores
from search.explore.projection import PROJECTIONS, project, umap_available
from search.explore.service import Cluster, Clusters, Explorer, LibraryMap, Member, Outlier

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
