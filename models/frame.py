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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

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


@dataclass(frozen=True)
class ContentBox:
    """The photo's rectangle as fractions of the (upright) image, and how solid it is."""

    left: float
    top: float
    right: float
    bottom: float
    fill: float

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
        """The photo cut out of ``image`` (any size: the box is relative)."""
        return image.crop(self.pixel_box(image.width, image.height))


def _grid(image: Image.Image) -> tuple[int, int] | None:
    """Cells across and down (never upsampled: interpolation looks flat), or None if tiny."""
    w, h = image.size
    scale = min(1.0, GRID * CELL / max(w, h))
    gw, gh = max(1, round(w * scale) // CELL), max(1, round(h * scale) // CELL)
    return None if min(gw, gh) < MIN_SIDE_CELLS else (gw, gh)


def _cells(image: Image.Image, cols: int, rows: int,
           box: tuple[float, float, float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell flatness (bool [rows, cols]) and mean colour (float32 [rows, cols, 3]) of
    ``image`` (or of its ``box``) on a ``cols`` x ``rows`` grid."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    if box is not None:
        rgb = rgb.crop(tuple(round(v) for v in box))
    factor = min(rgb.width // (cols * CELL), rgb.height // (rows * CELL))
    if factor >= 2:  # integer pre-reduction is much cheaper than a large BOX resize
        rgb = rgb.reduce(factor)
    pixels = np.asarray(rgb.resize((cols * CELL, rows * CELL), Image.Resampling.BOX))
    corners = [pixels[dy::CELL, dx::CELL] for dy in range(CELL) for dx in range(CELL)]
    high, low = corners[0], corners[0]
    for corner in corners[1:]:
        high, low = np.maximum(high, corner), np.minimum(low, corner)
    spread = (high - low).max(axis=-1)  # uint8: high >= low, no wrap-around
    means = sum(c.astype(np.float32) for c in corners) / len(corners)
    return spread <= FLAT_TOLERANCE, means


def _border_is_flat(image: Image.Image, gw: int, gh: int) -> bool:
    """The quick test most photos stop at, on the border strips alone (one cell deep): enough
    flat cells, mostly in a few frame colours (a blurred background has many shades)."""
    w, h = image.size
    cw, ch = w / gw, h / gh
    strips = [_cells(image, gw, 1, (0, 0, w, ch)), _cells(image, gw, 1, (0, h - ch, w, h)),
              _cells(image, 1, gh, (0, 0, cw, h)), _cells(image, 1, gh, (w - cw, 0, w, h))]
    flat = np.concatenate([f.ravel() for f, _ in strips])
    if flat.mean() < MIN_FLAT_BORDER:
        return False
    means = np.concatenate([m.reshape(-1, 3) for _, m in strips])[flat]
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
    at least ``MIN_COLOUR_SHARE`` of the border: a frame's colours run along it."""
    border_flat = _border(flat)
    colours = _border(means)[border_flat]
    keys, counts = np.unique(_colour_keys(colours), return_counts=True)
    keys = keys[counts >= max(3, MIN_COLOUR_SHARE * border_flat.size)]
    quantised = np.stack([keys // 1024, (keys // 32) % 32, keys % 32], axis=-1)
    return quantised.astype(np.float32) * 8 + 4


def _flood_from_border(allowed: np.ndarray) -> np.ndarray:
    """Cells of ``allowed`` 4-connected to the image border through ``allowed`` cells."""
    reached = np.zeros_like(allowed)
    reached[0], reached[-1] = allowed[0], allowed[-1]
    reached[:, 0] |= allowed[:, 0]
    reached[:, -1] |= allowed[:, -1]
    while True:
        grown = reached.copy()
        grown[1:] |= reached[:-1]
        grown[:-1] |= reached[1:]
        grown[:, 1:] |= reached[:, :-1]
        grown[:, :-1] |= reached[:, 1:]
        grown &= allowed
        if np.array_equal(grown, reached):
            return reached
        reached = grown


def label_components(mask: np.ndarray) -> np.ndarray:
    """4-connected component labels (0 = background, 1..K) by union-find over row runs."""
    parent: list[int] = []

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    runs: list[tuple[int, int, int, int]] = []
    previous: list[tuple[int, int, int]] = []
    padded = np.zeros((mask.shape[0], mask.shape[1] + 2), np.int8)
    padded[:, 1:-1] = mask
    edges = np.diff(padded, axis=1)
    for y in range(mask.shape[0]):
        starts = np.flatnonzero(edges[y] == 1).tolist()
        ends = np.flatnonzero(edges[y] == -1).tolist()
        current = []
        j = 0
        for start, end in zip(starts, ends, strict=True):
            run = len(parent)
            parent.append(run)
            while j < len(previous) and previous[j][1] <= start:
                j += 1
            k = j
            while k < len(previous) and previous[k][0] < end:  # overlapping run above
                a, b = find(previous[k][2]), find(run)
                if a != b:
                    parent[max(a, b)] = min(a, b)
                k += 1
            current.append((start, end, run))
            runs.append((y, start, end, run))
        previous = current
    labels = np.zeros(mask.shape, np.int32)
    roots: dict[int, int] = {}
    for y, start, end, run in runs:
        labels[y, start:end] = roots.setdefault(find(run), len(roots) + 1)
    return labels


def find_content_box(image: Image.Image) -> ContentBox | None:
    """The photo's box inside a frame, or ``None`` when ``image`` is not framed."""
    grid = _grid(image)
    if grid is None or not _border_is_flat(image, *grid):
        return None
    flat, means = _cells(image, *grid)
    if _border(flat).mean() < MIN_FLAT_BORDER:
        return None
    colours = _frame_colours(flat, means)
    if not 0 < len(colours) <= MAX_FRAME_COLOURS:
        return None
    near = np.abs(means[:, :, None, :] - colours[None, None]).max(axis=-1).min(axis=-1)
    background = _flood_from_border(flat & (near <= COLOUR_TOLERANCE))
    labels = label_components(~background)
    if labels.max() == 0:
        return None
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    ys, xs = np.nonzero(labels == int(sizes.argmax()))
    top, bottom, left, right = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    if min(bottom - top, right - left) < MIN_SIDE_CELLS:
        return None
    gh, gw = flat.shape
    fill = float(sizes.max() / ((bottom - top) * (right - left)))
    box = ContentBox(float(left / gw), float(top / gh), float(right / gw), float(bottom / gh), fill)
    if box.fill < MIN_FILL or box.area > MAX_AREA:
        return None
    return box
