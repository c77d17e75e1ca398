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
        sides on cuts (a cell, or cells side by side); None if it does not."""
        theirs = self.key_points(member.id)
        if theirs is None:
            return None
        member_side = max(member.content_size)
        for n, (left, top, right, bottom) in enumerate(cells.boxes):
            if cells.sides[n] * LARGER > member_side:
                continue  # a picture over this cell has at least its pixels: not fewer
            if n not in cells.features:
                if (image := picture()) is None:
                    return None
                crop = image.crop(cells.pixels[n])
                cells.features[n] = local_features(crop, frames=False, mirrored=False)
            found = placement(theirs, cells.features[n])
            # the cell's picture and the member's were both read at one longer side (SIDE):
            # in the files' pixels, the keeper shows a member pixel as scale * side / member_side
            if found is None or found.scale * cells.sides[n] * LARGER > member_side:
                continue
            w, h = right - left, bottom - top
            fl, ft, fr, fb = found.box
            box = (left + fl * w, top + ft * h, left + fr * w, top + fb * h)
            if _on_cuts(box, cells):
                return box
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
