"""A tilted photo on filled corners: a photo turned with ``expand`` (its corners on the
canvas's sides, the canvas's corners filled with one colour), turned in place (its own
corners cut off, the canvas's filled), or a cut of a turned photo that keeps two or more of
the filled corners.

Only the canvas's corners are read, on the cell grid of :mod:`models.frame` (``fill``: cells
of the corners' flat colour reached from the border). A corner filled up to a straight edge
(the photo's side) is a triangle: its legs are the runs of the fill along the two borders,
its edge fitted to where the fill ends in each column (or row). Each triangle must be clean
- its cells away from the edge at least :data:`MIN_FILLED` fill, a band beyond the edge at
most :data:`MAX_FILLED_BEYOND` (a dark subject touching a black corner, a flat sky above a
curved roof line, are no straight cut) - and at least :data:`MIN_CORNERS` of them must tilt
the same way (within :data:`AGREE_DEGREES`: the photo's sides are a quarter turn apart).

The photo is stood upright by that tilt, about the canvas's centre, and its box is the
bounding box of what is left of it there: the turned canvas within the edges (less
:data:`EDGE` cells, the grid's staircase). The model then sees the photo as it was, not a
tilted canvas: plain cosine to the original 0.95-0.97 for photos turned 6-35 degrees with
``expand`` (0.58-0.62 for the tilted canvas), 0.95-0.98 / 0.92-0.93 / 0.85-0.87 for turns
in place of 8 / 15 / 25 degrees (0.85-0.90 / 0.75-0.82 / 0.67-0.71), bench/README.md
("Tilted photos stood upright").
"""

from __future__ import annotations

import math

import numpy as np

MIN_LEG = 3  # cells along each border a corner's fill covers, at least
MIN_FILLED = 0.97  # share of a triangle's cells (away from its edge) of the fill colour
MAX_FILLED_BEYOND = 0.1  # share of fill-coloured cells in the band beyond its edge
EDGE = 1.5  # cells beside an edge counted neither way (the grid's staircase, resampling)
BAND = 3.0  # cells beyond the edge that must be the photo
MAX_STRAY = 1.5  # cells the fill's end may stray from the fitted edge
MIN_ON_LINE = 0.8  # share of the ends that must not stray
AGREE_DEGREES = 2.0  # the triangles' tilts agree within this
MIN_TILT = 1.5  # degrees: a level edge is a frame's bar, not a turn (models.frame's box)
MAX_TILT = 40.0  # degrees: near 45 the two tangents of a round subject agree too
MIN_CORNERS = 2  # filled corners that show the tilt, at least (one alone: 9 of 78 real
# photos have a corner that passes for one - a flat dark corner up to a straight-ish edge)
MIN_BOX = 0.3  # the upright box covers at least this share of the canvas
# a corner at (0, 0) of a grid flipped by (rows, cols) steps (-1: flipped): clockwise from
# the top left
CORNERS = ((1, 1), (1, -1), (-1, -1), (-1, 1))

Line = tuple[tuple[float, float], tuple[float, float]]  # two points (x, y) in cells


def _runs_from_edge(local: np.ndarray, length: int) -> np.ndarray:
    """For each of the first ``length`` columns of ``local``, how many cells from its top
    row down are filled (the whole column: its height)."""
    cols = local[:, :length]
    return np.where(cols.all(axis=0), cols.shape[0], np.argmin(cols, axis=0))


def _fitted_edge(local: np.ndarray, across: int, down: int) -> tuple[float, float] | None:
    """``(across, down)``: where the straight edge of the filled triangle at the top left
    of ``local`` meets its two borders, fitted (least squares) to the end of the fill in
    each column (the edge nearer level) or row: the runs along the borders alone are a
    cell short (the cell the edge crosses is not flat), a tilt of a few degrees off. None
    when fewer than :data:`MIN_ON_LINE` of the ends lie within :data:`MAX_STRAY` cells of
    the line (a curve: the outline of a round subject on a plain background); the others
    (a dark part of the photo joined to a black fill) are left out of the fit."""
    transposed = down > across
    grid, length = (local.T, down) if transposed else (local, across)
    ends = _runs_from_edge(grid, length).astype(np.float64) + 0.5
    at = np.arange(length, dtype=np.float64) + 0.5
    slope, offset = np.polyfit(at, ends, 1)
    on_line = np.abs(ends - (offset + slope * at)) <= MAX_STRAY
    if on_line.mean() < MIN_ON_LINE:
        return None
    slope, offset = np.polyfit(at[on_line], ends[on_line], 1)  # without the strays
    if slope >= 0 or offset <= 0:
        return None
    far, near = -offset / slope, offset  # where the line meets y = 0, and x = 0
    return (near, far) if transposed else (far, near)


def _triangle(fill: np.ndarray, flip: tuple[int, int]) -> Line | None:
    """The edge (in the grid's cells) of the clean filled triangle at the corner that
    ``flip`` brings to the top left, or None."""
    local = fill[:: flip[0], :: flip[1]]
    gh, gw = local.shape
    if not local[0, 0]:
        return None
    across = int(np.argmin(local[0])) if not local[0].all() else gw
    down = int(np.argmin(local[:, 0])) if not local[:, 0].all() else gh
    if min(across, down) < MIN_LEG or across >= gw - 1 or down >= gh - 1:
        return None  # no corner, or a bar along a whole border
    fitted = _fitted_edge(local, across, down)
    if fitted is None:
        return None
    far_x, far_y = fitted
    ys = np.arange(min(gh, int(far_y + BAND + EDGE) + 2))[:, None] + 0.5
    xs = np.arange(min(gw, int(far_x + BAND + EDGE) + 2))[None, :] + 0.5
    # signed distance (cells) from the edge through (far_x, 0) and (0, far_y); < 0 inside
    distance = (xs / far_x + ys / far_y - 1) * (far_x * far_y / math.hypot(far_x, far_y))
    cells = local[: ys.shape[0], : xs.shape[1]]
    inside = distance <= -EDGE
    # beside the edge itself, not past its ends (where another corner's fill may lie)
    along = ((far_x - xs) * far_x + ys * far_y) / (far_x**2 + far_y**2)  # 0..1 on the edge
    beyond = (distance >= EDGE) & (distance <= EDGE + BAND) & (along > 0.05) & (along < 0.95)
    if not inside.any() or not beyond.any():
        return None
    if cells[inside].mean() < MIN_FILLED or cells[beyond].mean() > MAX_FILLED_BEYOND:
        return None
    points = ((far_x, 0.0), (0.0, far_y))
    return tuple(  # type: ignore[return-value]
        (x if flip[1] > 0 else gw - x, y if flip[0] > 0 else gh - y) for x, y in points
    )


def _tilt(dx: float, dy: float) -> float:
    """The angle (radians) of a line, folded to [-45, 45) degrees: a quarter turn apart is
    the same tilt."""
    return (math.atan2(dy, dx) + math.pi / 4) % (math.pi / 2) - math.pi / 4


def tilted_photo(
    fill: np.ndarray, size: tuple[int, int]
) -> tuple[float, tuple[float, float, float, float]] | None:
    """``(angle, (left, top, right, bottom))`` of a tilted photo (module doc) on the cell
    grid ``fill`` (cells of the corners' flat colour reached from the border) over an image
    of ``size`` pixels: the angle in degrees that stands it upright (counter-clockwise, as
    ``Image.rotate``, about the image's centre) and its box then, as fractions; or None."""
    gh, gw = fill.shape
    width, height = size
    sx, sy = width / gw, height / gh  # pixels per cell
    edges = [line for flip in CORNERS if (line := _triangle(fill, flip)) is not None]
    if len(edges) < MIN_CORNERS:
        return None
    tilts = np.array([_tilt((b[0] - a[0]) * sx, (b[1] - a[1]) * sy) for a, b in edges])
    angle = math.atan2(float(np.sin(4 * tilts).mean()), float(np.cos(4 * tilts).mean())) / 4
    if np.degrees(np.abs(tilts - angle)).max() > AGREE_DEGREES:
        return None
    if not math.radians(MIN_TILT) <= abs(angle) <= math.radians(MAX_TILT):
        return None
    # cell centres of the upright image, mapped back onto the tilted one (pixels)
    ys, xs = np.mgrid[0:gh, 0:gw] + 0.5
    cx, cy = width / 2, height / 2
    ux, uy = xs * sx - cx, ys * sy - cy
    cos, sin = math.cos(angle), math.sin(angle)
    px, py = cx + ux * cos - uy * sin, cy + ux * sin + uy * cos  # undo the upright turn
    margin = EDGE * max(sx, sy)
    keep = (px >= margin) & (px <= width - margin) & (py >= margin) & (py <= height - margin)
    for (ax, ay), (bx, by) in edges:  # the photo's side of each edge (the canvas centre's)
        ax, ay, bx, by = ax * sx, ay * sy, bx * sx, by * sy
        length = math.hypot(bx - ax, by - ay)
        side = ((bx - ax) * (py - ay) - (by - ay) * (px - ax)) / length
        centre = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
        keep &= side * math.copysign(1.0, centre) >= margin
    rows, cols = np.flatnonzero(keep.any(axis=1)), np.flatnonzero(keep.any(axis=0))
    if not len(rows):
        return None
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    if (bottom - top) * (right - left) < MIN_BOX * gh * gw:
        return None
    box = (left / gw, top / gh, right / gw, bottom / gh)
    return math.degrees(angle), box
