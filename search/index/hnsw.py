"""The HNSW back end: ``IndexHNSWFlat`` with its own position -> id table and a live bitmap.

HNSW cannot delete: removing an id clears its bit, searches pass an ``IDSelectorBitmap`` so
tombstoned vectors are never returned (they still route the graph walk), and once more than
``max_deleted_fraction`` of the positions are dead the graph is rebuilt from the live vectors
(exact copies kept by ``IndexHNSWFlat``). Updating an id is remove + add (new position).
Search parameter: ``efSearch``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from search.index.faiss_lib import faiss
from search.index.kinds import Backend, as_ids, flat_view, pad_rows, short_rows
from search.index.tune import exact_topk


class HNSWBackend(Backend):
    kind = "hnsw"
    param_name = "efSearch"

    def __init__(
        self,
        index: faiss.Index,
        pos_ids: np.ndarray | None = None,
        live: np.ndarray | None = None,
        max_deleted_fraction: float = 0.2,
    ) -> None:
        self.index = index  # keep this wrapper: it owns the C++ object
        n = int(self.index.ntotal)
        self.pos_ids = as_ids(pos_ids) if pos_ids is not None else np.zeros(0, np.int64)
        self.live = np.ones(n, bool) if live is None else np.asarray(live, bool).copy()
        if len(self.pos_ids) != n or len(self.live) != n:
            raise ValueError("HNSW id table does not match the graph")
        self.max_deleted_fraction = max_deleted_fraction
        self._reindex()

    @classmethod
    def empty(cls, dimension: int, m: int, ef_construction: int, **kw: float) -> HNSWBackend:
        index = faiss.IndexHNSWFlat(dimension, m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        return cls(index, **kw)  # type: ignore[arg-type]

    def _reindex(self) -> None:
        """Refresh the sorted id -> position table and the packed live bitmap."""
        pos = np.flatnonzero(self.live)
        order = np.argsort(self.pos_ids[pos], kind="stable")
        self._sorted_ids, self._sorted_pos = self.pos_ids[pos][order], pos[order]
        self._dead = len(self.live) - len(pos)
        self._bitmap = np.packbits(self.live, bitorder="little") if self._dead else None

    @property
    def ntotal(self) -> int:
        return len(self._sorted_ids)

    def stored_ids(self) -> np.ndarray:
        return self.pos_ids[self.live]

    def positions(self, ids: np.ndarray) -> np.ndarray:
        at = np.searchsorted(self._sorted_ids, ids)
        at = np.minimum(at, max(len(self._sorted_ids) - 1, 0))
        found = self._sorted_ids[at] == ids if len(self._sorted_ids) else np.zeros(len(ids), bool)
        return self._sorted_pos[at[found]]

    def add(self, ids: np.ndarray, x: np.ndarray) -> None:
        self.index.add(x)
        self.pos_ids = np.concatenate([self.pos_ids, ids])
        self.live = np.concatenate([self.live, np.ones(len(ids), bool)])
        self._reindex()

    def remove(self, ids: np.ndarray) -> int:
        pos = self.positions(ids)
        self.live[pos] = False
        self._reindex()
        if self._dead > self.max_deleted_fraction * max(len(self.live), 1):
            self.compact()
        return len(pos)

    def compact(self) -> None:
        """Rebuild the graph from the live vectors (exact copies), dropping tombstones."""
        old = self.index
        pos = np.flatnonzero(self.live)
        fresh = faiss.IndexHNSWFlat(old.d, old.hnsw.nb_neighbors(1), faiss.METRIC_INNER_PRODUCT)
        fresh.hnsw.efConstruction = old.hnsw.efConstruction
        view = flat_view(old.storage)
        for start in range(0, len(pos), 65_536):
            fresh.add(np.ascontiguousarray(view[pos[start : start + 65_536]]))
        self.index, self.pos_ids = fresh, self.pos_ids[pos]
        self.live = np.ones(len(pos), bool)
        self._reindex()

    def max_param(self) -> int:
        return 4096

    def search(self, q: np.ndarray, k: int, param: int) -> tuple[np.ndarray, np.ndarray]:
        nq = len(q)
        if self.ntotal == 0:
            return pad_rows(np.zeros((nq, k), np.float32), np.full((nq, k), -1, np.int64))
        ef = max(param or 16, k)
        scores, pos = self._search(q, k, ef)
        short = short_rows(pos, self.ntotal)
        while len(short) and ef < self.max_param():
            ef = min(ef * 4, self.max_param())
            scores[short], pos[short] = self._search(q[short], k, ef)
            short = short[short_rows(pos[short], self.ntotal)]
        if len(short):  # a graph cut off by tombstones: answer those rows exactly
            live = np.flatnonzero(self.live)
            s, r = exact_topk(q[short], flat_view(self.index.storage)[live], k)
            scores[short], pos[short] = s, np.where(r >= 0, live[np.maximum(r, 0)], -1)
        ids = np.where(pos >= 0, self.pos_ids[np.maximum(pos, 0)], -1)
        return pad_rows(scores, ids)

    def _search(self, q: np.ndarray, k: int, ef: int) -> tuple[np.ndarray, np.ndarray]:
        params = faiss.SearchParametersHNSW()
        params.efSearch = ef
        bitmap = self._bitmap
        if bitmap is not None:
            sel = faiss.IDSelectorBitmap(len(self.live), faiss.swig_ptr(bitmap))
            params.sel = sel
        return self.index.search(q, k, params=params)

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(flat_view(self.index.storage)[self.positions(ids)])

    def sections(self) -> dict[str, np.ndarray]:
        return {"hnsw_pos_ids": self.pos_ids, "hnsw_live": self.live.astype(np.uint8)}

    def describe(self) -> dict[str, object]:
        return {
            "M": int(self.index.hnsw.nb_neighbors(1)),
            "efConstruction": int(self.index.hnsw.efConstruction),
            "tombstones": int(self._dead),
        }

    @classmethod
    def create(cls, x: np.ndarray, config: Any) -> HNSWBackend:
        return cls.empty(
            x.shape[1],
            config.hnsw_m,
            config.hnsw_ef_construction,
            max_deleted_fraction=config.hnsw_max_deleted_fraction,
        )

    @classmethod
    def from_file(cls, raw: faiss.Index, extra: dict[str, bytes], config: Any) -> HNSWBackend:
        return cls(
            raw,
            np.frombuffer(extra["hnsw_pos_ids"], np.int64),
            np.frombuffer(extra["hnsw_live"], np.uint8).astype(bool),
            config.hnsw_max_deleted_fraction,
        )
