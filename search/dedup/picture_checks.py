"""What dedup's checks of the pictures themselves share (:mod:`search.dedup.padded`,
:mod:`search.dedup.cropped`): each image's file decoded once a call, its key points once a
run, and a keeper marked once.

The key points are those of the whole picture: a box found by them is a box of the image.
The library's stored key points are found in the photo inside a frame where
:func:`models.find_content_box` finds one at their draft (and the indexer, at its smaller
decode, may not: a screenshot kept over its photo had no stored frame, and its stored key
points placed the photo over all of it); those, told by their picture's aspect ratio
(``FRAMED_ASPECT``), are made again from the whole picture.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from PIL import Image

from search.dedup.keeper import DedupImage
from search.descriptor import LocalFeatures, local_features, placement

Box = tuple[float, float, float, float]
Picture = Callable[[int], Image.Image | None]

#: stored key points were found inside a frame when their picture's aspect ratio is this
#: factor or more from the image's (either way up; resizing rounds it by under 0.3 %)
FRAMED_ASPECT = 1.01


class PictureCheck:
    """``keeper, members, scores -> the keeper marked, or None``; ``picture(id)``: the
    image's file decoded upright (None: gone or unreadable); ``key_points(id)``: its stored
    key points (None: made here from the picture). Subclasses say which members to look at
    and how a keeper is marked (:meth:`mark`)."""

    def __init__(
        self, picture: Picture, key_points: Callable[[int], LocalFeatures | None] | None = None
    ) -> None:
        self.picture = picture
        self.key_points = key_points
        self.features: dict[int, LocalFeatures | None] = {}
        self.marked: dict[int, DedupImage] = {}

    def __call__(
        self,
        keeper: DedupImage,
        members: Sequence[DedupImage],
        scores: Mapping[int, float] | None = None,
    ) -> DedupImage | None:
        if keeper.frame is not None or keeper.crop or keeper.id in self.marked:
            return None  # framed already, or marked: the frame rule has its say
        pictures: dict[int, Image.Image | None] = {}

        def picture_of(image_id: int) -> Image.Image | None:
            if image_id not in pictures:
                pictures[image_id] = self.picture(image_id)
            return pictures[image_id]

        marked = self.mark(keeper, members, scores or {}, picture_of)
        if marked is not None:
            self.marked[keeper.id] = marked
        return marked

    def mark(
        self,
        keeper: DedupImage,
        members: Sequence[DedupImage],
        scores: Mapping[int, float],
        picture_of: Picture,
    ) -> DedupImage | None:
        raise NotImplementedError

    def pair_key_points(
        self, keeper: DedupImage, member: DedupImage, picture_of: Picture
    ) -> tuple[LocalFeatures, LocalFeatures] | None:
        """The keeper's and the member's key points (None: either has none)."""
        mine, theirs = (
            self.image_key_points(keeper, picture_of),
            self.image_key_points(member, picture_of),
        )
        return None if mine is None or theirs is None else (mine, theirs)

    def image_key_points(self, image: DedupImage, picture_of: Picture) -> LocalFeatures | None:
        """The key points of ``image``'s whole picture: stored ones, unless found inside a
        frame (module doc), else made from its picture (None: none, or no picture)."""
        if image.id not in self.features:
            stored = None if self.key_points is None else self.key_points(image.id)
            if self.key_points is not None and (stored is None or not in_frame(stored, image)):
                self.features[image.id] = stored
            else:
                picture = picture_of(image.id)
                self.features[image.id] = (
                    None
                    if picture is None
                    else local_features(picture, frames=False, mirrored=False)
                )
        return self.features[image.id]


def in_frame(features: LocalFeatures, image: DedupImage) -> bool:
    """Whether ``features`` were found in a part of ``image`` (the photo inside its frame):
    their picture's aspect ratio is :data:`FRAMED_ASPECT` or more from the image's, either
    way up (False where either size is unknown)."""
    width, height = features.size
    if min(width, height, image.width, image.height) <= 0:
        return False
    ratio = math.log((width / height) / (image.width / image.height))
    return min(abs(ratio), abs(ratio + 2 * math.log(image.width / image.height))) >= math.log(
        FRAMED_ASPECT
    )


def placed_inside(
    small: LocalFeatures,
    big: LocalFeatures,
    sizes: tuple[DedupImage, DedupImage],
    *,
    most: float,
    slack: float,
    aspect: float,
    upright: float | None = None,
) -> Box | None:
    """Where the whole of ``small``'s picture lies in ``big``'s (shares of ``big``'s), at
    ``small``'s own aspect ratio within the factor ``aspect``, over at most ``most`` of it,
    passing its sides by ``slack`` at most; ``upright``: also laid over it agreeing by
    pixels (not another view of one object) and turned by at most that many degrees (a
    turned picture's box is no side of it). ``sizes``: the two images (small, big)."""
    found = placement(small, big, agreeing=upright is not None)
    if found is None or (upright is not None and abs(found.angle) > upright):
        return None
    left, top, right, bottom = found.box
    if min(left, top) < -slack or max(right, bottom) > 1 + slack:
        return None
    width, height = right - left, bottom - top
    if width <= 0 or height <= 0 or width * height > most:
        return None
    inner, outer = sizes
    placed = width * outer.width / (height * outer.height)
    if abs(math.log(placed / (inner.width / inner.height))) > math.log(aspect):
        return None
    return found.box


def framed_at(keeper: DedupImage, box: Box) -> DedupImage:
    """``keeper`` marked framed, its photo at ``box`` (shares, clipped to the picture)."""
    shares = (min(1.0, box[2]) - max(0.0, box[0]), min(1.0, box[3]) - max(0.0, box[1]))
    return replace(keeper, frame=shares)
