"""Where one image's picture lies in another's, by the transform its key points find
(:func:`search.descriptor.verify.fit_transform`): the box its corners map to and at what scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from search.descriptor.alignment import pictures_agree
from search.descriptor.key_point_features import LocalFeatures
from search.descriptor.verify import MIN_INLIERS, fit_transform, opencv


@dataclass(frozen=True, slots=True)
class Placement:
    """``a``'s picture in ``b``'s: ``box`` (left, top, right, bottom) of its corners mapped,
    as shares of ``b``'s picture's width and height; ``scale``: pixels of ``b``'s picture per
    pixel of ``a``'s (both as their key points were found, :data:`SIDE` on the longer side);
    ``angle``: how far it is turned."""

    inliers: int
    box: tuple[float, float, float, float]
    scale: float
    #: degrees the transform turns ``a``'s picture by (0: upright in ``b``'s)
    angle: float = 0.0


def placement(a: LocalFeatures, b: LocalFeatures, *, agreeing: bool = False) -> Placement | None:
    """Where ``a``'s picture lies in ``b``'s by their upright key points, matched both ways
    (the one with more inliers); None under :data:`MIN_INLIERS` or without pictures.
    ``agreeing``: None too unless the two pictures, laid over each other by that transform,
    agree (:func:`search.descriptor.alignment.pictures_agree`, with a verdict): key points
    also map another view of one object, or one overlay on two photos."""
    cv2 = opencv()
    sides = (a.upright, a.aligned()), (b.upright, b.aligned())
    if sides[0][1] is None or sides[1][1] is None:
        return None
    best, transform = 0, None
    for first, second, backwards in ((*sides, False), (*sides[::-1], True)):
        found, fitted = fit_transform(cv2, first, second)
        if found > best and fitted is not None:
            best, transform = found, _inverted(fitted) if backwards else fitted
    if transform is None or best < MIN_INLIERS:
        return None
    if agreeing and not pictures_agree(
        cv2, sides[0][1], sides[1][1], transform, lambda: None, verdict=True
    ):
        return None
    (aw, ah), (bw, bh) = a.size, b.size
    corners = np.array([[0, 0, 1], [aw, 0, 1], [0, ah, 1], [aw, ah, 1]], np.float64)
    mapped = corners @ np.asarray(transform, np.float64).T
    left, top = mapped.min(axis=0) / (bw, bh)
    right, bottom = mapped.max(axis=0) / (bw, bh)
    linear = np.asarray(transform, np.float64)[:, :2]
    scale = float(np.sqrt(abs(np.linalg.det(linear))))
    angle = float(np.degrees(np.arctan2(linear[1, 0], linear[0, 0])))
    box = (float(left), float(top), float(right), float(bottom))
    return Placement(best, box, scale, angle)


def _inverted(transform: np.ndarray) -> np.ndarray:
    """The inverse of a 2x3 affine transform."""
    linear = np.linalg.inv(np.asarray(transform, np.float64)[:, :2])
    return np.hstack([linear, -linear @ np.asarray(transform, np.float64)[:, 2:]])
