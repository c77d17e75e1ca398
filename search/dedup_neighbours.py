"""Neighbour providers for :mod:`search.dedup`: who is near whom, in O(n*k) memory.

A provider is any callable ``provider(ids, k) -> (scores, ids)``: for a batch of image ids
(int64 ``[B]``) it returns the ``k`` nearest vectors of each by inner product (cosine on unit
vectors), as float32 ``[B, k']`` scores and int64 ``[B, k']`` image ids, best first, ``-1`` where
there is no result (``k' <= k`` is allowed). The query itself may appear among its results. An id
the provider does not know gets a row of ``-1``. A provider may set ``batch_size`` (the batch it
prefers) and ``name``.

Two providers over an in-memory matrix are given here, both from faiss:

- :class:`FlatNeighbours` -- exact: ``faiss.IndexFlatIP``, queried in chunks. Cost ``n^2 d``.
- :class:`IvfNeighbours` -- approximate, for large ``n``: a spherical k-means coarse quantizer
  (faiss) puts every vector in its nearest cell; a query is compared with every vector of its
  ``nprobe`` nearest cells (IVF semantics). The scan runs cell by cell as one BLAS product per
  cell (queries probing the cell x the cell's vectors) instead of faiss's per-query scan, which
  is several times faster on a CPU. Cost about ``n * nprobe * (n / nlist) * d``.

:func:`default_neighbours` picks flat up to :data:`FLAT_MAX` vectors, IVF above.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import faiss
import numpy as np

from models.errors import ImgsearchError

NeighbourProvider = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]

FLAT_MAX = 10_000
"""Largest ``n`` searched exactly by :func:`default_neighbours`; above it, IVF."""
DEFAULT_NPROBE = 8
_CHUNK = 8192


class DedupError(ImgsearchError, ValueError):
    """Bad input to the deduplication (ids, vectors, threshold, rules)."""


class IdRows:
    """Maps image ids to row numbers of a matrix (sorted copy + binary search, O(n) memory)."""

    def __init__(self, ids: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64).ravel()
        self.ids = ids
        self._order = np.argsort(ids, kind="stable")
        self._sorted = ids[self._order]
        if ids.size > 1 and bool(np.any(self._sorted[1:] == self._sorted[:-1])):
            dup = int(self._sorted[1:][self._sorted[1:] == self._sorted[:-1]][0])
            raise DedupError(f"image ids must be unique; id {dup} appears more than once")

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """Row of each id, ``-1`` for an id that is not here."""
        ids = np.asarray(ids, dtype=np.int64).ravel()
        if self._sorted.size == 0:
            return np.full(ids.shape, -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self._sorted, ids), self._sorted.size - 1)
        found = self._sorted[pos] == ids
        return np.where(found, self._order[pos], -1).astype(np.int64)


def _check_matrix(vectors: np.ndarray, ids: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(vectors, np.ndarray) or vectors.ndim != 2 or vectors.shape[1] < 1:
        raise DedupError("vectors must be a 2-D numpy array [n, dim]")
    if vectors.dtype not in (np.float32, np.float16, np.float64):
        raise DedupError(f"vectors must be float16/32/64, not {vectors.dtype}")
    n = vectors.shape[0]
    ids = np.arange(n, dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
    if ids.shape != (n,):
        raise DedupError(f"{ids.size} ids for {n} vectors")
    return vectors, ids


def check_unit_vectors(vectors: np.ndarray, n: int) -> None:
    """Refuse anything but ``n`` finite, L2-normalised rows (checked in chunks)."""
    if not isinstance(vectors, np.ndarray) or vectors.ndim != 2:
        raise DedupError("vectors must be a 2-D numpy array [n_images, dim]")
    if vectors.shape[0] != n:
        raise DedupError(f"{vectors.shape[0]} vectors for {n} images: one row per image")
    for start in range(0, n, 65536):
        norms = np.linalg.norm(np.asarray(vectors[start : start + 65536], np.float32), axis=1)
        bad = np.flatnonzero(~(np.abs(norms - 1.0) <= 1e-2))
        if bad.size:
            raise DedupError(
                f"vector of row {start + bad[0]} is not a finite L2-normalised (unit) vector"
            )


def _f32(block: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(block, dtype=np.float32)


class FlatNeighbours:
    """Exact k-nearest neighbours (``faiss.IndexFlatIP``) over ``vectors`` (rows = ``ids``)."""

    name = "flat"
    batch_size = 16384

    def __init__(self, vectors: np.ndarray, ids: np.ndarray | None = None) -> None:
        self.vectors, ids = _check_matrix(vectors, ids)
        self.map = IdRows(ids)
        self.index = faiss.IndexFlatIP(vectors.shape[1])
        for start in range(0, vectors.shape[0], _CHUNK):
            self.index.add(_f32(vectors[start : start + _CHUNK]))

    def __call__(self, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self.map.rows(ids)
        kk = max(1, min(int(k), self.index.ntotal))
        scores = np.full((rows.size, kk), -np.inf, dtype=np.float32)
        out = np.full((rows.size, kk), -1, dtype=np.int64)
        known = np.flatnonzero(rows >= 0)
        for start in range(0, known.size, _CHUNK):
            sel = known[start : start + _CHUNK]
            d, i = self.index.search(_f32(self.vectors[rows[sel]]), kk)
            scores[sel] = d
            out[sel] = np.where(i >= 0, self.map.ids[np.maximum(i, 0)], -1)
        return scores, out


class IvfNeighbours:
    """Approximate k-nearest neighbours: k-means cells, BLAS scan of each query's nearest cells.

    ``nlist`` defaults to ``sqrt(nprobe * n)`` (at most ``n / 39``, what k-means needs);
    training uses at most 64 points per cell, 10 k-means iterations, a fixed
    ``seed``: the same input gives the same result. Memory: the caller's matrix (not copied,
    float16 is fine), the centroids and an ``n x nprobe`` int32 table of each vector's cells.
    """

    name = "ivf"
    batch_size = 131072

    def __init__(
        self,
        vectors: np.ndarray,
        ids: np.ndarray | None = None,
        *,
        nlist: int | None = None,
        nprobe: int = DEFAULT_NPROBE,
        seed: int = 1234,
        niter: int = 10,
    ) -> None:
        self.vectors, ids = _check_matrix(vectors, ids)
        self.map = IdRows(ids)
        n, dim = vectors.shape
        if n == 0:
            raise DedupError("IvfNeighbours needs at least one vector")
        # sqrt(nprobe * n) balances assignment against scanning; >= 39 points per cell
        self.nlist = int(nlist or min(round(math.sqrt(max(1, nprobe) * n)), n // 39))
        self.nlist = max(1, min(self.nlist, n))
        self.nprobe = max(1, min(int(nprobe), self.nlist))
        rng = np.random.default_rng(seed)
        sample = np.sort(rng.choice(n, size=min(n, 64 * self.nlist), replace=False))
        if self.nlist > 1:
            kmeans = faiss.Kmeans(dim, self.nlist, niter=niter, seed=seed, spherical=True)
            kmeans.cp.max_points_per_centroid = 64
            kmeans.train(_f32(vectors[sample]))
            centroids = kmeans.centroids
        else:
            centroids = _f32(vectors[sample[:1]])
        self.quantizer = faiss.IndexFlatIP(dim)
        self.quantizer.add(_f32(centroids))
        self.probes = np.empty((n, self.nprobe), dtype=np.int32)
        for start in range(0, n, _CHUNK):
            _, cells = self.quantizer.search(_f32(vectors[start : start + _CHUNK]), self.nprobe)
            self.probes[start : start + _CHUNK] = cells
        primary = self.probes[:, 0]
        self.cell_rows = np.argsort(primary, kind="stable")
        self.cell_start = np.concatenate(
            ([0], np.cumsum(np.bincount(primary, minlength=self.nlist)))
        )

    def __call__(self, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self.map.rows(ids)
        kk = max(1, int(k))
        best_s = np.full((rows.size, kk), -np.inf, dtype=np.float32)
        best_r = np.full((rows.size, kk), -1, dtype=np.int64)
        known = np.flatnonzero(rows >= 0)
        # (query, cell) pairs, grouped by cell.
        q_of = np.repeat(known, self.nprobe)
        cells = self.probes[rows[known]].ravel()
        order = np.argsort(cells, kind="stable")
        q_of, cells = q_of[order], cells[order]
        bounds = np.flatnonzero(np.diff(cells)) + 1
        for q_sel, cell_ids in zip(np.split(q_of, bounds), np.split(cells, bounds), strict=True):
            if q_sel.size == 0:
                continue
            c = int(cell_ids[0])
            members = self.cell_rows[self.cell_start[c] : self.cell_start[c + 1]]
            if members.size == 0:
                continue
            sims = _f32(self.vectors[rows[q_sel]]) @ _f32(self.vectors[members]).T
            cand_s, cand_r = _top_k(sims, members, kk)
            merged_s = np.concatenate([best_s[q_sel], cand_s], axis=1)
            merged_r = np.concatenate([best_r[q_sel], cand_r], axis=1)
            keep = np.argpartition(-merged_s, kk - 1, axis=1)[:, :kk]
            best_s[q_sel] = np.take_along_axis(merged_s, keep, axis=1)
            best_r[q_sel] = np.take_along_axis(merged_r, keep, axis=1)
        order = np.argsort(-best_s, axis=1, kind="stable")
        best_s = np.take_along_axis(best_s, order, axis=1)
        best_r = np.take_along_axis(best_r, order, axis=1)
        out = np.where(best_r >= 0, self.map.ids[np.maximum(best_r, 0)], -1)
        return best_s, out


def _top_k(sims: np.ndarray, members: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best columns of each row of ``sims`` (unordered), padded with -inf / -1."""
    q, m = sims.shape
    if m > k:
        cols = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        return np.take_along_axis(sims, cols, axis=1), members[cols]
    scores = np.full((q, k), -np.inf, dtype=np.float32)
    rows = np.full((q, k), -1, dtype=np.int64)
    scores[:, :m] = sims
    rows[:, :m] = members[None, :]
    return scores, rows


def default_neighbours(vectors: np.ndarray, ids: np.ndarray | None = None) -> NeighbourProvider:
    """Exact search up to :data:`FLAT_MAX` vectors, :class:`IvfNeighbours` above."""
    if vectors.shape[0] <= FLAT_MAX:
        return FlatNeighbours(vectors, ids)
    return IvfNeighbours(vectors, ids)
