"""Neighbour providers for :mod:`search.dedup.groups`: who is near whom, in O(n*k) memory.

A provider is any callable ``provider(ids, k) -> (scores, ids)``: for a batch of image ids
(int64 ``[B]``) it returns the ``k`` nearest vectors of each by inner product (cosine on unit
vectors), as float32 ``[B, k']`` scores and int64 ``[B, k']`` image ids, best first, ``-1`` where
there is no result (``k' <= k`` is allowed). The query itself may appear among its results. An id
the provider does not know gets a row of ``-1``. A provider may set ``batch_size`` (the batch it
prefers) and ``name``.

Two providers over an in-memory matrix are given here, both from faiss:

- :class:`FlatNeighbours` -- exact: ``faiss.IndexFlatIP``, queried in chunks. Cost ``n^2 d``.
- :class:`IvfNeighbours` -- approximate, for large ``n``: a spherical k-means coarse quantizer
  (faiss, in a 128-d PCA projection) puts every vector in its nearest cell; a query is compared
  with every vector of its ``nprobe`` nearest cells (IVF semantics). The scan runs cell by
  cell as one BLAS product per cell (queries probing the cell x the cell's vectors) instead of
  faiss's per-query scan, which is several times faster on a CPU. Cost about
  ``n * nprobe * (n / nlist) * d`` for the scan plus ``n * nlist * 128`` for the assignment.

:func:`default_neighbours` picks flat up to :data:`FLAT_MAX` vectors, IVF above.
"""

from __future__ import annotations

from collections.abc import Callable

import faiss
import numpy as np

from search.dedup.errors import DedupError
from search.index import spherical_kmeans

NeighbourProvider = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]

FLAT_MAX = 5_000
"""Largest ``n`` searched exactly by :func:`default_neighbours`; above it, IVF."""
DEFAULT_NPROBE = 4
_CHUNK = 8192


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

    Cells are found in a ``coarse_dim``-d PCA projection (cheap to train and to assign); the
    scan compares full vectors. ``nlist`` defaults to the value minimising the modelled cost
    (k-means + assignment + scan); k-means uses 40 points per cell, ``niter`` iterations and a
    fixed ``seed``: the same input gives the same result. Memory: the caller's matrix (not
    copied; float16 is fine), the centroids and an ``n x nprobe`` int32 table of cells.
    """

    name = "ivf"
    # One call for everything: each cell's vectors are then gathered once, and every BLAS
    # product is as large as it gets. Memory stays O(n * k) (results + the probe table).
    batch_size = 1 << 22

    def __init__(
        self,
        vectors: np.ndarray,
        ids: np.ndarray | None = None,
        *,
        nlist: int | None = None,
        nprobe: int = DEFAULT_NPROBE,
        coarse_dim: int | None = 128,
        seed: int = 1234,
        niter: int = 5,
    ) -> None:
        self.vectors, ids = _check_matrix(vectors, ids)
        self.map = IdRows(ids)
        n, dim = vectors.shape
        if n == 0:
            raise DedupError("IvfNeighbours needs at least one vector")
        cdim = dim if not coarse_dim or coarse_dim >= dim else int(coarse_dim)
        self.nprobe = max(1, int(nprobe))
        self.nlist = max(1, min(int(nlist or _best_nlist(n, dim, cdim, self.nprobe)), n))
        self.nprobe = min(self.nprobe, self.nlist)
        rng = np.random.default_rng(seed)
        sample = _f32(vectors[np.sort(rng.choice(n, min(n, 40 * self.nlist), replace=False))])
        self.pca = None
        if cdim < dim:
            self.pca = faiss.PCAMatrix(dim, cdim)
            self.pca.train(sample[:16384])  # plenty for a 1024 x 1024 covariance
        self.quantizer = faiss.IndexFlatIP(cdim)
        if self.nlist > 1:
            # the sample is 40 points per cell: the project's one spherical k-means
            self.quantizer.add(spherical_kmeans(self._coarse(sample), self.nlist, niter, seed))
        else:
            self.quantizer.add(self._coarse(sample[:1]))
        self.probes = np.empty((n, self.nprobe), dtype=np.int32)
        for start in range(0, n, _CHUNK):
            block = self._coarse(_f32(vectors[start : start + _CHUNK]))
            self.probes[start : start + _CHUNK] = self.quantizer.search(block, self.nprobe)[1]
        primary = self.probes[:, 0]
        self.cell_rows = np.argsort(primary, kind="stable")
        counts = np.bincount(primary, minlength=self.nlist)
        self.cell_start = np.concatenate(([0], np.cumsum(counts)))

    def _coarse(self, block: np.ndarray) -> np.ndarray:
        """Unit vectors in the coarse (PCA) space."""
        if self.pca is not None:
            block = self.pca.apply(block)
        norms = np.linalg.norm(block, axis=1, keepdims=True)
        return np.ascontiguousarray(block / np.maximum(norms, 1e-12), dtype=np.float32)

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


def _best_nlist(n: int, dim: int, cdim: int, nprobe: int) -> int:
    """Cell count minimising k-means (40 points/cell, 5 iterations) + assignment + scan flops."""
    top = max(1, n // 40)
    grid = np.unique(np.geomspace(1, top, num=200).round().astype(np.int64))
    cost = 400.0 * grid**2 * cdim + 2.0 * n * grid * cdim + 2.0 * n * nprobe * (n / grid) * dim
    return int(grid[np.argmin(cost)])


def default_neighbours(vectors: np.ndarray, ids: np.ndarray | None = None) -> NeighbourProvider:
    """Exact search up to :data:`FLAT_MAX` vectors, :class:`IvfNeighbours` above."""
    if vectors.shape[0] <= FLAT_MAX:
        return FlatNeighbours(vectors, ids)
    return IvfNeighbours(vectors, ids)


class MultiRowNeighbours:
    """Image-level neighbours when an image has one or two rows (its whole image and the
    photo found inside its frame, :mod:`search.library.descriptor`): the best of each image's
    rows against every row, mapped back to image ids (an image may appear twice in a result
    row; :func:`search.dedup.groups.find_duplicates` keeps the best score of each pair)."""

    name = "descriptor"

    def __init__(
        self, vectors: np.ndarray, ids: np.ndarray, extra: np.ndarray, extra_ids: np.ndarray
    ) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        extra_ids = np.asarray(extra_ids, dtype=np.int64)
        rows = np.concatenate([vectors, extra.astype(vectors.dtype)]) if len(extra) else vectors
        self.owner = np.concatenate([ids, extra_ids])
        self.inner = default_neighbours(rows, np.arange(len(rows), dtype=np.int64))
        self.batch_size = self.inner.batch_size
        self.first = IdRows(ids)
        self.second = IdRows(extra_ids)
        self.offset = len(ids)

    def __call__(self, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        ids = np.asarray(ids, dtype=np.int64).ravel()
        scores, rows = self.inner(self.first.rows(ids), k)
        second = self.second.rows(ids)
        has = np.flatnonzero(second >= 0)
        if has.size:
            s2 = np.full(scores.shape, -np.inf, np.float32)
            r2 = np.full(rows.shape, -1, np.int64)
            found_s, found_r = self.inner(second[has] + self.offset, k)
            s2[has, : found_s.shape[1]], r2[has, : found_r.shape[1]] = found_s, found_r
            scores, rows = np.concatenate([scores, s2], 1), np.concatenate([rows, r2], 1)
            order = np.argsort(-scores, axis=1, kind="stable")
            scores = np.take_along_axis(scores, order, 1)
            rows = np.take_along_axis(rows, order, 1)
        owners = np.where(rows >= 0, self.owner[np.maximum(rows, 0)], -1)
        return scores, owners
