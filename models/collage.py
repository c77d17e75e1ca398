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
into another; deeper levels cut photos at their own straight edges) - except that the first
level's parts, a grid's columns, are cut by the lines they share (a gutter that a photo's flat
edge hid in one column is the grid's row in all; a photo's own edge crosses one column only,
and a band of another colour than the columns' gutters is no gutter); parts narrower than
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

from collections.abc import Callable
from itertools import pairwise

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
GUTTER_LEVEL = 24.0
"""A grid's row gutter: its grey level across the grid, at most this far from its columns'."""
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


def _boxes(box: Box, axis: int, spans: list[tuple[int, int]]) -> list[Box]:
    left, top, right, bottom = box
    if axis == 1:
        return [(left + a, top, left + b, bottom) for a, b in spans]
    return [(left, top + a, right, top + b) for a, b in spans]


def _grid_cells(
    parts: list[Box],
    axis: int,
    lines: Callable[[Box, int], tuple[np.ndarray, ...]],
    least: int,
    level: Callable[[Box], float],
) -> list[tuple[Box, int]] | None:
    """The first level's ``parts`` (cut along ``axis``: a grid's columns or rows) cut across
    by the grid's lines, as its cells (level 2), or None when they share none. A grid's line
    crosses all its columns: a cut of one of them is the grid's when the lines there
    (``lines``: flat, busy, steps across a part) are a gutter's - every one flat - or a
    seam's - stepping - in at least two parts and half of them, though a picture's flat edge
    beside it hid it from the cutter in some (each part is then cut there by its own cut of
    that kind, else by the others'); gutters come first, the widest claiming a line, a row
    gutter has the colour of the gutters between the columns (``level``: a box's mean grey),
    and a grid with gutters has no seams (those are its pictures' edges beside a gutter, or
    horizons that happen to line up). A cut that crosses one column only is a picture's own
    edge, cut at a later level."""
    other = 1 - axis
    lower = 0 if other == 1 else 1  # a box's start along the other axis
    reads = [lines(part, other) for part in parts]  # each part's lines across, read once
    gaps = [  # each part's cuts across (gutters' flat bands, seams), in the box's pixels
        [(part[lower] + a, part[lower] + b) for a, b in _cuts(*read)]
        for part, read in zip(parts, reads, strict=True)
    ]
    tolerance = max(2, least // 4)
    whole = (parts[0][0], parts[0][1], parts[-1][2], parts[-1][3])  # the grid's box
    between = [_between(a, b, axis) for a, b in pairwise(parts)]
    gutter = [level(g) for g in between if g[2] > g[0] and g[3] > g[1]]  # its columns' gutters
    shared: list[tuple[int, int]] = []
    for gap in sorted(
        {g for own in gaps for g in own}, key=lambda g: (g[1] == g[0], g[0] - g[1], g)
    ):
        if any(abs(gap[0] - s[0]) <= tolerance for s in shared):
            continue
        if gap[1] > gap[0] and gutter:  # a grid's gutters are of one colour: its rows' too
            row = _across(whole, gap, other)
            if abs(level(row) - float(np.median(gutter))) > GUTTER_LEVEL:
                continue
        held = sum(
            bool(_near(own, gap, tolerance)) or _holds(read[0], part[lower], gap)
            for part, own, read in zip(parts, gaps, reads, strict=True)
        )
        if held >= 2 and 2 * held >= len(parts):
            shared.append(gap)
    if gutter or any(b > a for a, b in shared):  # a grid with gutters has no seams: those
        shared = [(a, b) for a, b in shared if b > a]  # are edges (horizons lined up)
    if not shared:
        return None
    out: list[tuple[Box, int]] = []
    for part, own in zip(parts, gaps, strict=True):
        start = part[lower]
        cuts = sorted(
            max(_near(own, s, tolerance), key=lambda g: _overlap(g, s), default=s)
            for s in shared
            if s[1] > s[0] or _near(own, s, tolerance)  # a seam where it has its own
        )
        bounds = [start, *[x for g in cuts for x in g], part[lower + 2]]
        spans = [
            (bounds[i] - start, bounds[i + 1] - start)
            for i in range(0, len(bounds), 2)
            if bounds[i + 1] - bounds[i] >= least
        ]
        out.extend((cell, 2) for cell in _boxes(part, other, spans))
    return out


def _between(a: Box, b: Box, axis: int) -> Box:
    """The band between two neighbouring parts cut along ``axis`` (a gutter, or empty)."""
    return (a[2], a[1], b[0], a[3]) if axis == 1 else (a[0], a[3], a[2], b[1])


def _across(box: Box, gap: tuple[int, int], axis: int) -> Box:
    """The band ``gap`` across ``box`` (lines along ``axis``: rows when 0)."""
    return (box[0], gap[0], box[2], gap[1]) if axis == 0 else (gap[0], box[1], gap[1], box[3])


def _near(
    cuts: list[tuple[int, int]], at: tuple[int, int], tolerance: int
) -> list[tuple[int, int]]:
    """The ``cuts`` of the kind of ``at`` (a gutter, a seam) starting within ``tolerance``."""
    return [g for g in cuts if abs(g[0] - at[0]) <= tolerance and (g[1] > g[0]) == (at[1] > at[0])]


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return min(a[1], b[1]) - max(a[0], b[0])


def _holds(flat: np.ndarray, origin: int, gap: tuple[int, int]) -> bool:
    """Whether a part's lines (``flat``: which are, from ``origin``) hold a gutter at
    ``gap``: every line flat (a seam is held only where the part's own cuts have one)."""
    start, stop = gap[0] - origin, gap[1] - origin
    return 0 < start < stop < len(flat) and bool(flat[start:stop].all())


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

    def level(box: Box) -> float:
        return float(grey[box[1] : box[3], box[0] : box[2]].mean())

    def lines(box: Box, axis: int) -> tuple[np.ndarray, ...]:
        left, top, right, bottom = box
        return read(top, bottom, left, right, axis)

    def split(box: Box, axis: int) -> list[Box]:
        """``box`` cut along ``axis`` (1: by vertical lines), or [] when nothing cuts it."""
        n = box[2] - box[0] if axis == 1 else box[3] - box[1]
        cuts = _cuts(*lines(box, axis))
        return _boxes(box, axis, _parts(n, cuts, max(least, int(MIN_PART * n))))

    def cut(box: Box, depth: int) -> None:
        if depth == GRID_DEPTH:  # a grid's cell: kept whole even when it is cut further
            cells.append((False, box))
        for axis in (1, 0) if depth < MAX_DEPTH else ():
            parts = split(box, axis)
            if len(parts) >= 2:
                # the first level: a grid's columns (rows), cut by the rows they share
                levels = _grid_cells(parts, axis, lines, least, level) if depth == 0 else None
                for part, below in levels or [(part, 1) for part in parts]:
                    cut(part, depth + below)
                return
        if depth != GRID_DEPTH:
            cells.append((depth > GRID_DEPTH, box))

    top, bottom = int(content_rows[0]), int(content_rows[-1]) + 1
    cut((int(content_columns[0]), top, int(content_columns[-1]) + 1, bottom), 0)
    if len(cells) < 2:
        return None
    # a grid's cells before the parts cut out of them, each the largest first
    cells.sort(key=lambda c: (c[0], -(c[1][2] - c[1][0]) * (c[1][3] - c[1][1])))
    width, height = image.size
    return [
        (a * factor, b * factor, min(width, c * factor), min(height, d * factor))
        for _, (a, b, c, d) in cells[:MAX_CELLS]
    ]
