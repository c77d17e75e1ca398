"""A photo turned on a flat canvas: the corners a rotation with ``expand`` fills with one
colour.

On the cell grid of :mod:`models.frame` (``content``: cells that are not the canvas's flat
colour reached from the border), such a photo is a parallelogram (a turned rectangle, its
opposite sides within :data:`MAX_SKEW` of each other's length) whose corners touch the four
sides of the canvas, and the canvas's four corners are filled. On each side the
photo's corner is one end of the run of content cells there (its other edge runs along the
side for a few cells when the turn is small); of the quadrilaterals through those ends, the
one that fits best must hold at least :data:`MIN_INSIDE` content cells (a dark part of the
photo joined to the corners' colour leaves holes) and leave at most :data:`MAX_OUTSIDE` in
the four corners (they are filled), both counted away from its edges. A subject on a plain
background fails: it does not reach all four sides, or does not fill the quadrilateral.

The photo is then stood upright (:func:`upright_photo`): the turn that makes its sides
level (the mean of its four sides' angles) and its rectangle once turned about its centre,
less :data:`UPRIGHT_MARGIN` (the grid's corners are a cell off at most). The model then sees
the photo as it was, not a tilted cut of it: the plain cosine of such a view to the original
is 0.92-0.99 against 0.49-0.95 for the largest level rectangle inside the tilted photo
(turns of 6-35 degrees of 100 hold-out photos and scenes, bench/README.md).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

MIN_CORNERS = 0.06  # share of the canvas outside the quadrilateral, at least
MIN_INSIDE = 0.7  # content share inside the quadrilateral
MAX_OUTSIDE = 0.03  # content share in the filled corners
MAX_SKEW = 0.1  # opposite sides of a turned rectangle are as long, within this share
EDGE = 2.0  # cells beside an edge are counted neither way (the grid's staircase, resampling)
MIN_PHOTO = 0.1  # the photo covers at least this share of the canvas
UPRIGHT_MARGIN = 0.015  # share of each side of the upright photo left out at each end,
# and UPRIGHT_CELLS cells more (a corner found on the grid is up to a cell off)
UPRIGHT_CELLS = 1.5


def _ends(line: np.ndarray) -> tuple[float, float] | None:
    """Both ends of the content cells of a border line, or None without any."""
    where = np.flatnonzero(line)
    return None if not len(where) else (float(where[0]) + 0.5, float(where[-1]) + 0.5)


class _HalfPlanes:
    """Cells on the inner side of a polygon's edges, each edge computed once: the
    quadrilaterals tried share their edges (four ends per side give 4 x 4 edges, not 16 x 4)."""

    def __init__(self, shape: tuple[int, int]) -> None:
        self.shape = shape
        self.ys = np.arange(shape[0], dtype=np.float64)[:, None] + 0.5
        self.xs = np.arange(shape[1], dtype=np.float64)[None, :] + 0.5
        self.done: dict[tuple[float, ...], np.ndarray] = {}

    def edge(
        self, start: tuple[float, float], end: tuple[float, float], margin: float
    ) -> np.ndarray:
        key = (*start, *end, margin)
        if key not in self.done:
            (x0, y0), (x1, y1) = start, end
            length = max(1e-9, float(np.hypot(x1 - x0, y1 - y0)))
            cross = (x1 - x0) * (self.ys - y0) - (y1 - y0) * (self.xs - x0)
            self.done[key] = cross / length >= -margin
        return self.done[key]

    def inside(self, corners: list[tuple[float, float]], margin: float = 0.0) -> np.ndarray:
        """Cells whose centre lies in the convex polygon ``corners`` ((x, y), clockwise)
        grown by ``margin`` cells (shrunk when negative)."""
        inside = np.ones(self.shape, bool)
        for start, end in zip(corners, corners[1:] + corners[:1], strict=True):
            inside &= self.edge(start, end, margin)
        return inside


def _skew(quad: list[tuple[float, float]]) -> float:
    """How far opposite sides of ``quad`` differ in length (0 for a parallelogram, which a
    turned rectangle is), as a share of the longer one."""
    p = np.asarray(quad)
    sides = [float(np.hypot(*(p[(i + 1) % 4] - p[i]))) for i in range(4)]
    return max(
        abs(a - b) / max(a, b, 1e-9) for a, b in ((sides[0], sides[2]), (sides[1], sides[3]))
    )


Corners = list[tuple[float, float]]


def turned_photo(content: np.ndarray) -> Corners | None:
    """The corners ``(x, y)`` in cells (clockwise from the one on the canvas's top side) of
    a turned photo (module doc) when ``content`` is one, else None."""
    gh, gw = content.shape
    if content[0, 0] or content[0, -1] or content[-1, 0] or content[-1, -1]:
        return None  # a canvas corner that is not filled
    sides = [_ends(content[0]), _ends(content[:, -1]), _ends(content[-1]), _ends(content[:, 0])]
    if any(side is None for side in sides):
        return None
    planes = _HalfPlanes((gh, gw))
    best: tuple[float, Corners] | None = None
    for top, right, bottom, left in itertools.product(*sides):  # type: ignore[misc]
        quad = [(top, 0.0), (float(gw), right), (bottom, float(gh)), (0.0, left)]
        core, corners = planes.inside(quad, -EDGE), ~planes.inside(quad, EDGE)
        if not core.any() or not corners.any():
            continue
        outside = float(content[corners].mean())
        if content[core].mean() >= MIN_INSIDE and (best is None or outside < best[0]):
            best = (outside, quad)
    if best is None or best[0] > MAX_OUTSIDE or _skew(best[1]) > MAX_SKEW:
        return None
    share = float(planes.inside(best[1], -1.0).mean())  # whole cells inside
    return best[1] if MIN_PHOTO <= share <= 1 - MIN_CORNERS else None


def upright_photo(
    corners: Corners, grid: tuple[int, int], size: tuple[int, int]
) -> tuple[float, tuple[float, float, float, float]]:
    """``(angle, (left, top, right, bottom))`` of the turned photo with ``corners`` (in
    cells of a ``grid`` = (across, down) over an image of ``size`` pixels): the angle in
    degrees that stands it upright (counter-clockwise, as ``Image.rotate``) when turned about
    its centre, and its rectangle then, as fractions of the image (within it)."""
    (gw, gh), (width, height) = grid, size
    points = np.array([(x * width / gw, y * height / gh) for x, y in corners])
    sides = np.roll(points, -1, axis=0) - points
    tilts = np.arctan2(sides[:, 1], sides[:, 0])  # each side's angle; a quarter turn apart
    angle = math.atan2(float(np.sin(4 * tilts).mean()), float(np.cos(4 * tilts).mean())) / 4
    lengths = np.hypot(sides[:, 0], sides[:, 1])
    level = abs(sides[0, 0]) >= abs(sides[0, 1])  # the first side is the top or bottom one
    across = (lengths[0] + lengths[2]) / 2 if level else (lengths[1] + lengths[3]) / 2
    down = (lengths[1] + lengths[3]) / 2 if level else (lengths[0] + lengths[2]) / 2
    cell = max(width / gw, height / gh) * UPRIGHT_CELLS
    half_w = across * (0.5 - UPRIGHT_MARGIN) - cell
    half_h = down * (0.5 - UPRIGHT_MARGIN) - cell
    cx, cy = points.mean(axis=0)
    box = (
        max(0.0, (cx - half_w) / width),
        max(0.0, (cy - half_h) / height),
        min(1.0, (cx + half_w) / width),
        min(1.0, (cy + half_h) / height),
    )
    return math.degrees(angle), box
