"""Do two pictures agree once the key points' transform lays one over the other?

ORB + RANSAC finds one transform that maps many key points of one image onto another's. For
copies those points are the picture's own; but two *different* photos that carry the same
overlay - one watermark, the same emoji stickers, a halftone's dot screen - share the
overlay's key points, and one transform explains them too (measured: 161 pairs of different
photos with the same stickers reached 12-49 inliers). What tells the two apart is
everywhere else in the picture: warped by that transform, a copy's grey levels agree with its
original's wherever both have detail; a different photo's do not.

:func:`pictures_agree` compares the two pictures at a quarter of the key points' scale
(:func:`alignment_picture`, kept with the key points) in cells of :data:`CELL` pixels: each
cell where both have detail gets the correlation of its grey levels, and the pictures agree
when the median cell correlates at :data:`AGREEING` or more (signed, either sign: an inverted
copy agrees negatively everywhere). The median is what an overlay cannot move: it covers a
minority of the picture, so its cells are outvoted by the picture's own (an overlay tiled
over all of it lifts the median of two different pictures part of the way, hence a high
:data:`AGREEING`). Tone maps that are not monotone (a solarised copy: dark cells agree,
bright ones agree inverted) are caught by the correlation ratio instead: how much of one
picture's grey levels the other's predict through any function (:data:`DEPENDENT`). A
perspective copy, which one similarity transform aligns only near its key points, is aligned
again by a homography of the same matches. Too few cells with detail on both sides: no
verdict (agree).

Measured (``bench/README.md``, "Overlays shared by different photos"): thresholds set on the
hold-out family's pairs (photos-120: 1,139 confirmed copies, 162 confirmed pairs of different
photos with the same stickers), then read on the two unseen families'.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

SCALE = 0.25  # the alignment picture's size, as a share of the key points' picture
CELL = 8  # pixels per side of a compared cell (at SCALE: 32 pixels of the key points' 512)
FLAT = 3.0  # a cell whose grey levels vary less (standard deviation) holds no detail
CELLS = 8  # fewer cells with detail on both sides: no verdict
#: the median cell's correlation from which two aligned pictures agree: an overlay tiled over
#: the whole picture (a stock preview's watermark grid) holds most cells with detail, and
#: different scenes under one grid reached 0.53-0.66 (0.5 before; `bench/README.md`)
AGREEING = 0.7
DEPENDENT = 0.6  # ... or the correlation ratio of their grey levels, either way round
OVERLAPPING = 0.7  # the share of the smaller picture a looser map's fit must lay over the other
LEVEL_BINS = 16  # grey levels of the predicting picture, in bins of equal counts
#: a homography that folds the picture, sends a corner of it behind the camera or changes its
#: area more than this many times either way lays no copy over its original: RANSAC fitted
#: such maps to a few points of a button two app screenshots of different photos shared, and
#: the few cells they laid over each other "agreed"
MOST_AREA = 36.0


def alignment_picture(cv2: Any, grey: np.ndarray) -> np.ndarray:
    """``grey`` (uint8, the picture the key points were found in) reduced to :data:`SCALE`
    (``cv2``: the OpenCV module)."""
    height, width = grey.shape
    size = (max(CELL, round(width * SCALE)), max(CELL, round(height * SCALE)))
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA)


def pictures_agree(
    cv2: Any,
    first: tuple[np.ndarray, tuple[int, int]] | None,
    second: tuple[np.ndarray, tuple[int, int]] | None,
    transform: np.ndarray,
    refit: Callable[[], np.ndarray | None],
    *,
    verdict: bool = False,
) -> bool:
    """Whether ``first``'s picture and ``second``'s, aligned by ``transform`` (2 x 3, from
    ``first``'s key-point coordinates to ``second``'s), agree; each given as (its
    :func:`alignment_picture`, the (width, height) of the picture its key points were found
    in). ``refit()``: a homography (3 x 3) of the same matches, or None, asked for when the
    transform does not align the pictures. True when either picture is missing or they
    overlap too little to tell (no verdict) - unless ``verdict`` asks for one: a looser map's
    fit (an affine one) must lay the pictures over each other and agree."""
    if first is None or second is None:
        return not verdict
    full = np.vstack([transform, [0.0, 0.0, 1.0]])
    least = OVERLAPPING if verdict else 0.0
    agree = _aligned_agree(cv2, first, second, full, least)
    if agree or (agree is None and not verdict):
        return True
    homography = refit()
    return (
        homography is not None
        and _plausible(homography, first[1])
        and _aligned_agree(cv2, first, second, homography, least) is True
    )


def _plausible(homography: np.ndarray, size: tuple[int, int]) -> bool:
    """Whether ``homography`` (3 x 3, key-point coordinates) lays a picture of ``size`` (its
    key points' width, height) somewhere a perspective copy could be: every corner in front,
    the same turn at each corner as the picture's own (no fold, no mirror), and the area
    changed at most :data:`MOST_AREA` times either way."""
    width, height = size
    corners = np.array([[0, 0, 1], [width, 0, 1], [width, height, 1], [0, height, 1]], float)
    mapped = corners @ (homography if homography[2, 2] >= 0 else -homography).T
    if not (mapped[:, 2] > 1e-9).all():
        return False
    points = mapped[:, :2] / mapped[:, 2:]
    edges = np.roll(points, -1, axis=0) - points
    following = np.roll(edges, -1, axis=0)
    turns = edges[:, 0] * following[:, 1] - edges[:, 1] * following[:, 0]
    if not (turns > 0).all():  # the picture's own corners turn positive (y down)
        return False
    ratio = _area(points) / max(1.0, float(width * height))
    return 1 / MOST_AREA <= ratio <= MOST_AREA


def _area(points: np.ndarray) -> float:
    """The area of a simple polygon (shoelace)."""
    x, y = points[:, 0], points[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _to_picture(size: tuple[int, int], picture: np.ndarray) -> np.ndarray:
    """The map from key-point coordinates of a picture of ``size`` to ``picture``'s (pixel
    centres at integers in both)."""
    sx, sy = picture.shape[1] / size[0], picture.shape[0] / size[1]
    return np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1.0]])


def _aligned_agree(
    cv2: Any,
    first: tuple[np.ndarray, tuple[int, int]],
    second: tuple[np.ndarray, tuple[int, int]],
    full: np.ndarray,
    least: float = 0.0,
) -> bool | None:
    """Whether the two pictures aligned by ``full`` (3 x 3, key-point coordinates) agree: the
    median cell's correlation (the larger of its two signs) at :data:`AGREEING`, or their grey
    levels' correlation ratio at :data:`DEPENDENT`; None with fewer than :data:`CELLS` cells;
    False where they overlap on less than ``least`` of the smaller one."""
    (a, a_size), (b, b_size) = first, second
    onto = _to_picture(b_size, b) @ full @ np.linalg.inv(_to_picture(a_size, a))
    scale = float(np.sqrt(abs(np.linalg.det(onto[:2, :2])))) or 1.0
    # the sharper picture blurred to the other's detail: a crop is laid over its original
    # at 1 / scale, and its cells must not hold detail the original's do not
    mine = cv2.GaussianBlur(a.astype(np.float32), (0, 0), max(1.0, 1.0 / scale))
    theirs = cv2.GaussianBlur(b.astype(np.float32), (0, 0), max(1.0, scale))
    height, width = mine.shape
    flags = cv2.WARP_INVERSE_MAP
    warped = cv2.warpPerspective(theirs, onto, (width, height), flags=cv2.INTER_LINEAR | flags)
    inside = cv2.warpPerspective(
        np.ones_like(b), onto, (width, height), flags=cv2.INTER_NEAREST | flags
    )
    inside = cv2.erode(inside, np.ones((3, 3), np.uint8)) > 0
    if least and inside.sum() < least * min(inside.size, b.size / scale**2):
        return False
    rows, cols = height // CELL, width // CELL
    if rows * cols < CELLS:
        return None

    def cells(plane: np.ndarray) -> np.ndarray:
        cut = plane[: rows * CELL, : cols * CELL]
        return cut.reshape(rows, CELL, cols, CELL).swapaxes(1, 2).reshape(rows * cols, -1)

    kept = cells(inside).all(axis=1)
    levels_p, levels_q = cells(mine)[kept], cells(warped)[kept]
    p = levels_p - levels_p.mean(axis=1, keepdims=True)
    q = levels_q - levels_q.mean(axis=1, keepdims=True)
    spread_p, spread_q = np.sqrt((p * p).mean(axis=1)), np.sqrt((q * q).mean(axis=1))
    detail = (spread_p >= FLAT) & (spread_q >= FLAT)
    if detail.sum() < CELLS:
        return None
    correlation = (p[detail] * q[detail]).mean(axis=1) / (spread_p[detail] * spread_q[detail])
    if abs(float(np.median(correlation))) >= AGREEING:
        return True
    # the pixels of those cells: flat areas would predict each other's levels whatever they are
    mine, theirs = levels_p[detail].ravel(), levels_q[detail].ravel()
    return max(correlation_ratio(mine, theirs), correlation_ratio(theirs, mine)) >= DEPENDENT


def correlation_ratio(given: np.ndarray, predicted: np.ndarray) -> float:
    """How much of ``predicted``'s variance any function of ``given`` explains (the square
    root of 1 - the mean variance within :data:`LEVEL_BINS` bins of ``given`` / the whole
    variance): 1 for a tone map of any shape, near 0 for unrelated grey levels."""
    if len(given) < 4 * LEVEL_BINS or predicted.var() <= 0:
        return 0.0
    edges = np.quantile(given, np.linspace(0.0, 1.0, LEVEL_BINS + 1)[1:-1])
    bins = np.searchsorted(edges, given)
    count = np.bincount(bins, minlength=LEVEL_BINS)
    total = np.bincount(bins, predicted, minlength=LEVEL_BINS)
    squares = np.bincount(bins, predicted * predicted, minlength=LEVEL_BINS)
    within = (squares - total * total / np.maximum(count, 1)).sum()
    return float(np.sqrt(max(0.0, 1.0 - within / (len(predicted) * predicted.var()))))
