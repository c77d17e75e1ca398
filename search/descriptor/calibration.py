"""Calibrated copy scores: the background of copy scores in one library (random pairs of
different images) turns a cosine into standard deviations above it."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    #: the measured sd was wider than the plain-space prior's: the prior's is used (below)
    capped: bool = False
    #: ``duplicate_z`` of a copy past the look-alikes of the space it was measured in, which a
    #: copy confirmed by local evidence scores at least (:func:`search.descriptor.verified_floor`):
    #: the decision in the plain space, ``WITNESS_Z`` in a whitened one (where look-alikes of one
    #: class reach z 6-8.5); set by :class:`search.descriptor.Descriptor` for its space
    confirmed_z: float = field(default=DUPLICATE_Z, compare=False)

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

# Random pairs of a library where one picture has many copies (a folder of 36 edits of one
# photo among 111 images: a tenth of the pairs) are not a background of *different* pictures:
# their sd put the decision past any copy score (mean + 6 sd = 1.40: nothing flagged, not even
# an identical copy). Different photos are never spread wider than in the model's own space
# (the plain-space prior's sd, 0.12; a whitened space is narrower), so a wider sd is taken as
# the prior's. Libraries within it are unchanged (the 509 shared photos: 0.107).


def background(scores: np.ndarray) -> Calibration:
    """The calibration of copy ``scores`` of random pairs of different stored images."""
    median = float(np.median(scores))
    spread = max(1e-3, float(1.4826 * np.median(np.abs(scores - median))))
    mean, sd = float(scores.mean()), max(1e-3, float(scores.std()))
    if sd > PLAIN_BACKGROUND.sd:
        return Calibration(median, spread, mean, PLAIN_BACKGROUND.sd, capped=True)
    return Calibration(median, spread, mean, sd)
