"""Outliers: images far from everything else, scored by their distance to their k-th nearest
image, normalised by the library's own spread (robust z: median and MAD), so that a score
means the same in a library of cats and in a library of documents."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from search.explore.graph import Graph

DEFAULT_K = 10
MAD_SCALE = 1.4826  # MAD of a normal distribution -> its standard deviation


@dataclass(frozen=True)
class OutlierScores:
    """Per row: robust z of its k-th neighbour distance (``score``), that distance, the
    nearest neighbour's row and distance; and the library's median k-th distance."""

    score: np.ndarray
    kth: np.ndarray
    nearest: np.ndarray
    nearest_distance: np.ndarray
    median: float
    k: int


def outlier_scores(graph: Graph, k: int = DEFAULT_K) -> OutlierScores:
    """Robust z of each row's distance to its k-th nearest other row (k capped by the graph)."""
    n = len(graph.neighbours)
    k = max(1, min(int(k), graph.distances.shape[1]))
    kth = graph.distances[:, k - 1].astype(np.float64) if n else np.zeros(0)
    finite = kth[np.isfinite(kth)]
    median = float(np.median(finite)) if finite.size else 0.0
    mad = float(np.median(np.abs(finite - median))) * MAD_SCALE if finite.size else 0.0
    spread = max(mad, 0.01)  # a library of near copies: no division by ~0
    kth = np.where(np.isfinite(kth), kth, 2.0)
    return OutlierScores(
        score=(kth - median) / spread,
        kth=kth,
        nearest=graph.neighbours[:, 0] if n else np.zeros(0, np.int64),
        nearest_distance=graph.distances[:, 0] if n else np.zeros(0),
        median=median,
        k=k,
    )


def similarity(distance: float) -> float:
    """Cosine similarity of a chordal distance."""
    return 1.0 - float(distance) ** 2 / 2.0


def reason(scores: OutlierScores, row: int) -> str:
    """One line saying why a row is an outlier."""
    kth, median = similarity(scores.kth[row]), similarity(scores.median)
    near = similarity(scores.nearest_distance[row])
    return (
        f"{scores.score[row]:.1f} sd above the library's typical distance: its "
        f"{scores.k}th nearest image has similarity {kth:.2f} (library median {median:.2f}), "
        f"the nearest {near:.2f}"
    )
