"""Query views: one decode, several embeddings (quarter turns, the photo inside a frame).

A copy may be turned by a quarter or half turn, or placed inside a screenshot or meme frame.
The library stores one vector per image (plus the framed photo's vector when
:func:`models.frame.find_content_box` finds a frame, see ``ImageAnalyzer(frames=True)``); the
*query* side pays for the variants instead: :func:`analyze_views` embeds the query turned by
0/90/180/270 degrees, and the photo inside its frame turned the same ways, in one batch; a
pixelated query adds its picture with the blocks smoothed out (:mod:`models.mosaic`).

View 0 is always the whole image (or region of interest) exactly as the indexer embeds it,
so ``ViewSet.embeddings[0] == analysis.embedding``. When the frame dominates the canvas
(:attr:`ContentBox.dominant`, a screenshot) :attr:`ViewSet.primary` names the views that
describe the photo rather than the frame.

``analyze_views(..., upright_only=True)`` embeds only the upright views (the image, and the
framed photo when there is one) and keeps the turned ones ready but unembedded:
:meth:`ViewSet.with_turns` embeds them when the caller needs them (a search whose upright
views leave the answer in doubt), so a query that is already settled pays for one or two
model passes instead of four to eight.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from models.collage import collage_cells
from models.extra_views import framed_photo
from models.frame import ContentBox, find_content_box
from models.layout import image_layout
from models.load import DecodedImage
from models.mosaic import mosaic_grid, unblocked
from models.roi import RegionOfInterest

if TYPE_CHECKING:
    from models.analysis import Analysis
    from models.analyzer import ImageAnalyzer
    from models.onnx_model import OnnxModel

ROTATIONS: tuple[int, ...] = (0, 90, 180, 270)
REGION_GRID = 2  # tiles per side of :meth:`ViewSet.regions` (a 2x2 collage's tiles)
HALVES_ASPECT = 1.45  # a query this many times wider than tall (or taller than wide) also
# looks with its two halves (:func:`half_boxes`): two pictures side by side or stacked
MIN_TILE_SIDE = 32  # px: smaller tiles say nothing
_TURN = {
    90: Image.Transpose.ROTATE_270,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_90,
}  # clockwise degrees -> Pillow transpose


@dataclass
class ViewSet:
    """Embeddings of several views of one query image.

    ``embeddings`` float32 [V, D] unit rows; ``names`` like ``"full"``, ``"full@90"``,
    ``"frame"``, ``"frame@270"``, ``"unblocked"``; ``frame`` the detected content box (or None);
    ``analysis`` the plain result of view 0 (labels, size, format, ...).
    """

    analysis: Analysis
    embeddings: np.ndarray
    names: tuple[str, ...]
    frame: ContentBox | None = None
    #: views not embedded yet (``upright_only``): name, upright model input, clockwise degrees
    pending: tuple[tuple[str, np.ndarray, int], ...] = ()
    model: OnnxModel | None = field(default=None, repr=False)
    #: the upright image (or region) the tiles of :meth:`regions` are cut from
    upright: Image.Image | None = field(default=None, repr=False)
    #: the decoded image (or region) itself, whatever its size
    picture: Image.Image | None = field(default=None, repr=False)
    #: a pixelated picture's blocks across and down (:func:`models.mosaic.mosaic_grid`)
    mosaic: tuple[int, int] | None = None
    #: the parts :meth:`regions` embedded, in its order: (left, top, right, bottom) as
    #: fractions of the upright image
    pieces: tuple[tuple[float, float, float, float], ...] = ()
    #: the whole image decoded at full size (no draft reduction, no region, not turned by
    #: the analyzer): its pixels are the file's (None otherwise)
    full_size: DecodedImage | None = field(default=None, repr=False)
    #: a region's query: the whole decoded image the region was cut from (None otherwise)
    whole: Image.Image | None = field(default=None, repr=False)

    @cached_property
    def layout(self) -> bytes | None:
        """The picture's grey-level layout (:func:`models.image_layout`), made on first use:
        only a query left in doubt asks for it."""
        return image_layout(self.picture) if self.picture is not None else None

    @cached_property
    def whole_layout(self) -> bytes | None:
        """A region's query: the grey-level layout of the whole image it was cut from (the
        library's photos of that picture hold the region); None otherwise."""
        return image_layout(self.whole) if self.whole is not None else None

    @property
    def complete(self) -> bool:
        """Every requested view is embedded."""
        return not self.pending

    def with_turns(self) -> ViewSet:
        """This view set with its pending (turned) views embedded in one batch (itself when
        none are pending)."""
        if not self.pending or self.model is None:
            return self
        batch = np.stack([turn_input(x, deg) for _, x, deg in self.pending])
        more = self.model.run(batch).embeddings.astype(np.float32)
        names = self.names + tuple(name for name, _, _ in self.pending)
        vectors = np.concatenate([self.embeddings, more])
        return replace(self, embeddings=vectors, names=names, pending=())

    def regions(self, grid: int = REGION_GRID) -> tuple[np.ndarray, int]:
        """Embeddings [N, D] of the upright image's parts and how many of them (the first)
        are collage cells (:func:`models.collage.collage_cells`; none when it has no gutters
        or seams); the rest are its tiles (a ``grid`` x ``grid`` split: a cell cut through a
        photo of its own leaves the tiles' evidence) and, for a wide or tall query, its two
        halves (:func:`half_boxes`: two pictures butted together, which seams inside either
        picture can cut into many cells); each through the model's own central crop.
        Evidence for a picture that fills only part of the query (one photo of a collage).
        Empty when unavailable."""
        if self.upright is None or self.model is None:
            return self._embedded([]), 0
        size = self.upright.size
        cells = collage_cells(self.upright) or []
        boxes = [*cells, *tile_boxes(size, grid), *half_boxes(size)]
        return self._embedded(boxes), len(cells)

    def cells(self) -> np.ndarray:
        """Embeddings [N, D] of the upright image's collage cells alone (no tiles, no halves;
        :attr:`pieces` then names these): a query settled by one picture, looked at for its
        others. Empty when it has no gutters or seams, or when unavailable."""
        if self.upright is None or self.model is None:
            return self._embedded([])
        return self._embedded(collage_cells(self.upright) or [])

    def _embedded(self, boxes: Sequence[tuple[int, int, int, int]]) -> np.ndarray:
        """Embeddings of the upright image's ``boxes`` (recorded as :attr:`pieces`)."""
        if not boxes or self.upright is None or self.model is None:
            return np.zeros((0, self.embeddings.shape[1]), np.float32)
        w, h = self.upright.size
        self.pieces = tuple((a / w, b / h, c / w, d / h) for a, b, c, d in boxes)
        batch = np.stack([self.model.preprocess(self.upright.crop(box)) for box in boxes])
        return self.model.run(batch).embeddings.astype(np.float32)

    @property
    def primary(self) -> np.ndarray:
        """Indices of the views that describe the photo: the frame's views when the frame
        dominates (a screenshot), else every view."""
        if self.frame is not None and self.frame.dominant:
            return np.array([i for i, n in enumerate(self.names) if n.startswith("frame")])
        return np.arange(len(self.names))


def turn(image: Image.Image, degrees: int) -> Image.Image:
    """``image`` turned clockwise by 0, 90, 180 or 270 degrees."""
    degrees %= 360
    if degrees == 0:
        return image
    if degrees not in _TURN:
        raise ValueError(f"rotation must be a multiple of 90 degrees, got {degrees}")
    return image.transpose(_TURN[degrees])


def tile_boxes(size: tuple[int, int], grid: int = REGION_GRID) -> list[tuple[int, int, int, int]]:
    """The boxes of a ``grid`` x ``grid`` split of an image of ``size``, row by row."""
    w, h = size
    return [
        (x * w // grid, y * h // grid, (x + 1) * w // grid, (y + 1) * h // grid)
        for y in range(grid)
        for x in range(grid)
    ]


def half_boxes(size: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """The two halves along the longer side of an image of ``size`` at least
    :data:`HALVES_ASPECT` times longer than its shorter side (none for another image)."""
    w, h = size
    if w >= HALVES_ASPECT * h:
        return [(0, 0, w // 2, h), (w // 2, 0, w, h)]
    if h >= HALVES_ASPECT * w:
        return [(0, 0, w, h // 2), (0, h // 2, w, h)]
    return []


def tiles(image: Image.Image, grid: int = REGION_GRID) -> list[Image.Image]:
    """``image`` cut into a ``grid`` x ``grid`` split, row by row."""
    return [image.crop(box) for box in tile_boxes(image.size, grid)]


def turn_input(tensor: np.ndarray, degrees: int) -> np.ndarray:
    """A model input [H, W, C] of an upright view turned clockwise by ``degrees``: the input
    of the turned image itself, within resampling rounding (the central crop and the square
    resize commute with quarter turns), without turning and resizing the image again.

    Turned as a grid of whole pixels (each pixel's channels one opaque item), then laid out
    in order: numpy's element-wise transposed copy of a [224, 224, 3] input cost ~0.9 ms a
    view, 4x this (the same bytes)."""
    quarters = -(int(degrees) % 360) // 90
    if tensor.ndim != 3 or quarters % 4 == 0:
        return np.rot90(tensor, quarters)
    pixels = np.ascontiguousarray(tensor)
    grid = pixels.view(np.dtype((np.void, pixels.shape[2] * pixels.itemsize)))[..., 0]
    turned = np.ascontiguousarray(np.rot90(grid, quarters))
    return turned.view(pixels.dtype).reshape(*turned.shape, pixels.shape[2])


def region_image(decoded: DecodedImage, roi: RegionOfInterest | None) -> Image.Image:
    """The decoded image, or the part of it the region of interest covers."""
    if roi is None:
        return decoded.image
    left, top, right, bottom = roi.to_box(decoded.width, decoded.height)
    sx, sy = decoded.scale
    box = (
        int(left * sx),
        int(top * sy),
        max(int(left * sx) + 1, round(right * sx)),
        max(int(top * sy) + 1, round(bottom * sy)),
    )
    return decoded.image.crop(box)


def view_images(
    image: Image.Image,
    rotations: Sequence[int] = ROTATIONS,
    frame: ContentBox | None = None,
    photo: Image.Image | None = None,
) -> list[tuple[str, Image.Image]]:
    """``(name, image)`` for each rotation of the whole image, then of the framed photo
    (``photo``, else cut from ``image``)."""
    views = [("full" if r == 0 else f"full@{r}", turn(image, r)) for r in rotations]
    if frame is not None:
        photo = photo if photo is not None else frame.crop(image)
        views += [("frame" if r == 0 else f"frame@{r}", turn(photo, r)) for r in rotations]
    return views


def analyze_views(
    analyzer: ImageAnalyzer,
    source: object,
    roi: object = None,
    *,
    rotations: Sequence[int] = ROTATIONS,
    frames: bool = True,
    upright_only: bool = False,
    unblock: bool = True,
) -> ViewSet:
    """Decode ``source`` once and embed its views in one batch (raises its ImageError).

    The frame is looked for only in whole images (a region of interest is already the part
    the user wants). ``rotations`` must start with 0 (view 0 is the indexed view). With
    ``upright_only`` the turned views are left for :meth:`ViewSet.with_turns` to turn and
    embed. With ``unblock``, a pixelated picture (:func:`models.mosaic.mosaic_grid`; whole
    images without a frame, or regions) adds an upright view ``"unblocked"``: its blocks
    averaged and enlarged smoothly (:func:`models.mosaic.unblocked`).
    """
    from models.errors import ImageError

    rotations = tuple(int(r) % 360 for r in rotations) or (0,)
    if rotations[0] != 0:
        raise ValueError("the first rotation must be 0 (the view the library stores)")
    prepared = analyzer.prepare(source, roi)
    if isinstance(prepared, ImageError):
        raise prepared
    frame = None
    if frames and prepared.region is None:
        image = prepared.decoded.image
        frame = find_content_box(image if image.mode == "RGB" else image.convert("RGB"))
    photo = (
        framed_photo(
            analyzer.model,
            source,
            prepared.decoded,
            frame,
            analyzer.rotation_degrees,
            analyzer.max_pixels,
        )
        if frame is not None
        else None
    )
    model = analyzer.model
    picture = upright = region_image(prepared.decoded, prepared.region)
    uprights = [("full", prepared.tensor)]
    if photo is not None:
        uprights.append(("frame", model.preprocess(photo)))
    views = [(n if r == 0 else f"{n}@{r}", x, r) for n, x in uprights for r in rotations]
    now = [v for v in views[1:] if not (upright_only and v[2])]  # view 0: the plain path
    grid = mosaic_grid(picture) if unblock and frame is None else None
    if grid is not None:  # a pixelated picture: its blocks smoothed out too (upright only)
        now.append(("unblocked", model.preprocess(unblocked(picture, grid)), 0))
    later = tuple(v for v in views if upright_only and v[2])
    # view 0 and the others in one model run (one batch: ~6 % less CPU than two runs)
    more = [np.stack([turn_input(x, r) for _, x, r in now])] if now else None
    base = analyzer.infer_prepared(prepared, more=more)
    if isinstance(base, ImageError):
        raise base
    embeddings = [base.embedding[None]] + (more or [])
    names = ("full", *(name for name, _, _ in now))
    vectors = np.concatenate(embeddings).astype(np.float32)
    if min(upright.size) < REGION_GRID * MIN_TILE_SIDE:
        upright = None
    elif upright.mode != "RGB":
        upright = upright.convert("RGB")
    decoded = prepared.decoded
    whole = prepared.region is None and not decoded.reduced and not analyzer.rotation_degrees
    full = decoded if whole else None  # the query's pixels, for its exact copies
    cut_from = decoded.image if prepared.region is not None else None  # a region's image
    return ViewSet(
        base, vectors, names, frame, later, model, upright, picture, grid, (), full, cut_from
    )


def turned_embeddings(
    analyzer: ImageAnalyzer, source: object, rotations: Sequence[int] = (90, 180, 270)
) -> np.ndarray:
    """Embeddings [len(rotations), D] of the whole image ``source`` turned clockwise by each
    of ``rotations`` (one model run, no upright view, no frame search); raises its
    ImageError."""
    from models.errors import ImageError

    prepared = analyzer.prepare(source, None)
    if isinstance(prepared, ImageError):
        raise prepared
    batch = np.stack([turn_input(prepared.tensor, r) for r in rotations])
    return analyzer.model.run(batch).embeddings.astype(np.float32)
