"""The copy score of a pair confirmed by local evidence: the key points' inliers
(:func:`verified_copy_score`) or the pixels' correlation (:func:`confirmed_copy_score`), in one
band above the duplicate decision; and which candidates of a query are worth the check
(:func:`grey_band`). The one rule of the engine's grey-band check, ``dedup --verify`` and the
offline evaluation."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from search.descriptor.config import DUPLICATE_Z, GREY_BAND_Z, VERIFIED_Z
from search.descriptor.expansion import SELF_SCORE
from search.descriptor.verify import MIN_INLIERS

if TYPE_CHECKING:
    from search.descriptor.calibration import Calibration

INLIER_SCALE = 150.0  # inliers past MIN_INLIERS for 63 % of the verified band (FEATURES: 96 %)
CONFIRMED_BAND = 0.5  # share of the way from the floor to 1 that confirmed copies may fill
COPY_SHARE = 0.1  # the global copy score's share in a confirmed copy's place in that band


def verified_score(inliers: int) -> float:
    """0 below :data:`MIN_INLIERS`; from there rising with every inlier towards 1, never
    reaching it (``1 - exp(-(inliers - MIN_INLIERS + 1) / INLIER_SCALE)``): two confirmed
    candidates with different counts never tie (one inlier more is >= 2e-4 more up to
    :data:`FEATURES` inliers, >= 3e-7 up to the :data:`DENSE_FEATURES` a count cannot pass)."""
    if inliers < MIN_INLIERS:
        return 0.0
    return float(-np.expm1(-(inliers - MIN_INLIERS + 1) / INLIER_SCALE))


def verified_floor(calibration: Calibration | None) -> float:
    """The copy score a confirmed copy scores at least: robust ``z = VERIFIED_Z``, never
    below the duplicate decision nor, in a whitened space, below a firm copy
    (``duplicate_z`` :attr:`Calibration.confirmed_z`: past the look-alikes, which reach z 6-8.5
    there, so that a copy the key points confirm outranks a look-alike the vectors put past the
    decision; 0.9 without a calibration)."""
    if calibration is None:
        return 0.9
    firm = calibration.duplicate_threshold(max(DUPLICATE_Z, calibration.confirmed_z))
    return min(0.999, max(calibration.score(VERIFIED_Z), firm))


def verified_copy_score(copy: float, inliers: int, calibration: Calibration | None) -> float:
    """A pair's copy score once its local features are matched: ``copy`` itself below
    :data:`MIN_INLIERS`; else in the band from :func:`verified_floor` up to
    :data:`CONFIRMED_BAND` of the way to 1, placed by the inliers (:func:`verified_score`) and,
    for :data:`COPY_SHARE`, by ``copy`` (``copy`` itself where that is higher): confirmed copies
    rank by their geometry, equal counts by their look, and stay well below an exact copy (a
    region of a photo, or another view of one object, is a copy, not the file). The one rule
    of the engine's grey-band check, ``dedup --verify`` and the offline evaluation: a pair
    gets the same verified score however it is asked."""
    v = verified_score(inliers)
    return float(copy) if v <= 0 else confirmed_copy_score(copy, v, calibration)


def confirmed_copy_score(copy: float, strength: float, calibration: Calibration | None) -> float:
    """The copy score of a pair confirmed by local evidence of ``strength`` in (0, 1) (the
    key points' :func:`verified_score`, the pixels' correlation): in the band from
    :func:`verified_floor` up to :data:`CONFIRMED_BAND` of the way to 1, placed by the
    strength and, for :data:`COPY_SHARE`, by ``copy`` (``copy`` itself where that is
    higher)."""
    floor = verified_floor(calibration)
    place = (1.0 - COPY_SHARE) * strength + COPY_SHARE * min(max(float(copy), 0.0), 1.0)
    return max(float(copy), floor + (1.0 - floor) * CONFIRMED_BAND * place)


def grey_band(copy: np.ndarray, calibration: Calibration | None, limit: int) -> list[int]:
    """Positions of a query's ``limit`` best copy scores worth a check, best first:
    ``duplicate_z >= GREY_BAND_Z`` and below :func:`verified_floor` (the query's own vector left
    out) - in a whitened space copies past the decision but not firm too."""
    c = np.asarray(copy, np.float64)
    low = calibration.duplicate_threshold(GREY_BAND_Z) if calibration is not None else 0.5
    keep = np.flatnonzero((c >= low) & (c < verified_floor(calibration)) & (c < SELF_SCORE))
    return [int(n) for n in keep[np.argsort(-c[keep], kind="stable")][:limit]]
