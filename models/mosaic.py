"""Pixelated (mosaic) pictures: found by their block grid, and seen again without it.

A pixelated copy - a whole picture put through a mosaic filter, a thumbnail blown up again
with nearest-neighbour, "8-bit" filters - is a grid of flat blocks. The model reads the
blocks' sharp edges as texture of their own and the copy's vector strays from its original's
far more than the lost detail explains. The same picture with its blocks averaged down to one
pixel each and enlarged smoothly is a blurred copy instead, which the model matches (blur
costs it little); and the blocks themselves are a thumbnail of the original, which a query
can compare by pixels (:mod:`search.descriptor.pixel_match`).

:func:`mosaic_grid` says whether a picture is such a grid, and how many blocks it has across
and down: along each axis, the mean step between neighbouring columns (rows) is large on a
few boundaries (an edge a resize softened counts once, at its middle) that lie on a regular
grid of at least ``MIN_BLOCK`` pixels - gaps of whole blocks where neighbours share a colour,
at most ``OFF_GRID`` of them off it - and carry ``EDGE_SHARE`` of all the steps. Photos,
screenshots, documents and generated scenes fail that (their edges do not keep a spacing);
a picture with only a part pixelated (a face hidden) seldom has a grid across the whole
(1 of 500 in ``bench/pixelated.py``) and keeps its one view. :func:`unblocked` makes the
smooth copy.

The thresholds were chosen on scratch sets of pixelated photos and scenes made with other
code and other block sizes than ``bench/pixelated.py``'s, which reports on the hold-out
sets; on those sets' 5,891 other files (photos, scenes and ten kinds of edits) it found no
grid (``bench/README.md``, "Pixelated copies").
"""

from __future__ import annotations

import numpy as np
from PIL import Image

MIN_BLOCKS = 6
"""Fewer blocks per side than this: no picture is left to recognise, or no grid to tell."""
MIN_BLOCK = 3.0
"""Pixels per block, at least (at the scale the picture is decoded at)."""
MAX_SIDE = 1024
"""Larger pictures are looked at reduced to this side (an integer factor, box averaged)."""
SMOOTH_SIDE = 448
"""The longer side of :func:`unblocked`'s picture, at most (twice the model's input)."""
EDGE_SHARE = 0.2
"""The share of all neighbouring steps that the block boundaries must carry, on each axis."""
EDGE_FACTOR = 4.0
"""A boundary's step, over the median step of its axis (plus one grey level), at least."""
PEAK_FRACTION = 0.1
"""A boundary's step, over the largest step of its axis, at least (flat pictures: a median
step of nothing would let noise count)."""
SPACING_SPREAD = 0.25
"""Boundaries at most this far (a fraction of the block) from a regular spacing."""
OFF_GRID = 0.1
"""The share of steps that may lie off the grid."""


def _boundaries(grey: np.ndarray, axis: int) -> int | None:
    """Blocks along ``axis`` of the grey image (1: across, 0: down), None when no regular
    grid of blocks carries its steps."""
    lines = grey[::2] if axis == 1 else grey[:, ::2]  # every other line: plenty to average
    steps = np.abs(np.diff(lines, axis=axis)).mean(axis=1 - axis, dtype=np.float32)
    total = float(steps.sum())
    if total <= 0:
        return None
    floor = max(EDGE_FACTOR * float(np.median(steps)) + 1.0, PEAK_FRACTION * steps.max())
    edges = np.flatnonzero(steps > floor)
    if len(edges) + 1 < MIN_BLOCKS or float(steps[edges].sum()) < EDGE_SHARE * total:
        return None
    # an edge softened by a resize spreads over neighbouring steps: one boundary, its middle
    starts = np.flatnonzero(np.diff(edges, prepend=-2) > 1)
    weight = np.add.reduceat(steps[edges], starts)
    middles = np.add.reduceat(steps[edges] * edges, starts) / weight
    if len(middles) + 1 < MIN_BLOCKS:
        return None
    block = float(np.median(np.diff(middles)))
    if block < MIN_BLOCK:
        return None
    # neighbouring blocks of one colour leave no step: a gap may span whole blocks; a few
    # steps off the grid (a detail at a pixel's scale, a JPEG block's edge) are passed over
    tolerance = max(1.0, SPACING_SPREAD * block)
    kept, spans, off = middles[0], 0, 0
    for middle in middles[1:]:
        span = round((middle - kept) / block)
        if span >= 1 and abs(middle - kept - span * block) <= tolerance:
            kept, spans = middle, spans + span
        else:
            off += 1
    if spans + 1 < MIN_BLOCKS or off > OFF_GRID * len(middles):
        return None
    block = float((kept - middles[0]) / spans)
    return round(grey.shape[axis] / block)


def mosaic_grid(image: Image.Image) -> tuple[int, int] | None:
    """``(blocks across, blocks down)`` when ``image`` is a pixelated picture, else None."""
    if min(image.size) < MIN_BLOCKS * MIN_BLOCK:
        return None
    if max(image.size) > MAX_SIDE:  # a large picture's blocks are large: its grid stays
        image = image.reduce(-(-max(image.size) // MAX_SIDE))
    grey = np.asarray(image.convert("L"), dtype=np.int16)
    across = _boundaries(grey, 1)
    if across is None:
        return None
    down = _boundaries(grey, 0)
    if down is None:
        return None
    return across, down


def unblocked(image: Image.Image, grid: tuple[int, int]) -> Image.Image:
    """``image`` with each block of ``grid`` averaged to one pixel, then enlarged smoothly
    back to its size (at most ``SMOOTH_SIDE``): the pixelated picture as a blurred one."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    small = rgb.resize(grid, Image.Resampling.BOX)
    scale = min(1.0, SMOOTH_SIDE / max(rgb.size))  # the model sees no more than this
    size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
    return small.resize(size, Image.Resampling.BICUBIC)
