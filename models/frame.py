"""Find the photo inside a frame: screenshots, meme captions, letterbox or padding borders.

A copy of a photo is often the photo placed inside something else: an app or browser
screenshot (flat UI colours, bars, a few lines of text), white caption bars above or below,
a coloured padding. The embedding of the whole canvas then describes the frame more than the
photo. :func:`find_content_box` finds the photo's rectangle so that it can be embedded on its
own (numpy only, about a millisecond on a 224-px decode; most photos leave at the first test).

Method, on a grid of at most ``GRID`` x ``GRID`` cells of 2 x 2 pixels:

1. a cell is *flat* when its pixels differ by at most ``FLAT_TOLERANCE`` levels; photos whose
   border has few flat cells, or flat cells of many colours, are not framed (early exits);
2. the frame's colours are the flat colours on the border; the *background* is every flat cell
   of one of those colours (within ``COLOUR_TOLERANCE``) connected to the border;
3. the content is everything else; its largest 4-connected component is the photo, and the
   component's bounding box is returned when it covers ``MIN_FILL`` of the box (a rectangle,
   not scattered text) and the box is at most ``MAX_AREA`` of the image (a real frame).

When that strict pass finds nothing, a *relaxed* pass looks again for a frame that was shrunk
or JPEG-compressed after framing (a screenshot re-posted as an 80-px thumbnail: its flat
colours are noisy and its bars, text lines and the photo blur into one blob). Flatness and
colour tolerances are wider (``RELAXED_FLAT_TOLERANCE``, ``RELAXED_COLOUR_TOLERANCE``) and the
content is *opened* (eroded by 1, then 2 cells, the component's box grown back by as much)
so that thin bars and text lines no longer join the photo; only a dominant box (a photo small
in its frame, :attr:`ContentBox.dominant`) is accepted there. For thumbnails the strict pass
tries the same openings when the plain component is not a solid rectangle. Larger images
(over ``RELAXED_MAX_SIDE``) only get the strict pass.

Before all that, a canvas with filled corners (two or more corners of one flat colour along
both borders) is tried as a *tilted* photo (:mod:`models.frame_tilted`: turned with or
without growing its canvas, or a cut of one): its box then comes with the angle that stands
it upright (:attr:`ContentBox.angle`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from models.frame_tilted import MIN_CORNERS, MIN_LEG, tilted_photo
from models.grid_regions import erode, flood_from_border, largest_component_box

GRID = 96  # cells along the longer side
CELL = 2  # pixels per cell side
FLAT_TOLERANCE = 4  # max - min within a flat cell, per channel
COLOUR_TOLERANCE = 6  # a background cell's colour distance (max channel) to a frame colour
MIN_FLAT_BORDER = 0.3  # share of flat border cells below which there is no frame
MIN_FILL = 0.8  # share of the box covered by the photo component
MAX_AREA = 0.9  # larger boxes are no frame worth a second embedding
DOMINANT_AREA = 0.6  # below this the frame dominates the canvas (screenshot-like)
MIN_SIDE_CELLS = 6  # a photo narrower than this many cells is too small to embed
MAX_FRAME_COLOURS = 8  # UI frames use a few flat colours; a photo's border has many
MIN_COLOUR_SHARE = 0.04  # a frame colour covers at least this share of the border
MIN_REGION_SHARE = 0.05  # or a flat area of that colour reached from the border covers this
RELAXED_FLAT_TOLERANCE = 12  # second pass: shrunk / JPEG-compressed frames are noisy
RELAXED_COLOUR_TOLERANCE = 16
RELAXED_OPENING = (1, 2)  # erosion radii (cells) tried after the plain component
RELAXED_MAX_SIDE = 256  # openings and wider tolerances only for thumbnails (in larger images
# smooth photo backgrounds and objects on plain backgrounds then pass for frames)


@dataclass(frozen=True)
class ContentBox:
    """The photo's rectangle as fractions of the (upright) image, and how solid it is. A
    tilted photo (:mod:`models.frame_tilted`) has ``angle``: the degrees counter-clockwise
    that stand the image upright about its centre, the box being the photo's rectangle
    then."""

    left: float
    top: float
    right: float
    bottom: float
    fill: float
    angle: float = 0.0

    @property
    def area(self) -> float:
        """Share of the image the box covers."""
        return (self.right - self.left) * (self.bottom - self.top)

    @property
    def dominant(self) -> bool:
        """The frame covers most of the canvas: the whole-image embedding describes the frame
        (a screenshot), so the photo's own embedding should replace it."""
        return self.area < DOMINANT_AREA

    def pixel_box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """``(left, top, right, bottom)`` in pixels of an image of that size (never empty)."""
        left, top = int(self.left * width), int(self.top * height)
        right = max(left + 1, min(width, round(self.right * width)))
        bottom = max(top + 1, min(height, round(self.bottom * height)))
        return left, top, right, bottom

    def crop(self, image: Image.Image) -> Image.Image:
        """The photo cut out of ``image`` (any size: the box is relative), upright."""
        if self.angle:
            image = image.rotate(self.angle, Image.Resampling.BILINEAR)
        return image.crop(self.pixel_box(image.width, image.height))


def _grid(image: Image.Image) -> tuple[int, int] | None:
    """Cells across and down (never upsampled: interpolation looks flat), or None if tiny."""
    w, h = image.size
    scale = min(1.0, GRID * CELL / max(w, h))
    gw, gh = max(1, round(w * scale) // CELL), max(1, round(h * scale) // CELL)
    return None if min(gw, gh) < MIN_SIDE_CELLS else (gw, gh)


def _cells(
    image: Image.Image, cols: int, rows: int, box: tuple[float, float, float, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell spread (uint8 [rows, cols]: largest channel difference of its pixels; a cell
    is flat when it is small) and mean colour (float32 [rows, cols, 3]) of ``image`` (or of
    its ``box``) on a ``cols`` x ``rows`` grid."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    if box is not None:
        rgb = rgb.crop(tuple(round(v) for v in box))
    factor = min(rgb.width // (cols * CELL), rgb.height // (rows * CELL))
    if factor >= 2:  # integer pre-reduction is much cheaper than a large BOX resize
        rgb = rgb.reduce(factor)
    pixels = np.asarray(rgb.resize((cols * CELL, rows * CELL), Image.Resampling.BOX))
    # the 2 x 2 pixels of each cell (CELL = 2), combined pairwise: numpy's reductions over
    # short axes cost more than these few element-wise passes
    a, b = pixels[0::2, 0::2], pixels[0::2, 1::2]
    c, d = pixels[1::2, 0::2], pixels[1::2, 1::2]
    high = np.maximum(np.maximum(a, b), np.maximum(c, d))
    low = np.minimum(np.minimum(a, b), np.minimum(c, d))
    diff = high - low  # uint8: high >= low, no wrap-around
    spread = np.maximum(np.maximum(diff[..., 0], diff[..., 1]), diff[..., 2])
    means = (a.astype(np.uint16) + b + c + d).astype(np.float32) / 4  # exact sums
    return spread, means


def _border_strips(image: Image.Image, gw: int, gh: int) -> tuple[np.ndarray, np.ndarray]:
    """Spread [B] and mean colour [B, 3] of the border cells (one cell deep), strips only."""
    w, h = image.size
    cw, ch = w / gw, h / gh
    strips = [
        _cells(image, gw, 1, (0, 0, w, ch)),
        _cells(image, gw, 1, (0, h - ch, w, h)),
        _cells(image, 1, gh, (0, 0, cw, h)),
        _cells(image, 1, gh, (w - cw, 0, w, h)),
    ]
    return (
        np.concatenate([f.ravel() for f, _ in strips]),
        np.concatenate([m.reshape(-1, 3) for _, m in strips]),
    )


def _border_is_flat(spread: np.ndarray, colours: np.ndarray, tolerance: int) -> bool:
    """The quick test most photos stop at, on the border strips alone: enough flat cells,
    mostly in a few frame colours (a blurred background has many shades)."""
    flat = spread <= tolerance
    if flat.mean() < MIN_FLAT_BORDER:
        return False
    means = colours[flat]
    _, counts = np.unique(_colour_keys(means), return_counts=True)
    kept = counts[counts >= max(3, MIN_COLOUR_SHARE * flat.size)]
    return 0 < len(kept) <= MAX_FRAME_COLOURS and kept.sum() >= MIN_FLAT_BORDER * flat.size


def _colour_keys(colours: np.ndarray) -> np.ndarray:
    """One integer per colour quantised to 8 levels a channel."""
    return (colours // 8).astype(np.int32) @ np.array([1024, 32, 1], np.int32)


def _border(a: np.ndarray) -> np.ndarray:
    return np.concatenate([a[0], a[-1], a[1:-1, 0], a[1:-1, -1]])


def _frame_colours(flat: np.ndarray, means: np.ndarray) -> np.ndarray:
    """The colours (quantised to 8 levels, [K, 3]) of the flat border cells that each cover
    at least ``MIN_COLOUR_SHARE`` of the border (a frame's colours run along it), and of the
    flat areas reached from the border that cover ``MIN_REGION_SHARE`` of the image (a
    screenshot's main panel may touch the border only beside the photo)."""
    border_flat = _border(flat)
    colours = _border(means)[border_flat]
    keys, counts = np.unique(_colour_keys(colours), return_counts=True)
    keys = keys[counts >= max(3, MIN_COLOUR_SHARE * border_flat.size)]
    region = flood_from_border(flat)
    inner, inner_counts = np.unique(_colour_keys(means[region]), return_counts=True)
    keys = np.union1d(keys, inner[inner_counts >= MIN_REGION_SHARE * flat.size])
    quantised = np.stack([keys // 1024, (keys // 32) % 32, keys % 32], axis=-1)
    return quantised.astype(np.float32) * 8 + 4


def _colour_distance(means: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """Each cell's distance (largest channel difference) to the nearest of ``colours``: one
    colour at a time, channels combined pairwise (a reduction over the short channel axis
    of a [rows, cols, K, 3] array costs several times more)."""
    near = None
    for colour in colours:
        diff = np.abs(means - colour)
        dist = np.maximum(np.maximum(diff[..., 0], diff[..., 1]), diff[..., 2])
        near = dist if near is None else np.minimum(near, dist)
    return near


def _trim_bars(
    content: np.ndarray, top: int, bottom: int, left: int, right: int
) -> tuple[int, int, int, int]:
    """Drop edge rows / columns of the box that are mostly background, or that belong to a
    bar crossing the frame: mostly content outside the box too (an app bar blurred into the
    photo)."""

    def bar(line: np.ndarray, start: int, stop: int) -> bool:
        outside = np.concatenate([line[:start], line[stop:]])
        return line[start:stop].mean() < 0.5 or (
            outside.size >= MIN_SIDE_CELLS and outside.mean() > 0.5
        )

    while bottom - top > MIN_SIDE_CELLS and right - left > MIN_SIDE_CELLS:
        if bar(content[top], left, right):
            top += 1
        elif bar(content[bottom - 1], left, right):
            bottom -= 1
        elif bar(content[:, left], top, bottom):
            left += 1
        elif bar(content[:, right - 1], top, bottom):
            right -= 1
        else:
            break
    return top, bottom, left, right


def _find_box(
    cells: Callable[[], tuple[np.ndarray, np.ndarray]],
    flat_tolerance: int,
    colour_tolerance: int,
    openings: tuple[int, ...],
    max_area: float = MAX_AREA,
) -> ContentBox | None:
    """One pass of the method (module doc) on the image's ``cells`` (spread and mean
    colour, computed when first asked) with these tolerances, erosion radii and largest
    box area."""
    spread, means = cells()
    flat = spread <= flat_tolerance
    if _border(flat).mean() < MIN_FLAT_BORDER:
        return None
    colours = _frame_colours(flat, means)
    if not 0 < len(colours) <= MAX_FRAME_COLOURS:
        return None
    near = _colour_distance(means, colours)
    content = ~flood_from_border(flat & (near <= colour_tolerance))
    gh, gw = flat.shape
    for radius in openings:
        found = largest_component_box(erode(content, radius))
        if found is None:
            continue
        top, bottom, left, right, size = found
        top, left = max(0, top - radius), max(0, left - radius)
        bottom, right = min(gh, bottom + radius), min(gw, right + radius)
        if min(bottom - top, right - left) < MIN_SIDE_CELLS:
            continue
        # strict pass: the photo component itself must fill its box; opened content: any
        # content cell of the box counts (the erosion took the component's edge cells), and
        # the accepted box is then cut free of bars and empty edges
        fill = float(
            content[top:bottom, left:right].mean()
            if radius
            else size / ((bottom - top) * (right - left))
        )
        if fill < MIN_FILL or (bottom - top) * (right - left) > max_area * gh * gw:
            continue
        if radius:
            top, bottom, left, right = _trim_bars(content, top, bottom, left, right)
        return ContentBox(left / gw, top / gh, right / gw, bottom / gh, fill)
    return None


def _filled_corners(spread: np.ndarray, colours: np.ndarray, gw: int, gh: int) -> np.ndarray:
    """The colour [K, 3] of the canvas corners filled with one colour: the largest group, of
    at least :data:`MIN_CORNERS` corners, whose first :data:`MIN_LEG` border cells both ways
    are flat and of that colour (``spread`` and ``colours``: the border strips of
    :func:`_border_strips`, top, bottom, left, right); empty for most photos."""
    leg = np.arange(MIN_LEG)
    top, bottom, left, right = leg, gw + leg, 2 * gw + leg, 2 * gw + gh + leg
    # per corner (clockwise from the top left): its cell, then the border cells both ways
    cells = np.stack(
        [
            np.concatenate([top, left]),
            np.concatenate([gw - 1 - leg, right]),
            np.concatenate([2 * gw - 1 - leg, 2 * gw + 2 * gh - 1 - leg]),
            np.concatenate([bottom, 2 * gw + gh - 1 - leg]),
        ]
    )
    corner = colours[cells[:, 0]]  # [4, 3]
    near = np.abs(colours[cells] - corner[:, None]).max(axis=2) <= COLOUR_TOLERANCE
    flat = spread[cells] <= FLAT_TOLERANCE
    found = corner[(near & flat).all(axis=1)]
    if len(found) < MIN_CORNERS:
        return found[:0]
    alike = np.abs(found[:, None] - found[None]).max(axis=2) <= COLOUR_TOLERANCE
    group = alike[int(alike.sum(axis=1).argmax())]
    return found[group] if group.sum() >= MIN_CORNERS else found[:0]


def _tilted_box(
    image: Image.Image,
    grid: tuple[int, int],
    border: tuple[np.ndarray, np.ndarray],
    cells: Callable[[], tuple[np.ndarray, np.ndarray]],
) -> ContentBox | None:
    """The box of a tilted photo on filled corners (:mod:`models.frame_tilted`), or None."""
    corners = _filled_corners(*border, *grid)
    if not len(corners):
        return None
    cell_spread, means = cells()
    near = _colour_distance(means, corners) <= COLOUR_TOLERANCE
    found = tilted_photo(flood_from_border((cell_spread <= FLAT_TOLERANCE) & near), image.size)
    if found is None:
        return None
    angle, (left, top, right, bottom) = found
    return ContentBox(left, top, right, bottom, 1.0, angle)


def find_content_box(image: Image.Image) -> ContentBox | None:
    """The photo's box inside a frame, or ``None`` when ``image`` is not framed."""
    grid = _grid(image)
    if grid is None:
        return None
    spread, colours = _border_strips(image, *grid)
    cells = functools.cache(lambda: _cells(image, *grid))  # one pass, when first needed
    tilted = _tilted_box(image, grid, (spread, colours), cells)
    if tilted is not None:
        return tilted
    thumbnail = max(image.size) <= RELAXED_MAX_SIDE
    if _border_is_flat(spread, colours, FLAT_TOLERANCE):
        openings = (0, *RELAXED_OPENING) if thumbnail else (0,)
        box = _find_box(cells, FLAT_TOLERANCE, COLOUR_TOLERANCE, openings)
        if box is not None:
            return box
    if thumbnail and _border_is_flat(spread, colours, RELAXED_FLAT_TOLERANCE):
        return _find_box(
            cells,
            RELAXED_FLAT_TOLERANCE,
            RELAXED_COLOUR_TOLERANCE,
            RELAXED_OPENING,
            DOMINANT_AREA,
        )
    return None
