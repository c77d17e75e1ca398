"""A precision-recall plot of an :class:`~search.evaluation.scoring.Evaluation` (PNG).

matplotlib is imported only when a plot is drawn.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from search.evaluation.scoring import TARGET_PRECISION, Evaluation


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
