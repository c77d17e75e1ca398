"""k-NN over a whole :class:`search.index.vector_index.VectorIndex`: every stored vector's
nearest others, in batches (O(batch * (k + D)) memory per batch)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from search.index.kinds import as_ids
from search.index.tune import PAD_SCORE, check_vectors, knn_pairs

if TYPE_CHECKING:
    from search.index.vector_index import VectorIndex


@dataclass(frozen=True)
class KnnGraph:
    """For every stored vector (``ids[i]``) its k nearest others, best first (-1 = none)."""

    ids: np.ndarray
    neighbours: np.ndarray
    scores: np.ndarray


def iter_knn(
    index: VectorIndex,
    k: int,
    *,
    batch_size: int = 2048,
    ids: np.ndarray | None = None,
    vectors: np.ndarray | None = None,
) -> Iterator[tuple[np.ndarray, ...]]:
    """Yield ``(ids[B], neighbour_ids[B, k], scores[B, k])`` for every stored vector.

    The vector itself is left out of its own list. Query vectors come from the index
    (exact for flat/hnsw, 8-bit decoded for ivf-sq8) unless ``ids``/``vectors`` are given.
    Raises IndexCacheError if the index changes between batches.
    """
    if vectors is None:
        ids = index.ids()
    else:
        ids = as_ids(ids)
        check_vectors(ids, vectors, index.dimension)
    version = index.version
    for start in range(0, len(ids), batch_size):
        own = ids[start : start + batch_size]
        given = None if vectors is None else vectors[start : start + batch_size]
        scores, nbr = index.search_stored(own, k + 1, version=version, vectors=given)
        drop = nbr == own[:, None]
        drop[~drop.any(axis=1), -1] = True
        yield own, nbr[~drop].reshape(len(own), k), scores[~drop].reshape(len(own), k)


def knn_graph(
    index: VectorIndex,
    k: int,
    *,
    batch_size: int = 2048,
    ids: np.ndarray | None = None,
    vectors: np.ndarray | None = None,
) -> KnnGraph:
    """All of :func:`iter_knn` in three arrays: O(n * k) memory."""
    parts = list(iter_knn(index, k, batch_size=batch_size, ids=ids, vectors=vectors))
    if not parts:
        return KnnGraph(
            np.zeros(0, np.int64), np.zeros((0, k), np.int64), np.zeros((0, k), np.float32)
        )
    return KnnGraph(*(np.concatenate([p[i] for p in parts]) for i in range(3)))


def stored_neighbours(
    index: VectorIndex, ids: Iterable[int] | np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """A dedup neighbours provider: the k nearest (itself included) of each stored id,
    ``(scores float32[B, k], ids int64[B, k])``; an id not in the index gets a -1 row."""
    ids = as_ids(ids)
    scores = np.full((len(ids), k), PAD_SCORE, np.float32)
    found = np.full((len(ids), k), -1, np.int64)
    known = index.contains(ids)
    if known.any():
        scores[known], found[known] = index.search_stored(ids[known], k)
    return scores, found


def range_neighbours(
    index: VectorIndex, min_score: float, k: int = 32, batch_size: int = 2048
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``(a, b, score)`` with a < b and cosine >= min_score among each one's k best."""
    return knn_pairs(iter_knn(index, k, batch_size=batch_size), min_score)
