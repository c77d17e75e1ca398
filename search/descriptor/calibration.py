"""Calibrated copy scores: the background of copy scores in one library (random pairs of
different images) turns a cosine into standard deviations above it.

A whitened library is also calibrated in the model's own (plain) space, on the same pairs:
each space's background gets an exponential tail above its :data:`TAIL_QUANTILE` (the
evidence of a score is how far into that tail it lies, in units of the tail's mean excess),
so that a score in one space can be stated as the score of equal evidence in the other
(:meth:`Calibration.from_plain`): a copy that the whitening handles worse than the plain
embedding (an edit it never learned) keeps its plain evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from search.descriptor.config import DUPLICATE_Z

TAIL_QUANTILE = 95.0  # the background's tail starts here (percent of random pairs below it)


@dataclass(frozen=True)
class Tail:
    """Exponential tail of a background's robust z: it starts at ``start`` (the
    :data:`TAIL_QUANTILE` percentile) and its mean excess over ``start`` is ``scale``."""

    start: float
    scale: float

    @classmethod
    def measure(cls, z: np.ndarray) -> Tail:
        z = np.asarray(z, np.float64)
        start = float(np.percentile(z, TAIL_QUANTILE))
        above = z[z > start]
        scale = float(above.mean() - start) if len(above) else 1.0
        return cls(start, max(1e-3, scale))

    def evidence(self, z: np.ndarray | float) -> np.ndarray:
        """How far ``z`` lies into the tail, in mean excesses (negative below its start)."""
        return (np.asarray(z, np.float64) - self.start) / self.scale

    def z_at(self, evidence: np.ndarray | float) -> np.ndarray:
        """The robust z of ``evidence`` (inverse of :meth:`evidence`)."""
        return self.start + np.asarray(evidence, np.float64) * self.scale


@dataclass(frozen=True)
class PlainBackground:
    """The plain space's background of a whitened library (robust centre, width, tail)."""

    median: float
    spread: float
    tail: Tail


@dataclass(frozen=True)
class Calibration:
    """Background of copy scores in one library (random pairs of different images): robust
    centre/width (``median``, ``spread`` = 1.4826 x MAD) and ``mean``/``sd``; for a whitened
    library measured since plain evidence counts, ``tail`` and the ``plain`` space's
    background on the same pairs (None: copy scores are the library space's alone)."""

    median: float
    spread: float
    mean: float = 0.0
    sd: float = 1.0
    tail: Tail | None = None
    plain: PlainBackground | None = None

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

    @property
    def two_spaces(self) -> bool:
        """Whether plain-space evidence can be stated in this space (:meth:`from_plain`)."""
        return self.tail is not None and self.plain is not None

    def from_plain(self, cosines: np.ndarray) -> np.ndarray:
        """The copy scores of this space with the evidence that plain-space ``cosines`` have
        (each space's distance into its own background's tail): ``-inf`` where unknown."""
        c = np.asarray(cosines, np.float64)
        if self.tail is None or self.plain is None:
            return np.full(c.shape, -np.inf)
        p = self.plain
        z = self.tail.z_at(p.tail.evidence((c - p.median) / p.spread))
        return self.median + z * self.spread

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "median": self.median,
            "spread": self.spread,
            "mean": self.mean,
            "sd": self.sd,
        }
        if self.tail is not None and self.plain is not None:
            out["tail"] = [self.tail.start, self.tail.scale]
            p = self.plain
            out["plain"] = [p.median, p.spread, p.tail.start, p.tail.scale]
        return out

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> Calibration:
        """Inverse of :meth:`to_json` (raises ``TypeError`` / ``ValueError`` when malformed)."""
        tail, plain = values.get("tail"), values.get("plain")
        base = {k: float(values[k]) for k in ("median", "spread", "mean", "sd")}
        if tail is None or plain is None:
            return cls(**base)
        median, spread, start, scale = (float(v) for v in plain)
        return cls(
            **base,
            tail=Tail(float(tail[0]), float(tail[1])),
            plain=PlainBackground(median, spread, Tail(start, scale)),
        )


# The plain space's background measured on the dev copy sets and hymenoptera (random pairs of
# different photos, frames on): median ~0.09, 1.4826 x MAD ~0.09, mean ~0.12, sd ~0.12.
PLAIN_BACKGROUND = Calibration(median=0.09, spread=0.09, mean=0.12, sd=0.12)
