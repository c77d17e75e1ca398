"""k-NN helpers of :class:`search.index.vector_index.VectorIndex` for deduplication."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from search.index.file_format import IndexCacheError, RWLock
from search.index.kinds import Backend, as_ids
from search.index.tune import PAD_SCORE, check_vectors, knn_pairs, normalized


@dataclass(frozen=True)
class KnnGraph:
    """For every stored vector (``ids[i]``) its k nearest others, best first (-1 = none)."""

    ids: np.ndarray
    neighbours: np.ndarray
    scores: np.ndarray


class KnnMixin:
    """Needs the index's lock, back end, search parameter and mutation counter."""

    _lock: RWLock
    _backend: Backend
    _param: int
    _version: int
    dimension: int

    def ids(self) -> np.ndarray:
        raise NotImplementedError

    def contains(self, ids: Iterable[int] | np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def iter_knn(
        self,
        k: int,
        *,
        batch_size: int = 2048,
        ids: np.ndarray | None = None,
        vectors: np.ndarray | None = None,
    ) -> Iterator[tuple[np.ndarray, ...]]:
        """Yield ``(ids[B], neighbour_ids[B, k], scores[B, k])`` for every stored vector.

        The vector itself is left out of its own list. Query vectors come from the index
        (exact for flat/hnsw, 8-bit decoded for ivf-sq8) unless ``ids``/``vectors`` are given.
        Memory per batch is O(batch * (k + D)). Raises IndexCacheError if the index changes
        between batches.
        """
        if vectors is None:
            ids = self.ids()
        else:
            ids = as_ids(ids)
            check_vectors(ids, vectors, self.dimension)
        version = self._version
        for start in range(0, len(ids), batch_size):
            own = ids[start : start + batch_size]
            with self._lock.read():
                if self._version != version:
                    raise IndexCacheError("the index changed while building the k-NN graph")
                q = (
                    self._backend.reconstruct(own)
                    if vectors is None
                    else vectors[start : start + batch_size]
                )
                scores, nbr = self._backend.search(normalized(q), k + 1, self._param)
            drop = nbr == own[:, None]
            drop[~drop.any(axis=1), -1] = True
            yield own, nbr[~drop].reshape(len(own), k), scores[~drop].reshape(len(own), k)

    def knn_graph(
        self,
        k: int,
        *,
        batch_size: int = 2048,
        ids: np.ndarray | None = None,
        vectors: np.ndarray | None = None,
    ) -> KnnGraph:
        """All of ``iter_knn`` in three arrays: O(n * k) memory."""
        parts = list(self.iter_knn(k, batch_size=batch_size, ids=ids, vectors=vectors))
        if not parts:
            return KnnGraph(
                np.zeros(0, np.int64), np.zeros((0, k), np.int64), np.zeros((0, k), np.float32)
            )
        return KnnGraph(*(np.concatenate([p[i] for p in parts]) for i in range(3)))

    def neighbours(self, ids: Iterable[int] | np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Provider for ``search.dedup.groups``: the k nearest (itself included) of each stored id,
        ``(scores float32[B, k], ids int64[B, k])``; an id not in the index gets a -1 row."""
        ids = as_ids(ids)
        scores = np.full((len(ids), k), PAD_SCORE, np.float32)
        found = np.full((len(ids), k), -1, np.int64)
        known = self.contains(ids)
        with self._lock.read():
            if known.any():
                q = normalized(self._backend.reconstruct(ids[known]))
                scores[known], found[known] = self._backend.search(q, k, self._param)
        return scores, found

    def range_neighbours(
        self, min_score: float, k: int = 32, batch_size: int = 2048
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pairs ``(a, b, score)`` with a < b and cosine >= min_score among each one's k best."""
        return knn_pairs(self.iter_knn(k, batch_size=batch_size), min_score)
