"""Retrieval and duplicate-detection metrics: pure functions over rankings and scores.

Conventions used throughout (and by :mod:`search.evaluation.scoring`):

* A *ranking* for one query is a list of booleans ``hits`` in rank order, the query itself
  excluded: ``hits[r]`` is True when the item at rank ``r + 1`` is relevant.
* ``average_precision(hits, n_relevant)``: mean over the ``n_relevant`` relevant items of the
  precision at the rank where each was retrieved; a relevant item that never appears in the
  (possibly truncated) ranking contributes 0.
* ``recall@k`` (``hit_at_k``): 1 when at least one relevant item is in the top ``k``, else 0;
  averaged over queries this is the fraction of queries answered within ``k`` (the metric-
  learning "Recall@K"; for copy detection the only relevant item is the original).
* UKBench N-S score: the number of the query's group (4 photos, query included) among the top 4
  results of a search in which the query itself is in the database; 4.0 is perfect.
* Pair metrics rank *unordered pairs* by cosine. They are tie-aware: a threshold ``t`` accepts
  every pair with ``score >= t``, so a precision/recall point exists only between distinct scores
  (the same definition as scikit-learn's ``average_precision_score``).

:func:`knn` and :func:`candidate_pairs` produce rankings and pairs from unit vectors without an
``n x n`` matrix (blockwise top-k), so the pair metrics scale to large sets: with ``k = n - 1``
they are exact; with a smaller ``k`` a positive pair outside both endpoints' top-k lists counts
as never retrieved (the usual micro-AP protocol of copy-detection benchmarks).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from search.index import exact_topk

BoolSeq = Sequence[bool] | np.ndarray

# Rows per block in knn(): keeps the block's similarity matrix to ~32 M floats (128 MiB).
_BLOCK_ELEMENTS = 1 << 25


def average_precision(hits: BoolSeq, n_relevant: int) -> float:
    """AP of one ranked list (query excluded) against ``n_relevant`` relevant items."""
    if n_relevant <= 0:
        raise ValueError("average precision needs at least one relevant item")
    h = np.asarray(hits, dtype=bool)
    if h.sum() > n_relevant:
        raise ValueError(f"ranking has {int(h.sum())} hits but only {n_relevant} relevant items")
    ranks = np.flatnonzero(h) + 1  # 1-based ranks of the hits
    if ranks.size == 0:
        return 0.0
    precisions = np.arange(1, ranks.size + 1) / ranks
    return float(precisions.sum() / n_relevant)


def mean_average_precision(rankings: Sequence[BoolSeq], n_relevant: Sequence[int]) -> float:
    """Mean of :func:`average_precision` over queries."""
    if len(rankings) != len(n_relevant):
        raise ValueError("one relevant count per ranking is needed")
    if not rankings:
        raise ValueError("no queries")
    return float(
        np.mean([average_precision(h, r) for h, r in zip(rankings, n_relevant, strict=True)])
    )


def hit_at_k(hits: BoolSeq, k: int) -> float:
    """1.0 when a relevant item is within the top ``k`` (query excluded), else 0.0."""
    if k < 1:
        raise ValueError("k must be >= 1")
    return float(np.asarray(hits[:k], dtype=bool).any())


def precision_at_k(hits: BoolSeq, k: int) -> float:
    """Share of the top ``k`` that is relevant; a ranking shorter than ``k`` counts as misses."""
    if k < 1:
        raise ValueError("k must be >= 1")
    return float(np.asarray(hits[:k], dtype=bool).sum() / k)


def ns_count(hits_excluding_query: BoolSeq, top: int = 4) -> int:
    """UKBench N-S count for one query: group members in the top ``top``, the query included.

    The query is in the database and is its own best match (cosine 1), so it takes rank 1 and
    the remaining ``top - 1`` places come from the ranking without it.
    """
    if top < 1:
        raise ValueError("top must be >= 1")
    return 1 + int(np.asarray(hits_excluding_query[: top - 1], dtype=bool).sum())


def knn(vectors: np.ndarray, k: int, *, exclude_self: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` inner-product neighbours of every row, computed blockwise (never ``n x n``).

    Returns ``(scores, indices)``, both ``[n, k']`` with ``k' = min(k, n - 1)`` (or ``n``
    when ``exclude_self`` is False), sorted by score descending, ties by index ascending
    (:func:`search.index.exact_topk`, the vectors as given: not re-normalised).
    """
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"vectors must be 2-D, got shape {x.shape}")
    n = x.shape[0]
    k = max(0, min(k, n - 1 if exclude_self else n))
    if k == 0:
        return np.empty((n, 0), dtype=np.float32), np.empty((n, 0), dtype=np.int64)
    block = max(1, min(65_536, _BLOCK_ELEMENTS // max(n, 1)))
    return exact_topk(x, x, k, block, normalize=False, exclude_self=exclude_self)


def candidate_pairs(
    scores: np.ndarray, indices: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unordered pairs ``(i, j, score)`` with ``i < j`` from top-k lists, each pair once."""
    n, k = indices.shape
    left = np.repeat(np.arange(n, dtype=np.int64), k)
    right = indices.reshape(-1)
    s = scores.reshape(-1)
    valid = (right >= 0) & (right != left) & np.isfinite(s)
    left, right, s = left[valid], right[valid], s[valid]
    i, j = np.minimum(left, right), np.maximum(left, right)
    key = i * n + j
    _, first = np.unique(key, return_index=True)
    return i[first], j[first], s[first]


def precision_recall_curve(
    scores: np.ndarray, labels: np.ndarray, n_positive: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and threshold at every distinct score, highest threshold first.

    ``labels`` marks the positive pairs among ``scores``; ``n_positive`` is the total number of
    positives, including any that are missing from ``scores`` (never retrieved).
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    if s.shape != y.shape or s.ndim != 1:
        raise ValueError("scores and labels must be 1-D and the same length")
    if n_positive <= 0:
        raise ValueError("no positive pairs")
    if int(y.sum()) > n_positive:
        raise ValueError("more positive labels than n_positive")
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    tp = np.cumsum(y)
    fp = np.cumsum(~y)
    last_of_tie = np.r_[np.flatnonzero(np.diff(s) != 0), s.size - 1] if s.size else np.array([])
    last_of_tie = last_of_tie.astype(np.int64)
    tp, fp = tp[last_of_tie], fp[last_of_tie]
    precision = tp / np.maximum(tp + fp, 1)
    recall = tp / n_positive
    return precision, recall, s[last_of_tie]


def pair_average_precision(scores: np.ndarray, labels: np.ndarray, n_positive: int) -> float:
    """AP over pairs ranked by score: ``sum((R_t - R_{t-1}) * P_t)`` over distinct thresholds."""
    precision, recall, _ = precision_recall_curve(scores, labels, n_positive)
    if recall.size == 0:
        return 0.0
    steps = np.diff(np.r_[0.0, recall])
    return float((steps * precision).sum())


def pair_precision_recall(
    scores: np.ndarray, labels: np.ndarray, n_positive: int, threshold: float
) -> tuple[float, float]:
    """Precision and recall when every pair with ``score >= threshold`` is called a duplicate.

    With no pair accepted the precision is 1.0 (no false positives) and the recall 0.0.
    """
    if n_positive <= 0:
        raise ValueError("no positive pairs")
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    accepted = s >= threshold
    tp = int((accepted & y).sum())
    n_accepted = int(accepted.sum())
    precision = tp / n_accepted if n_accepted else 1.0
    return float(precision), float(tp / n_positive)


def recall_at_precision(
    scores: np.ndarray, labels: np.ndarray, n_positive: int, min_precision: float = 0.99
) -> tuple[float, float | None]:
    """Highest recall of one global threshold whose precision is ``>= min_precision``.

    Returns ``(recall, threshold)``; the threshold is the lowest score still accepted, and
    ``(0.0, None)`` when no threshold reaches the precision.
    """
    precision, recall, thresholds = precision_recall_curve(scores, labels, n_positive)
    ok = np.flatnonzero(precision >= min_precision)
    if ok.size == 0:
        return 0.0, None
    best = ok[np.argmax(recall[ok])]  # recall grows with the cut; ties keep the first (higher t)
    if recall[best] == 0.0:
        return 0.0, None
    return float(recall[best]), float(thresholds[best])
