"""Run a retrieval / copy-detection evaluation of plain embeddings against a :class:`GroundTruth`.

``evaluate(files, vectors, truth)`` returns the metrics that apply to the ground truth (keys and
definitions: :mod:`search.evaluation.scoring`).

:func:`run_evaluation` compares plain vectors by cosine with exact numpy (blockwise, never
``n x n``); the duplicate score is the cosine. The embedding source is injectable:
:func:`evaluate_folder` takes any ``embed(paths) -> float32[N, D]`` (rows that are not finite
or are zero mark files that could not be embedded; they count as never retrieved).
:func:`model_embedder` embeds with the ``models`` package directly. Other comparisons
(query views, whitening, label fusion: :mod:`search.evaluation.descriptor_eval`) hand their
rankings and pair scores to :func:`search.evaluation.scoring.evaluate_scores` as ``Scores``.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from search.dedup import atomic_write
from search.evaluation import metrics as m
from search.evaluation.errors import TruthError
from search.evaluation.scoring import (
    TARGET_PRECISION,
    Evaluation,
    Scores,
    evaluate_scores,
    ranking_depth,
)
from search.evaluation.truth import GroundTruth

Embedder = Callable[[Sequence[Path]], np.ndarray]


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


def vector_scores(x: np.ndarray, depth: int) -> Scores:
    """Plain cosine scores of unit rows ``x``: top-``depth`` rankings and their pairs."""
    scores, idx = m.knn(x, depth)
    i, j, s = m.candidate_pairs(scores, idx)
    return Scores(scores, idx, i, j, s, lambda a, b: float(x[a] @ x[b]))


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


PLOT_FORMATS = ("png", "svg", "pdf")
"""File formats of the plot, by the file's suffix."""


def plot_evaluation(ev: Evaluation, path: Path | str) -> Path:
    """Save a precision-recall plot (and, for copy sets, the cosine histograms) in the format
    its suffix names (PLOT_FORMATS; PNG for any other)."""
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
        for key, label in (("neg", "different photos"), ("pos", "duplicate pairs")):
            scores = np.clip(np.asarray(ev.curve[key], dtype=float), bins[0], bins[-1])
            if len(scores):  # a density of no scores is 0/0 (numpy warned on stderr)
                hx.hist(scores, bins=bins, alpha=0.6, density=True, label=label)
        if ev.p99_threshold is not None:
            hx.axvline(ev.p99_threshold, color="C3", ls="--", lw=1, label="P99 threshold")
        hx.set(xlabel="cosine similarity", ylabel="density", title="pair scores (candidates)")
        hx.legend(fontsize=8)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower().lstrip(".")
    made = io.BytesIO()
    fig.savefig(made, format=suffix if suffix in PLOT_FORMATS else "png")
    atomic_write(out, made.getvalue())  # a full disk keeps the earlier plot
    return out
