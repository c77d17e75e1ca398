"""FAISS back ends of :class:`search.index.vector_index.VectorIndex`: the base, flat and
IVF-SQ8 (HNSW: :mod:`search.index.hnsw`; the registry of kinds: :mod:`search.index.build`).

Every back end stores unit vectors and scores by inner product (= cosine) and speaks image ids:

* ``flat``    ``IndexIDMap2(IndexFlatIP)``: exact; ``remove_ids`` compacts the matrix.
* ``ivf-sq8`` ``IndexIVFScalarQuantizer`` (8 bit per dimension, 1 byte instead of 4) with the
  image ids stored in the inverted lists and a hash-table direct map, so ``remove_ids`` and
  ``reconstruct`` by id work without a rebuild. Search parameter: ``nprobe``.
* ``hnsw``    ``IndexHNSWFlat``. HNSW cannot delete, so the back end keeps its own
  position -> id table and a *live* bitmap: removing an id clears its bit, searches pass an
  ``IDSelectorBitmap`` so tombstoned vectors are never returned (they still route the graph
  walk), and once more than ``max_deleted_fraction`` of the positions are dead the graph is
  rebuilt from the live vectors (exact copies kept by ``IndexHNSWFlat``). Updating an id is
  remove + add (new position). Search parameter: ``efSearch``.

Search parameters travel per call in ``SearchParameters*`` objects, never by mutating the
index, so concurrent searches on one index are safe (FAISS CPU searches are read-only).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from search.index.faiss_lib import faiss
from search.index.tune import PAD_SCORE, nearest, normalized, spherical_kmeans


def as_ids(ids: object) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(ids, dtype=np.int64).reshape(-1))


def flat_view(flat: faiss.Index) -> np.ndarray:
    """Zero-copy ``[ntotal, d]`` view of an ``IndexFlat``'s vectors (valid until it mutates)."""
    flat = faiss.downcast_index(flat)
    n, d = flat.ntotal, flat.d
    if n == 0:
        return np.zeros((0, d), dtype=np.float32)
    return faiss.rev_swig_ptr(flat.get_xb(), n * d).reshape(n, d)


def pad_rows(scores: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = np.ascontiguousarray(scores, dtype=np.float32)
    scores[ids < 0] = PAD_SCORE
    return scores, ids


def short_rows(ids: np.ndarray, ntotal: int) -> np.ndarray:
    """Rows holding fewer valid results than ``min(k, ntotal)``."""
    want = min(ids.shape[1], ntotal)
    return np.flatnonzero((ids >= 0).sum(axis=1) < want)


def probed_search(
    search: Callable[[np.ndarray, int, int], tuple[np.ndarray, np.ndarray]],
    q: np.ndarray,
    k: int,
    nprobe: int,
    nlist: int,
    ntotal: int,
) -> tuple[np.ndarray, np.ndarray]:
    """An IVF search with exactly ``min(k, ntotal)`` results: ``search(q, k, nprobe)`` again
    with 4x the probe for the rows a pass left short, up to every list."""
    scores, ids = search(q, k, nprobe)
    short = short_rows(ids, ntotal)
    while len(short) and nprobe < nlist:
        nprobe = min(nprobe * 4, nlist)
        scores[short], ids[short] = search(q[short], k, nprobe)
        short = short[short_rows(ids[short], ntotal)]
    return pad_rows(scores, ids)


class Backend:
    """Common surface; ``param`` is the kind's search knob (nprobe / efSearch), or 0."""

    kind = ""
    param_name = ""
    index: faiss.Index
    #: returned candidates per wanted result when tuned: > 1 for approximate scores that the
    #: engine re-scores exactly from the store (ivfpq-ondisk)
    candidate_factor = 1
    read_flags = 0  # FAISS IO flags to read the file's FAISS section with
    target_recall: float | None = None  # the kind's own recall target (else the config's)

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    @property
    def dimension(self) -> int:
        return int(self.index.d)

    def max_param(self) -> int:
        return 0

    def add(self, ids: np.ndarray, x: np.ndarray) -> None:
        self.index.add_with_ids(x, ids)

    def remove(self, ids: np.ndarray) -> int:
        return int(self.index.remove_ids(faiss.IDSelectorBatch(ids)))

    def search(self, q: np.ndarray, k: int, param: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        """Stored vectors of ``ids`` (all present); SQ8-decoded (approximate) for ivf-sq8."""
        if len(ids) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self.index.reconstruct_batch(ids)

    def sections(self) -> dict[str, np.ndarray]:
        """Extra arrays saved beside the FAISS bytes."""
        return {}

    def prepare_save(self, path: Any) -> None:
        """Before the index file at ``path`` is written (on-disk kinds write their lists)."""

    def lists_file(self) -> Path | None:
        """The file beside the index file that the saved index maps (on-disk kinds)."""
        return None

    def faiss_index(self) -> faiss.Index:
        """What goes into the file's FAISS section."""
        return self.index

    def drift(self) -> str | None:
        """Why a rebuild from the store would help now, beyond list training drift."""
        return None

    def stored_ids(self) -> np.ndarray:
        """Every id stored (live), unordered."""
        raise NotImplementedError

    def describe(self) -> dict[str, object]:
        return {}

    @classmethod
    def create(cls, x: np.ndarray, config: Any) -> Backend:
        """An empty back end for the vectors ``x`` (trained on them where the kind needs it)."""
        raise NotImplementedError

    @classmethod
    def from_file(cls, raw: faiss.Index, extra: dict[str, bytes], config: Any) -> Backend:
        """Wrap an index read from a file (``extra``: its saved side arrays)."""
        raise NotImplementedError


class FlatBackend(Backend):
    """Searches the inner ``IndexFlatIP`` and maps positions to ids with numpy: the IDMap's own
    label translation opens an OpenMP region per call, which cost ~8 ms CPU / ~30 ms wall per
    single query at 5 k vectors on the busy 2-core box (2.7 ms without it)."""

    kind = "flat"

    def __init__(self, dimension: int, index: faiss.Index | None = None) -> None:
        self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension)) if index is None else index
        self._flat = faiss.downcast_index(self.index.index)  # owned by self.index
        self._ids = faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def add(self, ids: np.ndarray, x: np.ndarray) -> None:
        self.index.add_with_ids(x, ids)
        self._ids = np.concatenate([self._ids, ids])

    def remove(self, ids: np.ndarray) -> int:
        removed = super().remove(ids)
        self._ids = faiss.vector_to_array(self.index.id_map).astype(np.int64)
        return removed

    def search(self, q: np.ndarray, k: int, param: int) -> tuple[np.ndarray, np.ndarray]:
        scores, pos = self._flat.search(q, k)
        ids = np.full(pos.shape, -1, np.int64)
        ids[pos >= 0] = self._ids[pos[pos >= 0]]
        return pad_rows(scores, ids)

    def stored_ids(self) -> np.ndarray:
        return self._ids.copy()

    def matrix(self) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, zero-copy exact vectors)`` in storage order."""
        return self._ids, flat_view(self._flat)

    @classmethod
    def create(cls, x: np.ndarray, config: Any) -> FlatBackend:
        return cls(x.shape[1])

    @classmethod
    def from_file(cls, raw: faiss.Index, extra: dict[str, bytes], config: Any) -> FlatBackend:
        return cls(raw.d, raw)


class IVFSQ8Backend(Backend):
    kind = "ivf-sq8"
    param_name = "nprobe"

    def __init__(self, index: faiss.Index) -> None:
        self.index = index  # keep this wrapper: it owns the C++ object

    @classmethod
    def create(cls, x: np.ndarray, config: Any) -> IVFSQ8Backend:
        nlist = config.ivf_nlist or cls.default_nlist(len(x))
        return cls.trained(
            x, nlist, nlist * config.ivf_train_per_list, config.ivf_niter, config.seed
        )

    @classmethod
    def from_file(cls, raw: faiss.Index, extra: dict[str, bytes], config: Any) -> IVFSQ8Backend:
        return cls(raw)

    @staticmethod
    def default_nlist(n: int) -> int:
        """~4*sqrt(n) lists, but >= 39 training points per centroid (FAISS's minimum)."""
        return max(1, min(round(4 * math.sqrt(max(n, 1))), n // 39))

    @classmethod
    def trained(
        cls, vectors: np.ndarray, nlist: int | None, train_size: int, niter: int, seed: int
    ) -> IVFSQ8Backend:
        """Spherical k-means lists + SQ8 ranges (on residuals) from a sample of ``vectors``."""
        n, d = vectors.shape
        if n == 0:
            raise ValueError("an ivf-sq8 index needs vectors to train on")
        nlist = min(nlist or cls.default_nlist(n), n)
        rows = np.random.default_rng(seed).choice(
            n, size=min(n, max(train_size, nlist)), replace=False
        )
        sample = normalized(vectors[np.sort(rows)])
        centroids = spherical_kmeans(sample, nlist, niter, seed)
        quantizer = faiss.IndexFlatIP(d)
        quantizer.add(centroids)
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, d, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
        sq_rows = sample[:65_536]
        assign = nearest(sq_rows, centroids)
        residuals = np.ascontiguousarray(sq_rows - centroids[assign])
        index.train_encoder(len(sq_rows), faiss.swig_ptr(residuals), faiss.swig_ptr(assign))
        index.is_trained = True
        index.set_direct_map_type(faiss.DirectMap.Hashtable)
        return cls(index)

    def add(self, ids: np.ndarray, x: np.ndarray) -> None:
        """Assign lists with numpy (see ``search.index.tune``), then encode via FAISS."""
        ids, x = as_ids(ids), np.ascontiguousarray(x, dtype=np.float32)
        assign = nearest(x, flat_view(self.index.quantizer))
        self.index.add_core(len(x), faiss.swig_ptr(x), faiss.swig_ptr(ids), faiss.swig_ptr(assign))

    def max_param(self) -> int:
        return int(self.index.nlist)

    def search(self, q: np.ndarray, k: int, param: int) -> tuple[np.ndarray, np.ndarray]:
        nlist = int(self.index.nlist)
        return probed_search(self._search, q, k, max(1, min(param or 1, nlist)), nlist, self.ntotal)

    def _search(self, q: np.ndarray, k: int, nprobe: int) -> tuple[np.ndarray, np.ndarray]:
        params = faiss.SearchParametersIVF()
        params.nprobe = nprobe
        return self.index.search(q, k, params=params)

    def stored_ids(self) -> np.ndarray:
        lists = self.index.invlists
        parts = [
            faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
            for i in range(self.index.nlist)
            if lists.list_size(i)
        ]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)

    def remove(self, ids: np.ndarray) -> int:
        ids = as_ids(ids)  # the hash-table direct map only accepts an IDSelectorArray
        return int(self.index.remove_ids(faiss.IDSelectorArray(len(ids), faiss.swig_ptr(ids))))

    def describe(self) -> dict[str, object]:
        return {"nlist": int(self.index.nlist)}
