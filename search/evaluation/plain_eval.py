"""Run a retrieval / copy-detection evaluation of embeddings against a :class:`GroundTruth`.

``evaluate(files, vectors, truth)`` returns the metrics that apply to the ground truth, under
these keys (definitions in :mod:`search.evaluation.metrics`):

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

:func:`run_evaluation` compares plain vectors by cosine with exact numpy (blockwise, never
``n x n``); the duplicate score is the cosine. The embedding source is injectable:
:func:`evaluate_folder` takes any ``embed(paths) -> float32[N, D]`` (rows that are not finite
or are zero mark files that could not be embedded; they count as never retrieved).
:func:`model_embedder` embeds with the ``models`` package directly. Other comparisons
(query views, whitening, label fusion: :mod:`search.evaluation.descriptor_eval`) hand their rankings
and pair scores to :func:`evaluate_scores` as :class:`Scores`.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from search.dedup import DEFAULT_DEDUP_THRESHOLD
from search.evaluation import metrics as m
from search.evaluation.errors import TruthError
from search.evaluation.truth import GroundTruth

Embedder = Callable[[Sequence[Path]], np.ndarray]

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


def _align(files: Sequence[str | Path], vectors: np.ndarray, truth: GroundTruth):
    """Map given files onto truth names; drop unknown files and unusable vectors."""
    x = np.asarray(vectors, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] != len(files):
        raise ValueError(f"need one vector per file: {len(files)} files, vectors {x.shape}")
    known = set(truth.files)
    root = truth.root.resolve()
    index: dict[str, int] = {}
    ignored = 0
    for row, f in enumerate(files):
        name = str(f).replace("\\", "/")
        if name not in known and Path(f).is_absolute():
            with contextlib.suppress(ValueError):  # outside the root: not a truth file
                name = Path(f).resolve().relative_to(root).as_posix()
        if name in known and name not in index:
            index[name] = row
        else:
            ignored += 1
    norms = np.linalg.norm(x, axis=1)
    usable = np.isfinite(x).all(axis=1) & (norms > 1e-12)
    names = [n for n in truth.files if n in index and usable[index[n]]]
    missing = [n for n in truth.files if n not in index or not usable[index[n]]]
    rows = [index[n] for n in names]
    unit = x[rows] / norms[rows, None] if rows else np.zeros((0, x.shape[1]), np.float32)
    return names, unit.astype(np.float32), missing, ignored


@dataclass
class Scores:
    """Everything the metrics need from a comparison of ``n`` files.

    ``rank_scores``/``rank_idx`` [n, k]: each file's ranking of the others, best first (the
    file itself excluded; -1 pads a short list); ``pair_i``/``pair_j``/``pair_s``: candidate
    unordered pairs (``i < j``) with their duplicate score (complete pairs = exact pair
    metrics); ``pair_score(a, b)``: the duplicate score of any two files (symmetric).
    """

    rank_scores: np.ndarray
    rank_idx: np.ndarray
    pair_i: np.ndarray
    pair_j: np.ndarray
    pair_s: np.ndarray
    pair_score: Callable[[int, int], float]


def vector_scores(x: np.ndarray, depth: int) -> Scores:
    """Plain cosine scores of unit rows ``x``: top-``depth`` rankings and their pairs."""
    scores, idx = m.knn(x, depth)
    i, j, s = m.candidate_pairs(scores, idx)
    return Scores(scores, idx, i, j, s, lambda a, b: float(x[a] @ x[b]))


def ranking_depth(n: int, rank_depth: int | None, truth: GroundTruth) -> int:
    """How many neighbours a ranking keeps: all of them up to EXACT_MAX_FILES files."""
    if rank_depth is None:
        rank_depth = n - 1 if n <= EXACT_MAX_FILES else TRUNCATED_DEPTH
    longest = max(len(g) for g in truth.groups)
    return min(n - 1, max(rank_depth, max(RECALL_KS) + longest))


def run_evaluation(
    files: Sequence[str | Path],
    vectors: np.ndarray,
    truth: GroundTruth,
    threshold: float | None = None,
    *,
    rank_depth: int | None = None,
) -> Evaluation:
    """Evaluate ``vectors`` (one row per file of ``files``) against ``truth``."""
    names, x, missing, ignored = _align(files, vectors, truth)
    n = len(names)
    if n < 2:
        raise TruthError(f"{truth.name}: fewer than 2 files could be evaluated")
    depth = ranking_depth(n, rank_depth, truth)
    return evaluate_scores(
        names, vector_scores(x, depth), truth, threshold, missing=missing, ignored=ignored
    )


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
    p, r = m.pair_precision_recall(s, labels, n_pos, threshold)
    ev.metrics["pair_precision"], ev.metrics["pair_recall"] = p, r
    ev.metrics["recall_at_p99"], ev.p99_threshold = m.recall_at_precision(
        s, labels, n_pos, TARGET_PRECISION
    )
    ev.threshold = threshold
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
    per: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    per_token: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    ev.n_queries = len(truth.copy_queries)
    for c in truth.copy_queries:
        q = position.get(c)
        o = position.get(truth.originals[c])
        rank, cos, top, top_score = None, float("nan"), None, float("nan")
        if q is not None:
            order = [t for t in idx[q] if t >= 0 and (group[t] != group[q] or t == o)]
            if order:
                top, top_score = names[order[0]], scored.pair_score(q, order[0])
            if o is not None:
                cos = scored.pair_score(q, o)
                rank = order.index(o) + 1 if o in order else None
        for k in RECALL_KS:
            found[k].append(rank is not None and rank <= k)
        detected = ev.p99_threshold is not None and cos >= ev.p99_threshold
        edit = truth.edit_of(c) or "?"
        key = edit if "+" not in edit else f"combo of {edit.count('+') + 1}"
        per[key].append((float(rank == 1), cos, float(detected)))
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
    ev.per_edit = {key: _summary(v) for key, v in sorted(per.items())}
    ev.per_token = {key: _summary(v + per.get(key, [])) for key, v in sorted(per_token.items())}
    ev.misses.sort(key=lambda d: (d["rank"] is not None, -(d["rank"] or 0), d["cosine"] or 0.0))


def _summary(rows: list[tuple[float, float, float]]) -> dict[str, Any]:
    """n, recall@1, mean cosine to the original, share accepted at the P99 threshold."""
    return {
        "n": len(rows),
        "recall@1": float(np.mean([a for a, _, _ in rows])),
        "mean_cosine": _nanmean([b for _, b, _ in rows]),
        "detected_at_p99": float(np.mean([c for _, _, c in rows])),
    }


def _round(value: float) -> float | None:
    return None if not np.isfinite(value) else round(value, 4)


def _nanmean(values: list[float]) -> float | None:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def evaluate(
    files: Sequence[str | Path],
    vectors: np.ndarray,
    truth: GroundTruth,
    threshold: float | None = None,
) -> dict[str, float]:
    """The metrics that apply to ``truth`` (keys in the module docstring)."""
    return run_evaluation(files, vectors, truth, threshold).metrics


def evaluate_folder(
    truth: GroundTruth,
    embed: Embedder,
    threshold: float | None = None,
    plot: Path | str | None = None,
) -> Evaluation:
    """Embed every file of ``truth`` with ``embed`` and evaluate; optionally save a PR plot."""
    truth.check_files()
    paths = truth.paths()
    vectors = np.asarray(embed(paths), dtype=np.float32)
    ev = run_evaluation(list(truth.files), vectors, truth, threshold)
    if plot is not None:
        plot_evaluation(ev, plot)
    return ev


def model_embedder(
    model: str | None = None,
    search_path: Sequence[Path] = (),
    threads: int = 0,
    batch_size: int = 32,
    decode_workers: int = 2,
) -> Embedder:
    """An :data:`Embedder` over the ``models`` package (plain embedding, no library).

    Files that fail to decode get a NaN row (reported as missing by the evaluation); the
    errors are kept on ``embed.errors`` (list of :class:`models.ImageError`).
    """
    from models import open_model
    from models.analyzer import ImageAnalyzer

    onnx = open_model(model, list(search_path), threads=threads)

    def embed(paths: Sequence[Path]) -> np.ndarray:
        out = np.full((len(paths), onnx.dimension), np.nan, dtype=np.float32)
        embed.errors = []  # type: ignore[attr-defined]
        with ImageAnalyzer(onnx, decode_workers, top_labels=0, batch_size=batch_size) as an:
            for row, result in enumerate(an.analyze_iter(paths)):
                if isinstance(result, Exception):
                    embed.errors.append(result)  # type: ignore[attr-defined]
                else:
                    out[row] = result.embedding
        return out

    embed.model_name = onnx.name  # type: ignore[attr-defined]
    embed.errors = []  # type: ignore[attr-defined]
    return embed


def plot_evaluation(ev: Evaluation, path: Path | str) -> Path:
    """Save a precision-recall plot (and, for copy sets, the cosine histograms) as PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    pairs = ev.kind == "clusters"
    fig = Figure(figsize=(11 if pairs else 6, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 2 if pairs else 1, 1)
    ax.plot(ev.curve["recall"], ev.curve["precision"], lw=1.8)
    what = (
        f"pairs, AP {ev.metrics['pair_ap']:.3f}"
        if pairs
        else f"mean PR over queries, mAP {ev.metrics['map']:.3f}"
    )
    ax.set(
        xlabel="recall",
        ylabel="precision",
        xlim=(0, 1.01),
        ylim=(0, 1.02),
        title=f"{ev.truth_name}: {what}",
    )
    ax.grid(alpha=0.3)
    if pairs:
        ax.axhline(TARGET_PRECISION, color="grey", ls=":", lw=1)
        r99 = ev.metrics["recall_at_p99"]
        if ev.p99_threshold is not None:
            ax.plot(
                [r99],
                [TARGET_PRECISION],
                "o",
                color="C3",
                label=f"recall {r99:.3f} at P99 (cos >= {ev.p99_threshold:.3f})",
            )
        ax.plot(
            [ev.metrics["pair_recall"]],
            [ev.metrics["pair_precision"]],
            "s",
            color="C2",
            label=f"threshold {ev.threshold:.2f}",
        )
        ax.legend(loc="lower left", fontsize=8)
        hx = fig.add_subplot(1, 2, 2)
        bins = np.linspace(-0.2, 1.0, 61)
        hx.hist(ev.curve["neg"], bins=bins, alpha=0.6, density=True, label="different photos")
        hx.hist(ev.curve["pos"], bins=bins, alpha=0.6, density=True, label="duplicate pairs")
        if ev.p99_threshold is not None:
            hx.axvline(ev.p99_threshold, color="C3", ls="--", lw=1, label="P99 threshold")
        hx.set(xlabel="cosine similarity", ylabel="density", title="pair scores (candidates)")
        hx.legend(fontsize=8)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out
