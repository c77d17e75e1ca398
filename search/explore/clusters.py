"""Clusters of unit vectors: spherical k-means (FAISS primitives) or density (HDBSCAN on the
k-NN graph, noise left out), each summarised by its members nearest the centre first."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from search.explore.density import density_labels
from search.explore.errors import ExploreError
from search.explore.graph import Graph
from search.index import spherical_kmeans

METHODS = ("density", "kmeans")
DEFAULT_MIN_SIZE = 4
MAX_SHARE = 0.5
"""A density group holds at most this share of the library (sub-groups stand for a larger one)."""
POINTS_PER_CENTROID = 128
"""k-means of a large library learns its centroids from this many rows per centroid."""


@dataclass(frozen=True)
class Grouping:
    """Cluster labels per row (``-1`` = noise) and the method and parameter that made them."""

    method: str
    labels: np.ndarray
    parameter: int


def default_k(n: int) -> int:
    """k-means' k when none is given: sqrt(n / 2), at least 2, at most 200 and at most ``n``
    (a library of one image asked for 2 groups of itself and was refused)."""
    if n < 1:  # nothing to cluster: k 0, not "k: 1" of an empty library
        return 0
    return int(max(1, min(200, n, max(2, round((n / 2) ** 0.5)))))


def kmeans_labels(x: np.ndarray, k: int, *, niter: int = 25, seed: int = 0) -> np.ndarray:
    """Each unit row's nearest of ``k`` spherical k-means centroids (best of 3 seeds; above
    50 000 rows one seed, trained on POINTS_PER_CENTROID rows per centroid)."""
    n = len(x)
    if n == 0:
        return np.zeros(0, np.int64)
    if not 1 <= k <= n:
        raise ExploreError(
            f"k must be between 1 and the number of images ({n}), not {k}", option="k"
        )
    train = x
    if n > 50_000 and n > POINTS_PER_CENTROID * k:
        rng = np.random.default_rng(seed)
        train = x[np.sort(rng.choice(n, POINTS_PER_CENTROID * k, replace=False))]
    best, best_fit = np.zeros(n, np.int64), -np.inf
    for attempt in range(3 if n <= 50_000 else 1):
        centroids = spherical_kmeans(train, k, niter, seed + attempt)
        labels = np.empty(n, np.int64)
        fit = 0.0
        for start in range(0, n, 16_384):
            sims = x[start : start + 16_384] @ centroids.T
            labels[start : start + 16_384] = np.argmax(sims, axis=1)
            fit += float(sims.max(axis=1).sum())
        if fit > best_fit:
            best, best_fit = labels, fit
    return _renumbered(best)


def density_grouping(graph: Graph, min_size: int) -> np.ndarray:
    """HDBSCAN labels with clusters of at least ``min_size`` (min_samples = min_size - 1) and
    at most MAX_SHARE of the library: a group of most of the library (one photo set among
    smaller ones: the 398 ants and bees beside 111 other photos) is split into the denser
    groups inside it, the rest of it left unclustered."""
    if min_size < 2:
        raise ExploreError(f"min-size must be at least 2, not {min_size}", option="min_size")
    n = len(graph.neighbours)
    labels, _ = density_labels(
        graph.neighbours,
        graph.distances,
        min_size,
        max(2, min_size - 1),
        max(min_size, int(n * MAX_SHARE)),
    )
    return _renumbered(labels)


COPY_DISTANCE = 0.25
"""Rows closer than this (Euclidean between unit rows: cosine 0.97 and more) are copies of one
picture: density clustering counts them once (:func:`picture_rows`)."""


def picture_rows(graph: Graph) -> np.ndarray:
    """Each row's picture: the least row of its copies (the k-NN edges under COPY_DISTANCE,
    joined). A copy is no evidence of density: 35 re-saves of ants photos added to README's
    quick-start library made one group of 195 ants and bees (an audit), the copies' pairs
    at distance ~0 shrinking their photos' core distances until two sets merged."""
    n = len(graph.neighbours)
    parent = np.arange(n)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    rows, columns = np.nonzero((graph.distances < COPY_DISTANCE) & (graph.neighbours >= 0))
    for a, b in zip(rows.tolist(), graph.neighbours[rows, columns].tolist(), strict=True):
        ra, rb = root(a), root(int(b))
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return np.fromiter((root(i) for i in range(n)), np.int64, count=n)


def density_of_pictures(graph: Graph, min_size: int, neighbours: int) -> np.ndarray:
    """:func:`density_grouping` of one row per picture (:func:`picture_rows`), each copy
    labelled as its picture; a picture's first ``neighbours`` others are read from ``graph``
    (a copy's place taken by its picture: no second k-NN search)."""
    pictures = picture_rows(graph)
    kept = np.unique(pictures)
    if len(kept) == len(pictures):
        trimmed = Graph(graph.neighbours[:, :neighbours], graph.distances[:, :neighbours])
        return density_grouping(trimmed, min_size)
    of_row = np.searchsorted(kept, pictures)  # row -> its picture's place in ``kept``
    rows, distances = graph.neighbours[kept], graph.distances[kept]
    found = np.where(rows >= 0, of_row[np.maximum(rows, 0)], -1)
    m, k = found.shape
    own = np.arange(m)[:, None]
    keys = (own * (m + 1) + found + 1).ravel()  # a picture met again in a row: not kept
    first = np.zeros(keys.size, bool)
    first[np.unique(keys, return_index=True)[1]] = True
    usable = first.reshape(m, k) & (found >= 0) & (found != own)
    order = np.argsort(~usable, axis=1, kind="stable")[:, :neighbours]  # in distance order
    taken = np.take_along_axis(usable, order, axis=1)
    reduced = Graph(
        np.where(taken, np.take_along_axis(found, order, axis=1), -1),
        np.where(taken, np.take_along_axis(distances, order, axis=1), np.inf).astype(np.float32),
    )
    return _renumbered(density_grouping(reduced, min_size)[of_row])


def _renumbered(labels: np.ndarray) -> np.ndarray:
    """Cluster numbers by size, largest first (noise stays -1)."""
    found = labels[labels >= 0]
    if not found.size:
        return labels
    counts = np.bincount(found)
    present = np.flatnonzero(counts)
    order = present[np.argsort(-counts[present], kind="stable")]
    remap = np.full(len(counts), -1, np.int64)
    remap[order] = np.arange(len(order))
    return np.where(labels >= 0, remap[np.maximum(labels, 0)], -1)


def members_by_cluster(x: np.ndarray, labels: np.ndarray) -> list[np.ndarray]:
    """Rows of each cluster, nearest its mean direction first (the first is the
    representative)."""
    out = []
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    for c in range(int(labels.max(initial=-1)) + 1):
        lo, hi = np.searchsorted(sorted_labels, [c, c + 1])
        rows = order[lo:hi]
        centre = x[rows].sum(axis=0)
        closeness = x[rows] @ (centre / max(float(np.linalg.norm(centre)), 1e-12))
        out.append(rows[np.argsort(-closeness, kind="stable")])
    return out
