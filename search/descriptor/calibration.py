"""Calibrated copy scores: the background of copy scores in one library (random pairs of
different images) turns a cosine into standard deviations above it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from search.descriptor.config import DUPLICATE_Z


@dataclass(frozen=True)
class Calibration:
    """Background of copy scores in one library (random pairs of different images): robust
    centre/width (``median``, ``spread`` = 1.4826 x MAD) and ``mean``/``sd``."""

    median: float
    spread: float
    mean: float = 0.0
    sd: float = 1.0

    def z(self, scores: np.ndarray | float) -> np.ndarray:
        """Robust z (internal: the label gate and the expansion)."""
        return (np.asarray(scores, dtype=np.float64) - self.median) / self.spread

    def score(self, z: float) -> float:
        """The copy score at robust ``z`` (inverse of :meth:`z`)."""
        return float(self.median + z * self.spread)

    def duplicate_z(self, scores: np.ndarray | float) -> np.ndarray:
        """The user-facing calibrated score: standard deviations above the mean."""
        return (np.asarray(scores, dtype=np.float64) - self.mean) / self.sd

    def duplicate_threshold(self, z: float = DUPLICATE_Z) -> float:
        """The copy score at ``duplicate_z == z`` (default: the duplicate decision)."""
        return float(self.mean + z * self.sd)


# The plain space's background measured on the dev copy sets and hymenoptera (random pairs of
# different photos, frames on): median ~0.09, 1.4826 x MAD ~0.09, mean ~0.12, sd ~0.12.
PLAIN_BACKGROUND = Calibration(median=0.09, spread=0.09, mean=0.12, sd=0.12)
