"""The metrics of a ground truth for precomputed rankings and pair scores (:class:`Scores`).

:func:`evaluate_scores` returns an :class:`Evaluation` with the metrics that apply to the ground
truth, under these keys (definitions in :mod:`search.evaluation.metrics`):

* every kind: ``map`` (each query excluded from its own ranking), ``recall@1/5/10``;
  for ``groups``/``labels``: a relevant file in the top k; for ``clusters`` (copy detection):
  the query copy's *original* in the top k, the query's sibling copies being ignored (neither
  hits nor misses, like "junk" images in the Oxford protocol).
* ``groups`` (UKBench): ``ns_score`` over the queries of 4-photo groups.
* ``labels``: ``precision@10``.
* ``clusters``: ``pair_ap`` (AP of all unordered pairs ranked by their duplicate score),
  ``pair_precision`` and ``pair_recall`` at ``threshold`` (default: the dedup default
  threshold), ``recall_at_p99`` (recall of the one global threshold with precision >= 0.99;
  the threshold is in :attr:`Evaluation.p99_threshold`).

The rankings and pair scores come from plain vectors (:mod:`search.evaluation.plain_eval`) or
from a descriptor compared like the search engine compares
(:mod:`search.evaluation.descriptor_eval`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from search.dedup import DEFAULT_DEDUP_THRESHOLD
from search.evaluation import metrics as m
from search.evaluation.truth import GroundTruth

# Pair precision/recall are measured at the threshold `imgsearch dedup` uses by default.
DEFAULT_PAIR_THRESHOLD = DEFAULT_DEDUP_THRESHOLD
TARGET_PRECISION = 0.99
EXACT_MAX_FILES = 2048  # up to this many files every ranking is complete (exact metrics)
TRUNCATED_DEPTH = 200  # above it, rankings / pair lists keep this many neighbours per file
RECALL_KS = (1, 5, 10)
METRIC_KEYS = (
    "map",
    "recall@1",
    "recall@5",
    "recall@10",
    "ns_score",
    "precision@10",
    "pair_ap",
    "pair_precision",
    "pair_recall",
    "recall_at_p99",
    "recall@1_neutral",
    "pair_precision_neutral",
    "pair_recall_neutral",
    "recall_at_p99_neutral",
)


@dataclass
class Evaluation:
    """Metrics plus the details a person needs to see what failed."""

    truth_name: str
    kind: str
    metrics: dict[str, float]
    n_files: int
    n_queries: int
    missing: list[str] = field(default_factory=list)  # truth files without a usable vector
    ignored: int = 0  # vectors given for files the ground truth does not name
    rank_depth: int = 0
    threshold: float | None = None
    p99_threshold: float | None = None
    per_edit: dict[str, dict[str, float]] = field(default_factory=dict)  # single edits, combos
    per_token: dict[str, dict[str, float]] = field(default_factory=dict)  # any copy using it
    misses: list[dict[str, Any]] = field(default_factory=list)
    curve: dict[str, list[float]] = field(default_factory=dict)  # for the PR plot

    def details(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "truth": self.truth_name,
            "kind": self.kind,
            "files": self.n_files,
            "queries": self.n_queries,
            "missing": self.missing,
            "ignored": self.ignored,
            "rank_depth": self.rank_depth,
        }
        if self.kind == "clusters":
            d.update(
                threshold=self.threshold,
                p99_threshold=self.p99_threshold,
                per_edit=self.per_edit,
                per_token=self.per_token,
                misses=self.misses,
            )
        return d

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of ``imgsearch eval --json``: the metric keys, then ``details``."""
        return {**self.metrics, "details": self.details()}


@dataclass
class Scores:
    """Everything the metrics need from a comparison of ``n`` files.

    ``rank_scores``/``rank_idx`` [n, k]: each file's ranking of the others, best first (the
    file itself excluded; -1 pads a short list); ``pair_i``/``pair_j``/``pair_s``: candidate
    unordered pairs (``i < j``) with their duplicate score (complete pairs = exact pair
    metrics); ``pair_score(a, b)``: the duplicate score of any two files (symmetric);
    ``pair_flag``: the engine's duplicate decision of each pair (either way round), which
    pair precision / recall then measure instead of ``pair_s >= threshold``.
    """

    rank_scores: np.ndarray
    rank_idx: np.ndarray
    pair_i: np.ndarray
    pair_j: np.ndarray
    pair_s: np.ndarray
    pair_score: Callable[[int, int], float]
    pair_flag: np.ndarray | None = None


def ranking_depth(n: int, rank_depth: int | None, truth: GroundTruth) -> int:
    """How many neighbours a ranking keeps: all of them up to EXACT_MAX_FILES files."""
    if rank_depth is None:
        rank_depth = n - 1 if n <= EXACT_MAX_FILES else TRUNCATED_DEPTH
    longest = max(len(g) for g in truth.groups)
    return min(n - 1, max(rank_depth, max(RECALL_KS) + longest))


def evaluate_scores(
    names: Sequence[str],
    scored: Scores,
    truth: GroundTruth,
    threshold: float | None = None,
    *,
    missing: Sequence[str] = (),
    ignored: int = 0,
) -> Evaluation:
    """The metrics of ``truth`` for precomputed rankings and pair scores of ``names``."""
    names = list(names)
    n = len(names)
    idx = scored.rank_idx
    group = np.array([-1 if (g := truth.group_of(f)) is None else g for f in names])
    gidx = np.where(idx >= 0, group[np.maximum(idx, 0)], -2)  # -2: padding never matches
    ev = Evaluation(
        truth.name,
        truth.kind,
        {},
        n_files=n,
        n_queries=0,
        missing=list(missing),
        ignored=ignored,
        rank_depth=idx.shape[1],
    )

    # mAP over every query that has a relevant file (truncated rankings: a miss counts 0).
    aps, curves = [], []
    for q in range(n):
        n_rel = len(truth.relevant(names[q]))
        if group[q] < 0 or n_rel == 0:
            continue
        hits = gidx[q] == group[q]
        aps.append(m.average_precision(hits, n_rel))
        curves.append(_interpolated_pr(hits, n_rel))
    ev.metrics["map"] = float(np.mean(aps))
    ev.curve = {"recall": list(np.linspace(0, 1, 101)), "precision": list(np.mean(curves, 0))}

    if truth.kind == "clusters":
        _copy_detection(
            ev,
            truth,
            names,
            scored,
            group,
            DEFAULT_PAIR_THRESHOLD if threshold is None else threshold,
        )
    else:
        queries = [q for q in range(n) if group[q] >= 0 and len(truth.relevant(names[q]))]
        ev.n_queries = len(queries)
        hits = {q: gidx[q] == group[q] for q in queries}
        for k in RECALL_KS:
            ev.metrics[f"recall@{k}"] = float(np.mean([m.hit_at_k(hits[q], k) for q in queries]))
        if truth.kind == "groups":
            four = [q for q in queries if len(truth.groups[group[q]]) == 4]
            if four:
                ev.metrics["ns_score"] = float(np.mean([m.ns_count(hits[q]) for q in four]))
        else:
            ev.metrics["precision@10"] = float(
                np.mean([m.precision_at_k(hits[q], 10) for q in queries])
            )
    ev.metrics = {k: ev.metrics[k] for k in METRIC_KEYS if k in ev.metrics}
    return ev


def _interpolated_pr(hits: np.ndarray, n_rel: int) -> np.ndarray:
    """Interpolated precision at recall 0, 0.01, ..., 1 for one ranking."""
    tp = np.cumsum(hits)
    precision = tp / np.arange(1, len(hits) + 1)
    recall = tp / n_rel
    best = np.maximum.accumulate(precision[::-1])[::-1]  # max precision at recall >= r
    levels = np.linspace(0, 1, 101)
    at = np.searchsorted(recall, levels, side="left")
    return np.where(at < len(best), best[np.minimum(at, len(best) - 1)], 0.0)


def _copy_detection(
    ev: Evaluation,
    truth: GroundTruth,
    names: list[str],
    scored: Scores,
    group: np.ndarray,
    threshold: float,
) -> None:
    position = {name: i for i, name in enumerate(names)}
    # Pair metrics over the candidate pairs (exact when every pair is a candidate).
    i, j, s = scored.pair_i, scored.pair_j, scored.pair_s
    idx = scored.rank_idx
    labels = (group[i] >= 0) & (group[i] == group[j])
    n_pos = truth.n_duplicate_pairs()
    ev.metrics["pair_ap"] = m.pair_average_precision(s, labels, n_pos)
    # the decision: the engine's flags where given (as +-1 against 0), else the threshold
    flag = scored.pair_flag
    decided, at = (s, threshold) if flag is None else (np.where(flag, 1.0, -1.0), 0.0)
    p, r = m.pair_precision_recall(decided, labels, n_pos, at)
    ev.metrics["pair_precision"], ev.metrics["pair_recall"] = p, r
    ev.metrics["recall_at_p99"], ev.p99_threshold = m.recall_at_precision(
        s, labels, n_pos, TARGET_PRECISION
    )
    ev.threshold = threshold
    rel = np.array([truth.related.get(f, -1) for f in names])
    if truth.related:  # same-object neutral: pairs of one object's different photos dropped
        keep = ~((rel[i] >= 0) & (rel[i] == rel[j]) & ~labels)
        p, r = m.pair_precision_recall(decided[keep], labels[keep], n_pos, at)
        ev.metrics["pair_precision_neutral"], ev.metrics["pair_recall_neutral"] = p, r
        ev.metrics["recall_at_p99_neutral"], _ = m.recall_at_precision(
            s[keep], labels[keep], n_pos, TARGET_PRECISION
        )
    precision, recall, _ = m.precision_recall_curve(s, labels, n_pos)
    step = max(1, len(recall) // 2000)
    ev.curve = {
        "recall": recall[::step].tolist(),
        "precision": precision[::step].tolist(),
        "pos": s[labels].tolist(),
        "neg": s[~labels][:200_000].tolist(),
    }

    # Copy -> original retrieval; the query's sibling copies are ignored.
    found = {k: [] for k in RECALL_KS}
    neutral_hits: list[float] = []
    per: dict[str, list[tuple[float, float, float, float]]] = defaultdict(list)
    per_token: dict[str, list[tuple[float, float, float, float]]] = defaultdict(list)
    ev.n_queries = len(truth.copy_queries)
    for c in truth.copy_queries:
        q = position.get(c)
        o = position.get(truth.originals[c])
        rank, cos, top, top_score = None, float("nan"), None, float("nan")
        neutral = False  # the original first once the query's object's other photos are left out
        if q is not None:
            order = [t for t in idx[q] if t >= 0 and (group[t] != group[q] or t == o)]
            if order:
                top, top_score = names[order[0]], scored.pair_score(q, order[0])
            if o is not None:
                cos = scored.pair_score(q, o)
                rank = order.index(o) + 1 if o in order else None
                loose = [t for t in order if t == o or rel[t] < 0 or rel[t] != rel[q]]
                neutral = bool(loose) and loose[0] == o
                neutral_hits.append(float(neutral))
        for k in RECALL_KS:
            found[k].append(rank is not None and rank <= k)
        detected = ev.p99_threshold is not None and cos >= ev.p99_threshold
        edit = truth.edit_of(c) or "?"
        key = edit if "+" not in edit else f"combo of {edit.count('+') + 1}"
        per[key].append((float(rank == 1), cos, float(detected), float(neutral)))
        if "+" in edit:
            for token in edit.split("+"):
                per_token[token].append(per[key][-1])
        if rank != 1:
            ev.misses.append(
                {
                    "copy": c,
                    "original": truth.originals[c],
                    "rank": rank,
                    "cosine": _round(cos),
                    "top": top,
                    "top_score": _round(top_score),
                }
            )
    for k in RECALL_KS:
        ev.metrics[f"recall@{k}"] = float(np.mean(found[k])) if found[k] else 0.0
    if truth.related:
        ev.metrics["recall@1_neutral"] = float(np.mean(neutral_hits)) if neutral_hits else 0.0
    ev.per_edit = {key: _summary(v) for key, v in sorted(per.items())}
    ev.per_token = {key: _summary(v + per.get(key, [])) for key, v in sorted(per_token.items())}
    ev.misses.sort(key=lambda d: (d["rank"] is not None, -(d["rank"] or 0), d["cosine"] or 0.0))


def _summary(rows: list[tuple[float, float, float, float]]) -> dict[str, Any]:
    """n, recall@1 (strict and same-object neutral), mean cosine to the original, share
    accepted at the P99 threshold."""
    return {
        "n": len(rows),
        "recall@1": float(np.mean([r[0] for r in rows])),
        "recall@1_neutral": float(np.mean([r[3] for r in rows])),
        "mean_cosine": _nanmean([r[1] for r in rows]),
        "detected_at_p99": float(np.mean([r[2] for r in rows])),
    }


def _round(value: float) -> float | None:
    return None if not np.isfinite(value) else round(value, 4)


def _nanmean(values: list[float]) -> float | None:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else None
