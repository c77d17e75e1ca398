"""Outliers: images far from everything else, by two measures of the library's own space,
each a robust z (median and MAD over the library), so that a score means the same in a
library of cats and in a library of documents:

- *alone*: the distance to the k-th nearest image (k = 25: a handful of look-alikes of one
  odd kind - five scans of documents - does not hide them);
- *unlike the library*: the Mahalanobis distance from the library's mean in its 16 leading
  principal axes (images that vary where the collection's photos do not).

The score is the larger of the two; the reason names it. A library of fewer than
``MIN_IMAGES`` has no "typical image" to measure against: its scores are 0 and its reasons
say so (an 11-image library read "-101.8 sd": the median and MAD of a handful of values, a
few of them near-duplicates, made the spread ~0 and any difference a hundred "sd"). The
principal axes are at most a quarter of the images: with as many axes as images every image
lies at the same Mahalanobis distance, so the spread was 0 by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from search.explore.graph import Graph

DEFAULT_K = 25
AXES = 16
MAD_SCALE = 1.4826  # MAD of a normal distribution -> its standard deviation
VARIANCE_FLOOR = 1e-3
MIN_IMAGES = 20  # fewer: no score in sd (a median and MAD of a handful of values mean nothing)
IMAGES_PER_AXIS = 4


@dataclass(frozen=True)
class OutlierScores:
    """Per row: the score, both robust z, the k-th and nearest neighbour distances."""

    score: np.ndarray
    alone: np.ndarray
    unlike: np.ndarray
    kth: np.ndarray
    nearest_distance: np.ndarray
    median: float
    k: int

    @property
    def scored(self) -> bool:
        """Whether the library is large enough for scores in sd (else they are all 0)."""
        return len(self.score) >= MIN_IMAGES


def robust_z(values: np.ndarray, floor: float = 1e-6) -> np.ndarray:
    """(value - median) / (1.4826 MAD); ``floor`` keeps a flat library from dividing by ~0."""
    if not values.size:
        return values.astype(np.float64)
    median = float(np.median(values))
    mad = float(np.median(np.abs(values - median))) * MAD_SCALE
    return (values - median) / max(mad, floor)


def mahalanobis(x: np.ndarray, axes: int = AXES) -> np.ndarray:
    """Distance of each row from the mean in the ``axes`` leading principal axes, each axis
    in units of its standard deviation (covariance summed in chunks: O(d^2) memory)."""
    n, dim = x.shape
    if n < 3:
        return np.zeros(n)
    mean = np.zeros(dim, np.float64)
    for start in range(0, n, 16_384):
        mean += x[start : start + 16_384].sum(axis=0, dtype=np.float64)
    mean = (mean / n).astype(np.float32)
    cov = np.zeros((dim, dim), np.float64)
    for start in range(0, n, 16_384):
        block = x[start : start + 16_384] - mean
        cov += block.T @ block
    values, vectors = np.linalg.eigh(cov / n)
    m = min(axes, dim, max(1, n // IMAGES_PER_AXIS))
    top = vectors[:, ::-1][:, :m].astype(np.float32)
    var = values[::-1][:m] + VARIANCE_FLOOR
    out = np.empty(n)
    for start in range(0, n, 16_384):
        z = (x[start : start + 16_384] - mean) @ top
        out[start : start + 16_384] = np.sqrt((z**2 / var).sum(axis=1))
    return out


def outlier_scores(graph: Graph, x: np.ndarray, k: int = DEFAULT_K) -> OutlierScores:
    """Both measures and the score of every row of ``x`` (rows of ``graph``)."""
    n = len(graph.neighbours)
    k = max(1, min(int(k), graph.distances.shape[1]))
    kth = graph.distances[:, k - 1].astype(np.float64) if n else np.zeros(0)
    kth = np.where(np.isfinite(kth), kth, 2.0)
    if n < MIN_IMAGES:  # too few for a spread: no sd at all (the order: farthest k-th first)
        alone = unlike = np.zeros(n)
    else:
        alone = robust_z(kth, floor=0.01)
        unlike = robust_z(mahalanobis(x), floor=0.01)
    return OutlierScores(
        score=np.maximum(alone, unlike),
        alone=alone,
        unlike=unlike,
        kth=kth,
        nearest_distance=graph.distances[:, 0] if n else np.zeros(0),
        median=float(np.median(kth)) if n else 0.0,
        k=k,
    )


def similarity(distance: float) -> float:
    """Cosine similarity of a chordal distance."""
    return 1.0 - float(distance) ** 2 / 2.0


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 21st ("1th", "2th", "22th" were printed)."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def sd_text(z: float) -> str:
    """A robust z as words: "2.3 sd" above a typical image, "typical" at or below it (a
    negative reading, "-0.7 sd", read as nonsense)."""
    return f"{z:.1f} sd" if round(float(z), 1) > 0 else "typical or less"


def reason(scores: OutlierScores, row: int) -> str:
    """One line saying why a row is an outlier."""
    if not np.isfinite(scores.nearest_distance[row]):  # it said "the nearest -inf"
        return "the only image of the library: there is nothing to compare it with"
    kth, median = similarity(scores.kth[row]), similarity(scores.median)
    near = similarity(scores.nearest_distance[row])
    alone = (
        f"its {ordinal(scores.k)} nearest image has similarity {kth:.2f} (library median "
        f"{median:.2f}; the nearest {near:.2f})"
    )
    if not scores.scored:
        n = len(scores.score)
        return f"{alone}; too few images ({n}) for an outlier score: it needs {MIN_IMAGES} or more"
    alone += f": {sd_text(scores.alone[row])}"
    unlike = f"unlike the library's main directions: {sd_text(scores.unlike[row])}"
    if scores.alone[row] >= scores.unlike[row]:
        return f"far from other images: {alone}; {unlike}"
    return f"{unlike}; {alone}"
