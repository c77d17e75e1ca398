"""The k-NN graph the explore stage works on: unit vectors, an optional PCA reduction, exact
neighbours up to :data:`EXACT_MAX` vectors and FAISS IVF neighbours above."""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np

from search.index import exact_topk, spherical_kmeans

EXACT_MAX = 20_000
"""Largest library whose k-NN graph is exact; above it, FAISS IVF cells."""
IVF_NPROBE = 10
"""Cells each row is searched in (of about 1.6 sqrt(n))."""
REDUCED_DIM = 128
"""Dimensions kept by the PCA in front of the graph for large libraries (n > EXACT_MAX)."""
PCA_SAMPLE = 10_000
"""Rows the PCA is trained on (plenty for a 1024 x 1024 covariance)."""


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


def pca_project(x: np.ndarray, dim: int, sample: int, seed: int = 0) -> np.ndarray:
    """``x`` on its ``dim`` leading principal axes, learned from up to ``sample`` rows drawn
    with ``seed`` (the covariance in numpy's BLAS and one ``eigh``: FAISS's PCAMatrix took
    20-100 s to train on a loaded 2-core machine where this takes a few); projected in chunks."""
    rows = x
    if len(x) > sample:
        rows = x[np.sort(np.random.default_rng(seed).choice(len(x), sample, replace=False))]
    rows = np.asarray(rows, dtype=np.float32)
    mean = rows.mean(axis=0, dtype=np.float64).astype(np.float32)
    centred = rows - mean
    _, vectors = np.linalg.eigh((centred.T @ centred).astype(np.float64))
    axes = np.ascontiguousarray(vectors[:, ::-1][:, :dim], dtype=np.float32)
    out = np.empty((len(x), dim), np.float32)
    for start in range(0, len(x), 16_384):
        out[start : start + 16_384] = (x[start : start + 16_384] - mean) @ axes
    return out


def reduced(x: np.ndarray, dim: int = REDUCED_DIM, seed: int = 0) -> np.ndarray:
    """Unit rows of a PCA projection to ``dim`` axes, trained on up to PCA_SAMPLE rows."""
    if x.shape[1] <= dim:
        return unit_rows(x)
    return unit_rows(pca_project(x, dim, PCA_SAMPLE, seed))


def knn_graph(x: np.ndarray, k: int) -> Graph:
    """The k-NN graph of unit rows ``x`` (each row left out of its own list): exact up to
    EXACT_MAX rows, above from a FAISS inverted file (:func:`ivf_neighbours`)."""
    n = len(x)
    k = max(1, min(int(k), n - 1))
    if n <= 1:
        return Graph(np.full((n, 1), -1, np.int64), np.full((n, 1), np.inf, np.float32))
    if n <= EXACT_MAX:
        scores, rows = exact_topk(x, x, k, exclude_self=True, normalize=False)
    else:
        scores, rows = ivf_neighbours(x, k)
    distances = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * np.minimum(scores, 1.0)))
    distances = np.where(rows >= 0, distances, np.inf).astype(np.float32)
    return Graph(rows.astype(np.int64), distances)


def ivf_neighbours(x: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Approximate k nearest other rows of unit rows ``x``: spherical k-means cells (about
    1.6 sqrt(n), learned from 40 rows per cell), every row searched in its IVF_NPROBE nearest
    cells by FAISS's IndexIVFFlat (inner product). ``(scores, rows)``, -1 = none. On 100 000
    synthetic 128-d rows: recall@15 0.87 against exact (bench/explore.py)."""
    n, dim = x.shape
    nlist = int(min(n // 40, max(16, round(1.6 * np.sqrt(n)))))
    rng = np.random.default_rng(seed)
    sample = x[np.sort(rng.choice(n, min(n, 40 * nlist), replace=False))]
    quantizer = faiss.IndexFlatIP(dim)
    quantizer.add(spherical_kmeans(np.ascontiguousarray(sample), nlist, 6, seed))
    ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    ivf.is_trained = True  # the cells are the k-means centroids given
    ivf.add(np.ascontiguousarray(x, dtype=np.float32))
    ivf.nprobe = IVF_NPROBE
    scores = np.empty((n, k), np.float32)
    rows = np.empty((n, k), np.int64)
    for start in range(0, n, 16_384):
        block = np.ascontiguousarray(x[start : start + 16_384], dtype=np.float32)
        found_scores, found = ivf.search(block, k + 1)
        own = found == np.arange(start, start + len(block))[:, None]
        own[~own.any(axis=1), -1] = True  # drop the last one where self was not found
        rows[start : start + len(block)] = found[~own].reshape(len(block), k)
        scores[start : start + len(block)] = found_scores[~own].reshape(len(block), k)
    return scores, rows
