"""A keeper that is a collage of a member's picture gives way to it (``dedup --verify``).

The keeper rules prefer the image with the most pixels, and a 2x2 collage holding a photo in
one cell has about the photo's pixels: the report kept the collage and listed the photo among
the duplicates to delete (37 of 176 groups of the hold-out photos-120 copy set). So each
group's keeper is looked at for collage cells (:func:`models.collage_cells`: gutters and seams
that cross the whole picture); where a member's key points, matched with a cell's, place the
member's picture inside the keeper with each side on a cut (within ``CUT_MARGIN`` of a cell's
side or the keeper's; the photo's own cell is often cut further) and not over all of it (at
most ``MOST`` of its area), at fewer pixels than the member has (``LARGER`` times fewer along
a side, at least; :func:`search.descriptor.placement`), the keeper is a collage made from that
member's picture: it is marked (:attr:`DedupImage.collage`, its photo that box), so the keeper
rules' ``frame`` rule prefers the member, as it prefers a photo to its screenshot, and the
groups are made again. Cells under ``SMALLEST`` of the keeper, and cells that have the
member's pixels already, are not matched.

Apps fill a cell with a photo of another shape by a centre crop: the member's picture then
covers its cell and passes it (``FILL_MOST``, ``FILL_PASSES``), at about the member's pixels
(``LARGER`` times them at most); that cell counts as its picture when, where the member passes
the cell, the keeper shows something else (``FILL_LEVELS``, ``FILL_AGREE``: gutters and other
pictures; a photo whose straight edges make cells of its own shows the rest of the member
there).

Each condition stops what the others let through: 1-2 % of photos have cells (a straight
horizon against a flat sky), but a copy of such a photo spans all of them; a crop lies inside
a part of its photo, but at the photo's scale (a crop along a horizon is not taken for the
photo's source); an enlarged copy of a photo with cells is larger, but spans them all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image

from models import collage_cells
from search.dedup.keeper import DedupImage
from search.descriptor import LocalFeatures, local_features, placement

#: a side of a member's picture, where the cells show it, lies this share of the keeper's side
#: from a cut (a cell's side, or the keeper's own)
CUT_MARGIN = 0.03
#: ... and the member's picture covers at most this share of the keeper (not all of it)
MOST = 0.8
#: the member holds the picture with this many times the keeper's pixels along a side
LARGER = 1.2
#: cells smaller than this share of the keeper are not matched (a 4x4 grid's cell: 1/16)
SMALLEST = 0.06
#: a member's picture that fills a cell by a centre crop covers at most this many times the
#: cell's area (a 2:1 photo in a square cell: 2), turned by at most FILL_ANGLE degrees ...
FILL_MOST = 3.0
FILL_ANGLE = 3.0
#: ... and passes it by this share of the cell's area at least, where the keeper (at
#: FILL_SIDE pixels) correlates with it under FILL_AGREE: it shows something else there
FILL_PASSES = 0.1
FILL_SIDE = 128
FILL_AGREE = 0.5
#: ... or where they differ by over this many grey levels on average (a smooth picture in the
#: next cell can correlate with the member's smooth edge by chance; the photo's own rest
#: differs by its JPEG noise)
FILL_LEVELS = 16.0
#: ... and by this many times more than in the cell, where the member's picture was laid with
#: its tones mapped onto the keeper's (a brightened or composited copy of a photo differs
#: from it inside the cell as outside: README's own augly original was taken for a collage)
FILL_BEYOND = 2.0

Box = tuple[float, float, float, float]  # (left, top, right, bottom) as shares of the keeper's


@dataclass(frozen=True, slots=True)
class Cells:
    """A keeper's cells (at least ``SMALLEST`` of it): their boxes in the decoded picture's
    pixels and as shares, their longer sides in the file's pixels, their key points (made when
    first matched); the cuts' positions across (x) and down (y), the keeper's sides among them."""

    pixels: list[tuple[int, int, int, int]]
    boxes: list[Box]
    sides: list[float]
    xs: np.ndarray
    ys: np.ndarray
    features: dict[int, LocalFeatures] = field(default_factory=dict)


class CollageKeepers:
    """``keeper, members -> keeper marked as a collage, or None`` (module doc); each keeper's
    cells found once, each cell's key points made once, each keeper-member pair matched once."""

    def __init__(
        self,
        picture: Callable[[int], Image.Image | None],
        key_points: Callable[[int], LocalFeatures | None],
    ) -> None:
        self.picture = picture  # image id -> its file decoded at the key points' draft
        self.key_points = key_points
        self.cells: dict[int, Cells | None] = {}
        self.inside: dict[tuple[int, int], Box | None] = {}  # (keeper, member) -> its picture
        self.marked: dict[int, DedupImage] = {}

    def __call__(
        self,
        keeper: DedupImage,
        members: Sequence[DedupImage],
        scores: Mapping[int, float] | None = None,
    ) -> DedupImage | None:
        if keeper.collage or keeper.id in self.marked:
            return None  # marked already: its group was made with it marked
        image = None
        if keeper.id not in self.cells:
            image = self.picture(keeper.id)
            self.cells[keeper.id] = _cells(keeper, image) if image is not None else None
        if (cells := self.cells[keeper.id]) is None:
            return None

        def picture() -> Image.Image | None:  # the keeper decoded once a call, when needed
            nonlocal image
            if image is None:
                image = self.picture(keeper.id)
            return image

        for member in members:
            key = (keeper.id, member.id)
            if key not in self.inside:
                self.inside[key] = self._held(member, cells, picture)
            if (box := self.inside[key]) is not None:
                shares = box[2] - box[0], box[3] - box[1]
                self.marked[keeper.id] = replace(keeper, frame=shares, collage=True)
                return self.marked[keeper.id]
        return None

    def _held(
        self, member: DedupImage, cells: Cells, picture: Callable[[], Image.Image | None]
    ) -> Box | None:
        """Where the keeper holds ``member``'s picture at fewer pixels than ``member`` has, its
        sides on cuts (a cell, or cells side by side), or the cell it fills by a centre crop
        at no more than ``LARGER`` times the member's pixels (module doc); None if neither."""
        theirs = self.key_points(member.id)
        if theirs is None:
            return None
        member_side = max(member.content_size)
        for n, (left, top, right, bottom) in enumerate(cells.boxes):
            if cells.sides[n] > LARGER * member_side:
                continue  # a picture over this cell, or filling it, has more pixels there
            if n not in cells.features:
                if (image := picture()) is None:
                    return None
                crop = image.crop(cells.pixels[n])
                cells.features[n] = local_features(crop, frames=False, mirrored=False)
            found = placement(theirs, cells.features[n])
            if found is None:
                continue
            # the cell's picture and the member's were both read at one longer side (SIDE):
            # in the files' pixels, the keeper shows a member pixel as scale * side / member_side
            shown = found.scale * cells.sides[n] / member_side
            w, h = right - left, bottom - top
            fl, ft, fr, fb = found.box
            box = (left + fl * w, top + ft * h, left + fr * w, top + fb * h)
            if shown * LARGER <= 1 and _on_cuts(box, cells):
                return box
            if shown <= LARGER and abs(found.angle) <= FILL_ANGLE and _fills(found.box):
                ours, member_picture = picture(), self.picture(member.id)
                if ours is None or member_picture is None:
                    continue
                if _shows_else(ours, member_picture, box, cells.boxes[n]):
                    return cells.boxes[n]  # the cell shows the member's middle: its picture
        return None


def _cells(keeper: DedupImage, image: Image.Image) -> Cells | None:
    """The cells of ``keeper``'s decoded ``image`` (:func:`models.collage_cells`), or None."""
    found = collage_cells(image)
    if not found:
        return None
    width, height = image.size
    shares = [(x / width, y / height, r / width, b / height) for x, y, r, b in found]
    kept = [n for n, (x, y, r, b) in enumerate(shares) if (r - x) * (b - y) >= SMALLEST]
    boxes = [shares[n] for n in kept]
    return Cells(
        [found[n] for n in kept],
        boxes,
        [max((r - x) * keeper.width, (b - y) * keeper.height) for x, y, r, b in boxes],
        np.unique([0.0, 1.0, *(x for box in shares for x in (box[0], box[2]))]),
        np.unique([0.0, 1.0, *(y for box in shares for y in (box[1], box[3]))]),
    )


def _fills(box: Box) -> bool:
    """Whether the member's picture, at ``box`` as shares of a cell, covers all of the cell
    (within ``CUT_MARGIN``) and passes it (a photo fitted to a cell by a centre crop), by at
    most ``FILL_MOST`` of the cell's area in all."""
    left, top, right, bottom = box
    covers = max(left, top) <= CUT_MARGIN and min(right, bottom) >= 1 - CUT_MARGIN
    return covers and (right - left) * (bottom - top) <= FILL_MOST


def _shows_else(keeper: Image.Image, member: Image.Image, box: Box, cell: Box) -> bool:
    """Whether, where the member's picture laid at ``box`` (shares of the keeper) passes
    ``cell``, the keeper shows something else: grey levels at ``FILL_SIDE`` pixels that differ
    by over ``FILL_LEVELS`` or correlate under ``FILL_AGREE``, over at least ``FILL_PASSES``
    of the cell's area - the member's tones first mapped onto the keeper's by a line fitted in
    the cell, where the two must correlate (else nothing can be told: False), and the levels'
    difference ``FILL_BEYOND`` times the cell's own. A crop of a photo
    whose straight edges make cells continues into the photo's other cells; a collage's
    neighbours are gutters and other pictures."""
    scale = FILL_SIDE / max(keeper.size)
    width, height = max(8, round(keeper.width * scale)), max(8, round(keeper.height * scale))
    ours = np.asarray(keeper.convert("L").resize((width, height), Image.Resampling.BOX), np.float32)
    left, top = round(box[0] * width), round(box[1] * height)
    w, h = round((box[2] - box[0]) * width), round((box[3] - box[1]) * height)
    if w < 2 or h < 2:
        return False
    laid = np.asarray(member.convert("L").resize((w, h), Image.Resampling.BOX), np.float32)
    theirs = np.full((height, width), np.nan, np.float32)
    x0, y0, x1, y1 = max(0, left), max(0, top), min(width, left + w), min(height, top + h)
    if x1 <= x0 or y1 <= y0:
        return False
    theirs[y0:y1, x0:x1] = laid[y0 - top : y1 - top, x0 - left : x1 - left]
    xs, ys = (np.arange(width) + 0.5) / width, (np.arange(height) + 0.5) / height
    in_cell = ((ys >= cell[1]) & (ys < cell[3]))[:, None] & ((xs >= cell[0]) & (xs < cell[2]))
    passes = ~np.isnan(theirs) & ~in_cell
    if passes.sum() < FILL_PASSES * in_cell.sum():
        return False  # too little of it outside the cell to tell
    inside = ~np.isnan(theirs) & in_cell
    if inside.sum() < 16 or float(theirs[inside].std()) < 1:
        return False
    # the member's tones mapped onto the keeper's where both show the cell: a brightened copy
    # differed from its photo by 58 grey levels outside the cell and inside it alike
    gain, offset = np.polyfit(theirs[inside], ours[inside], 1)
    theirs = gain * theirs + offset
    if _correlation(ours[inside], theirs[inside]) < FILL_AGREE:
        return False  # the cell is not the member's picture as laid (an overlay, a pasted
        # part): what passes it tells nothing
    within = float(np.abs(ours[inside] - theirs[inside]).mean())  # the cell's own mismatch
    beyond = float(np.abs(ours[passes] - theirs[passes]).mean())
    if beyond > max(FILL_LEVELS, FILL_BEYOND * within):
        return True  # other grey levels there than the cell's mismatch explains
    return _correlation(ours[passes], theirs[passes]) < FILL_AGREE


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson's correlation of two equal-length arrays (0 where either is flat)."""
    a, b = a - a.mean(), b - b.mean()
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / norm if norm > 0 else 0.0


def _on_cuts(box: Box, cells: Cells) -> bool:
    """Whether ``box`` is part of the keeper, not all of it, each side on a cut."""
    left, top, right, bottom = box
    if min(left, top) < -CUT_MARGIN or max(right, bottom) > 1 + CUT_MARGIN:
        return False
    if (right - left) * (bottom - top) > MOST:
        return False
    near = [np.abs(cells.xs - x).min() for x in (left, right)]
    near += [np.abs(cells.ys - y).min() for y in (top, bottom)]
    return max(near) <= CUT_MARGIN
