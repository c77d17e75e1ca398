"""The k-NN graph the explore stage works on: unit vectors, an optional PCA reduction, exact
neighbours up to :data:`EXACT_MAX` vectors and FAISS-style IVF neighbours above."""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np

from search.dedup import IvfNeighbours
from search.index import exact_topk

EXACT_MAX = 20_000
"""Largest library whose k-NN graph is exact; above it, k-means cells (IvfNeighbours)."""
REDUCED_DIM = 128
"""Dimensions kept by the PCA in front of the graph for large libraries (n > EXACT_MAX)."""


@dataclass(frozen=True)
class Graph:
    """For every row its ``k`` nearest other rows (``-1`` = none), best first, and their
    chordal distances ``sqrt(2 - 2 cos)`` (0 = same direction, 2 = opposite)."""

    neighbours: np.ndarray
    distances: np.ndarray


def unit_rows(x: np.ndarray) -> np.ndarray:
    """float32 rows scaled to unit length (zero rows stay zero)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def reduced(x: np.ndarray, dim: int = REDUCED_DIM, seed: int = 0) -> np.ndarray:
    """Unit rows of a PCA projection to ``dim`` axes (trained on up to 50 000 rows)."""
    if x.shape[1] <= dim:
        return unit_rows(x)
    rng = np.random.default_rng(seed)
    sample = x[np.sort(rng.choice(len(x), min(len(x), 50_000), replace=False))]
    pca = faiss.PCAMatrix(x.shape[1], dim)
    pca.train(np.ascontiguousarray(sample, dtype=np.float32))
    out = np.empty((len(x), dim), np.float32)
    for start in range(0, len(x), 16_384):
        out[start : start + 16_384] = pca.apply(np.ascontiguousarray(x[start : start + 16_384]))
    return unit_rows(out)


def knn_graph(x: np.ndarray, k: int) -> Graph:
    """The k-NN graph of unit rows ``x`` (each row left out of its own list)."""
    n = len(x)
    k = max(1, min(int(k), n - 1))
    if n <= 1:
        return Graph(np.full((n, 1), -1, np.int64), np.full((n, 1), np.inf, np.float32))
    if n <= EXACT_MAX:
        scores, rows = exact_topk(x, x, k, exclude_self=True, normalize=False)
    else:
        provider = IvfNeighbours(x, nprobe=6)
        scores, rows = provider(np.arange(n, dtype=np.int64), k + 1)
        own = rows == np.arange(n)[:, None]
        own[~own.any(axis=1), -1] = True  # drop the last one where self was not found
        rows = rows[~own].reshape(n, k)
        scores = scores[~own].reshape(n, k)
    distances = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * np.minimum(scores, 1.0)))
    distances = np.where(rows >= 0, distances, np.inf).astype(np.float32)
    return Graph(rows.astype(np.int64), distances)
