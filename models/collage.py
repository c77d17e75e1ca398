"""The pictures of a collage: cells cut apart by the gutters and seams that cross it.

A collage (a 3x3 grid of photos, two photos side by side, a photo pasted into another, a
screenshot of a results page) describes none of its pictures as a whole, and a fixed 2x2 split
(:func:`models.views.tiles`) cuts most of them in pieces: a 3x3 grid's middle photo lies in
four tiles. :func:`collage_cells` finds the cells themselves by *guillotine cuts*: straight
lines that cross the whole region being cut, either

- a *gutter*: a band of flat lines (grey-level spread at most ``FLAT_STD`` along the line),
  narrower than ``MAX_GUTTER`` of the region, with a picture's edge on both sides within
  ``EDGE_LINES``: a busy line (spread at least ``BUSY_STD``) or a seam's steps off the band -
  a smooth background fades into its picture, a gutter stops; or
- a *seam*: a boundary where at least ``SEAM_SHARE`` of the lines step by ``SEAM_STEP``
  levels or more in a colour channel, ``SEAM_RATIO`` times the share of the boundaries a few
  pixels around it - two pictures butted together.

The region (the picture without its flat border) is cut along every such line of one axis,
then each part along the other axis, and so on for ``MAX_DEPTH`` levels (a grid, a photo pasted
into another; deeper levels cut photos at their own straight edges); parts narrower than
``MIN_PART`` of their region or ``MIN_SIDE`` pixels are dropped. Lines are read at full
resolution across and sampled ``SAMPLES`` times along (prefix sums: each cut costs a slice),
2-3 ms a picture. A photo can have a straight full-length edge (a horizon against a flat sky,
a door): 1-2 % of the shared photos give cells. Their query pays for the cells' embeddings
(the caller, :meth:`models.views.ViewSet.regions`, embeds the 2x2 tiles as well: a cell cut
through a photo leaves their evidence).

The thresholds were chosen on scratch collages (3x3 grids with 2 px gutters, photos side by
side and pasted into photos, made outside the project) and the shared photos. The hold-out
sets' 2x2 collages (``bench/edit_queries.py``) showed cells cutting photos in two at a fourth
level of cuts (now three) and that the tiles must stay; no threshold was set on them.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

Box = tuple[int, int, int, int]
"""``(left, top, right, bottom)`` in pixels."""

MAX_SIDE = 1024
"""Larger pictures are looked at reduced to this side (an integer factor, box averaged)."""
SAMPLES = 96
"""Points read along each line."""
FLAT_STD = 4.0
"""A gutter line's grey-level standard deviation along its length, at most."""
BUSY_STD = 10.0
"""The lines beside a gutter: their standard deviation, at least."""
MAX_GUTTER = 0.1
"""A gutter's width, at most this share of the region it cuts."""
EDGE_LINES = 2
"""A gutter's busy neighbours lie at most this many lines beside it."""
SEAM_STEP = 28
"""Levels (in a colour channel) between neighbouring pixels that count as a step."""
SEAM_SHARE = 0.4
"""The share of a seam's pixels that step."""
SEAM_RATIO = 3.0
"""A seam's share of steps over the largest share 3 to 6 boundaries either side."""
MIN_PART = 0.12
"""A part's side, at least this share of the region it is cut from."""
MIN_SIDE = 32
"""A cell's side in pixels, at least (smaller pictures say nothing to the model)."""
MAX_DEPTH = 3
"""Levels of cuts."""
GRID_DEPTH = 2
"""Parts after this many levels (a grid's cells: columns, then rows) are kept whole even when a
further level cuts them (a photo cut at its own straight edge), and come first."""
MAX_CELLS = 16
"""At most this many cells are returned (a 4x4 grid's)."""


class _Lines:
    """The lines across one axis of a grey picture ``grey`` [along, across] (a line is a
    column of it), sampled along their length: prefix sums of values, squares and steps."""

    def __init__(self, grey: np.ndarray, rgb: np.ndarray) -> None:
        values = grey.astype(np.float32)
        self.sums = _prefix(values)
        self.squares = _prefix(values * values)
        colour = rgb.astype(np.int16)
        diff = np.abs(colour[:, 1:] - colour[:, :-1])
        steps = np.maximum(np.maximum(diff[..., 0], diff[..., 1]), diff[..., 2]) >= SEAM_STEP
        self.steps = _prefix(steps.astype(np.float32))

    def read(self, start: int, stop: int, first: int, last: int) -> tuple[np.ndarray, ...]:
        """Lines ``first..last`` over samples ``start..stop``: flat and busy masks per line,
        the share of stepping samples between each line and the next."""
        n = max(1, stop - start)
        total = self.sums[stop, first:last] - self.sums[start, first:last]
        squares = self.squares[stop, first:last] - self.squares[start, first:last]
        variance = squares / n - (total / n) ** 2
        steps = self.steps[stop, first : last - 1] - self.steps[start, first : last - 1]
        return variance <= FLAT_STD**2, variance >= BUSY_STD**2, steps / n


def _prefix(values: np.ndarray) -> np.ndarray:
    out = np.zeros((values.shape[0] + 1, *values.shape[1:]), np.float32)
    np.cumsum(values, axis=0, out=out[1:])
    return out


def _cuts(flat: np.ndarray, busy: np.ndarray, steps: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` of each gutter (its flat lines) and seam (empty: start == stop)."""
    n = len(flat)
    cuts: list[tuple[int, int]] = []
    stepped = steps >= SEAM_SHARE  # between line i and i + 1
    joined = flat[:-1] & flat[1:] & ~stepped  # a flat band: flat lines of one level
    starts = np.flatnonzero(flat & ~np.concatenate([[False], joined]))
    stops = np.flatnonzero(flat & ~np.concatenate([joined, [False]])) + 1
    for start, stop in zip(starts.tolist(), stops.tolist(), strict=True):
        if start > 0 and stop < n and stop - start <= MAX_GUTTER * n:
            # a picture on both sides: a busy line, or a step off the band, at most
            # EDGE_LINES away (a resize softens the gutter's edges)
            left = (
                busy[max(0, start - EDGE_LINES) : start].any()
                or stepped[max(0, start - EDGE_LINES - 1) : start].any()
            )
            right = busy[stop : stop + EDGE_LINES].any() or stepped[stop - 1 : stop + 1].any()
            if left and right:
                cuts.append((start, stop))
    if len(steps) >= 13:
        window = np.lib.stride_tricks.sliding_window_view(np.pad(steps, 6, mode="edge"), 13)
        around = np.maximum(window[:, :4].max(axis=1), window[:, 9:].max(axis=1))
        for x in np.flatnonzero((steps >= SEAM_SHARE) & (steps >= SEAM_RATIO * around)).tolist():
            if 2 <= x < n - 3 and not any(a - 1 <= x + 1 <= b + 1 for a, b in cuts):
                cuts.append((x + 1, x + 1))
    return sorted(cuts)


def _parts(n: int, cuts: list[tuple[int, int]], least: int) -> list[tuple[int, int]]:
    """The spans of ``0..n`` between ``cuts`` at least ``least`` long."""
    parts, start = [], 0
    for cut_start, cut_stop in [*cuts, (n, n)]:
        if cut_start - start >= least:
            parts.append((start, cut_start))
        start = cut_stop
    return parts


def collage_cells(image: Image.Image) -> list[Box] | None:
    """The cells of ``image`` when it is cut into two or more pictures (module doc), largest
    first, at most ``MAX_CELLS``; else None."""
    factor = max(1, -(-max(image.size) // MAX_SIDE))
    if min(image.size) < 2 * MIN_SIDE:
        return None
    small = image.reduce(factor) if factor > 1 else image
    rgb = np.asarray(small if small.mode == "RGB" else small.convert("RGB"))
    grey = np.asarray(small.convert("L"))
    height, width = grey.shape
    down, across = max(1, height // SAMPLES), max(1, width // SAMPLES)
    columns = _Lines(grey[::down], rgb[::down])
    rows = _Lines(grey[:, ::across].T, rgb[:, ::across].transpose(1, 0, 2))

    def read(top: int, bottom: int, left: int, right: int, axis: int) -> tuple[np.ndarray, ...]:
        if axis == 1:  # vertical lines: columns left..right over rows top..bottom
            return columns.read(-(-top // down), -(-bottom // down), left, right)
        return rows.read(-(-left // across), -(-right // across), top, bottom)

    content_columns = np.flatnonzero(~read(0, height, 0, width, 1)[0])
    content_rows = np.flatnonzero(~read(0, height, 0, width, 0)[0])
    if len(content_columns) < 2 * MIN_SIDE // factor or len(content_rows) < 2 * MIN_SIDE // factor:
        return None
    least = max(8, MIN_SIDE // factor)
    cells: list[tuple[bool, Box]] = []  # (cut at the last level, box)

    def cut(top: int, bottom: int, left: int, right: int, depth: int) -> None:
        box = (left, top, right, bottom)
        if depth == GRID_DEPTH:  # a grid's cell: kept whole even when it is cut further
            cells.append((False, box))
        for axis in (1, 0) if depth < MAX_DEPTH else ():
            n = right - left if axis == 1 else bottom - top
            parts = _parts(
                n, _cuts(*read(top, bottom, left, right, axis)), max(least, int(MIN_PART * n))
            )
            if len(parts) >= 2:
                for start, stop in parts:
                    if axis == 1:
                        cut(top, bottom, left + start, left + stop, depth + 1)
                    else:
                        cut(top + start, top + stop, left, right, depth + 1)
                return
        if depth != GRID_DEPTH:
            cells.append((depth > GRID_DEPTH, box))

    cut(
        int(content_rows[0]),
        int(content_rows[-1]) + 1,
        int(content_columns[0]),
        int(content_columns[-1]) + 1,
        0,
    )
    if len(cells) < 2:
        return None
    # a grid's cells before the parts cut out of them, each the largest first
    cells.sort(key=lambda c: (c[0], -(c[1][2] - c[1][0]) * (c[1][3] - c[1][1])))
    width, height = image.size
    return [
        (a * factor, b * factor, min(width, c * factor), min(height, d * factor))
        for _, (a, b, c, d) in cells[:MAX_CELLS]
    ]
