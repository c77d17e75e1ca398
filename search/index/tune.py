"""Numeric helpers of the FAISS cache: normalising, the exact top-k, k-means, recall tuning.

The heavy matrix products run through numpy's BLAS: on the 2-core dev box the BLAS bundled
with the faiss-cpu wheel measured 5-10x slower for batched products (k-means on 20 k x 1024
to 512 lists: 24 s through ``IndexIVF.train``, ~2 s of numpy GEMM), so IVF training and list
assignment are done here and handed to FAISS (``train_encoder`` / ``add_core``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from search.index.errors import IndexInputError
from search.index.faiss_lib import faiss

if TYPE_CHECKING:
    from search.index.kinds import Backend

PAD_SCORE = np.float32(-np.inf)
PLATEAU_GAIN = 0.002  # recall bought by doubling a search parameter, below which it is a ceiling


def check_vectors(ids: np.ndarray, vectors: object, dimension: int | None) -> np.ndarray:
    """Shape, dtype, finite non-zero rows, unique non-negative ids - before any change."""
    x = np.asarray(vectors)
    if x.ndim != 2 or x.shape[0] != len(ids) or x.shape[1] == 0:
        raise IndexInputError(f"vectors must be [{len(ids)}, D], got shape {x.shape}")
    if dimension is not None and x.shape[1] != dimension:
        raise IndexInputError(f"vectors have dimension {x.shape[1]}, the index {dimension}")
    if not np.issubdtype(x.dtype, np.floating):
        raise IndexInputError(f"vectors must be floating point, got {x.dtype}")
    if np.any(ids < 0) or len(np.unique(ids)) != len(ids):
        raise IndexInputError("ids must be unique and non-negative")
    for start in range(0, len(x), 65_536):  # check everything before changing anything
        norms = np.linalg.norm(x[start : start + 65_536].astype(np.float32), axis=1)
        if not np.all(np.isfinite(norms)) or np.any(norms == 0):
            raise IndexInputError("vectors must be finite and non-zero")
    return x


def normalized(x: np.ndarray) -> np.ndarray:
    """A float32 C-contiguous, L2-normalised copy of ``x`` (rows); rejects zero/non-finite rows."""
    out = np.array(x, dtype=np.float32, order="C", copy=True)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    if out.size and (not np.all(np.isfinite(norms)) or np.any(norms == 0)):
        raise ValueError("vectors must be finite and non-zero")
    out /= np.maximum(norms, np.float32(1e-30))
    return out


def iter_normalized(vectors: np.ndarray, chunk: int = 65_536) -> Iterator[tuple[int, np.ndarray]]:
    """``(start, normalised float32 rows)`` chunks, so huge inputs are never copied at once."""
    for start in range(0, len(vectors), chunk):
        yield start, normalized(vectors[start : start + chunk])


def exact_topk(
    queries: np.ndarray,
    vectors: np.ndarray,
    k: int,
    chunk: int = 65_536,
    *,
    normalize: bool = True,
    exclude_self: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force top-``k`` rows of ``vectors`` for ``queries`` by inner product: the one
    exact top-k of the project (the index's recall truth, evaluation rankings, IVF re-checks).

    The products run through numpy's BLAS, ``chunk`` rows of ``vectors`` at a time (never
    ``n x n``); each block is merged into FAISS's own result heap (``ResultHeap``, ids implied
    by the block's offset). ``normalize`` L2-normalises each block first; ``exclude_self``
    (queries are the first rows of ``vectors``) leaves a row out of its own list. Returns
    ``(scores float32[Q, k], rows int64[Q, k])``, best first, ties by row ascending; missing
    entries are padded with ``-inf`` / ``-1``.
    """
    q = np.ascontiguousarray(queries, dtype=np.float32)
    nq = len(q)
    heap = faiss.ResultHeap(nq, int(k), keep_max=True)
    for start in range(0, len(vectors), chunk):
        block = vectors[start : start + chunk]
        block = normalized(block) if normalize else np.asarray(block, dtype=np.float32)
        scores = np.ascontiguousarray(q @ block.T, dtype=np.float32)
        if exclude_self:
            own = np.arange(start, min(start + len(block), nq))
            scores[own, own - start] = -np.inf
        heap.heaps.addn(scores.shape[1], faiss.swig_ptr(scores), start, 0, nq)
    heap.finalize()
    best_s, best_r = heap.D, heap.I
    best_s[best_r < 0] = PAD_SCORE
    order = np.lexsort((np.where(best_r < 0, np.iinfo(np.int64).max, best_r), -best_s), axis=1)
    return np.take_along_axis(best_s, order, 1), np.take_along_axis(best_r, order, 1)


def nearest(x: np.ndarray, centroids: np.ndarray, chunk: int = 16_384) -> np.ndarray:
    """Index of the highest-inner-product centroid for each row of ``x`` (normalised)."""
    out = np.empty(len(x), np.int64)
    for start in range(0, len(x), chunk):
        out[start : start + chunk] = np.argmax(x[start : start + chunk] @ centroids.T, axis=1)
    return out


def spherical_kmeans(
    x: np.ndarray, k: int, niter: int, seed: int, chunk: int = 16_384
) -> np.ndarray:
    """k unit centroids of unit rows ``x`` (Lloyd on the sphere, empty lists re-seeded)."""
    rng = np.random.default_rng(seed)
    centroids = x[rng.choice(len(x), k, replace=False)].copy()
    for _ in range(niter):
        sums = np.zeros_like(centroids)
        counts = np.zeros(k, np.int64)
        for start in range(0, len(x), chunk):
            block = x[start : start + chunk]
            assign = np.argmax(block @ centroids.T, axis=1)
            order = np.argsort(assign, kind="stable")
            lists, first = np.unique(assign[order], return_index=True)
            sums[lists] += np.add.reduceat(block[order], first, axis=0)
            counts += np.bincount(assign, minlength=k)
        empty = np.flatnonzero(counts == 0)
        sums[empty] = x[rng.choice(len(x), len(empty), replace=False)]
        centroids = sums / np.linalg.norm(sums, axis=1, keepdims=True)
    return centroids.astype(np.float32)


def sampled_recall(
    backend: Backend,
    param: int,
    ids: np.ndarray,
    vectors: np.ndarray,
    sample_rows: np.ndarray,
    truth: tuple[np.ndarray, np.ndarray],
    k: int,
) -> float:
    """Recall@k of ``backend`` against exact search for stored vectors used as queries.

    The query's own id is left out of both lists (the trivial self-match would flatter the
    figure), and a returned neighbour counts as a hit when its *exact* score reaches the exact
    k-th score, so exact ties (duplicate images) are not counted as misses.
    """
    queries = normalized(vectors[sample_rows])
    factor = backend.candidate_factor  # > 1: candidates re-scored exactly, as the engine does
    _, got = backend.search(queries, (k + 1) * factor, param)
    t_scores, t_rows = truth
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    hits = total = 0
    for i, row in enumerate(sample_rows):
        keep = (t_rows[i] >= 0) & (t_rows[i] != row)
        exact = t_scores[i][keep][:k]
        kth = exact[-1] if len(exact) == k else -np.inf
        mine = got[i][(got[i] >= 0) & (got[i] != ids[row])][: k * factor]
        rows = order[np.searchsorted(sorted_ids, mine)]
        true_scores = normalized(vectors[rows]) @ queries[i] if len(rows) else np.zeros(0)
        true_scores = np.sort(true_scores)[::-1][:k]  # the best k after exact re-scoring
        hits += min(int(np.sum(true_scores >= kth - 1e-5)), len(exact))
        total += len(exact)
    return 1.0 if total == 0 else hits / total


def tune(
    backend: Backend,
    ids: np.ndarray,
    vectors: np.ndarray,
    *,
    target: float,
    margin: float,
    sample: int,
    k: int,
    seed: int,
    start: int,
) -> tuple[int, float, list[tuple[int, float]], float]:
    """Tune the search parameter on one sample of stored vectors, verify it on another.

    Tuning: the smallest parameter >= ``start`` whose recall@k on the tuning sample reaches
    ``target + margin`` (double from ``start``, then bisect between the last miss and the
    first hit, to within ~1/8). A figure measured on the sample it was tuned on flatters (the
    search stops at the first parameter that happens to pass it), so the parameter is then
    checked on a disjoint held-out sample and raised in steps of 1.25x until that reaches
    the goal less ``margin / 2`` (and at least ``target``).

    A plateau ends the doubling: when the recall is past ``target`` and doubling the
    parameter bought less than :data:`PLATEAU_GAIN`, the ceiling is the back end's codes, not
    its probing (ivf-sq8 whose 8-bit scores reorder near-ties: 0.980 from nprobe 20 to every
    list on ``bench/http.py``'s 100 k library), so the goal becomes that recall less
    ``PLATEAU_GAIN`` instead of walking on to an exhaustive search that buys nothing.

    Returns ``(param, held-out recall, trace, tuning-sample recall)``; the trace lists every
    ``(param, recall)`` measured, tuning first. When even the largest parameter misses, the
    largest is returned with its recall, and the caller decides (``auto`` falls back to flat).
    """
    n = len(ids)
    size = min(sample, max(1, n // 2))
    order = np.random.default_rng(seed + 1).permutation(n)
    rows, held = np.sort(order[:size]), np.sort(order[size : 2 * size])
    truth = exact_topk(normalized(vectors[rows]), vectors, k + 1)
    trace: list[tuple[int, float]] = []

    def measure(param: int, sample_rows: np.ndarray, sample_truth: tuple[np.ndarray, ...]) -> float:
        recall = sampled_recall(backend, param, ids, vectors, sample_rows, sample_truth, k)
        trace.append((param, recall))
        return recall

    goal, floor, top = target + margin, max(0, start - 1), backend.max_param()  # never < start
    hi, previous = max(1, start), None
    while (recall := measure(hi, rows, truth)) < goal and hi < top:
        if previous is not None and recall >= target and recall - previous < PLATEAU_GAIN:
            goal = recall - PLATEAU_GAIN
            break
        previous, hi = recall, min(hi * 2, top)
    hits = [(p, r) for p, r in trace if r >= goal]
    best = min(hits) if hits else (hi, recall)
    if hits:
        lo, hi = max([p for p, r in trace if r < goal and p < best[0]], default=floor), best[0]
        while hi - lo > max(1, hi // 8):
            mid = (lo + hi) // 2
            if (recall := measure(mid, rows, truth)) >= goal:
                hi, best = mid, (mid, recall)
            else:
                lo = mid
    param, tuned = best
    if not len(held):
        return param, tuned, trace, tuned
    held_truth = exact_topk(normalized(vectors[held]), vectors, k + 1)
    held_goal = max(target, goal - margin / 2)
    while (checked := measure(param, held, held_truth)) < held_goal and param < top:
        param = min(top, max(param + 1, round(param * 1.25)))
    return param, checked, trace, tuned


def knn_pairs(
    batches: Iterable[tuple[np.ndarray, ...]], min_score: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique pairs ``(a, b, score)``, a < b, with score >= min_score from k-NN batches."""
    a_, b_, s_ = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0, np.float32)]
    for own, nbr, scores in batches:
        mask = (scores >= min_score) & (nbr >= 0)
        a = np.broadcast_to(own[:, None], nbr.shape)[mask]
        b, s = nbr[mask], scores[mask]
        a_.append(np.minimum(a, b))
        b_.append(np.maximum(a, b))
        s_.append(s)
    a, b, s = np.concatenate(a_), np.concatenate(b_), np.concatenate(s_)
    _, first = np.unique(np.stack([a, b], 1), axis=0, return_index=True)
    return a[first], b[first], s[first].astype(np.float32)
