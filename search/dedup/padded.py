"""A keeper that is a member's picture with bars or padding around it gives way to it.

The keeper rules prefer the image with the most pixels, and a meme-style copy - the photo
with a caption bar added above or below it, or padded to a square, or given a border - has
the photo's pixels and the bar's: the report kept the captioned copy and listed the untouched
photo among the duplicates to delete (12 of 12 photos given an 8 % caption bar). The
indexer's frame finder (:func:`models.find_content_box`) leaves such thin frames alone: a
frame under a tenth of the canvas is not worth a second embedding, and one bar on one side
makes too little of the border flat for it to look further.

So where a keeper's aspect ratio differs from a member's (a bar changes it; a rescale does
not), the member's picture is looked for in the keeper by key points
(:func:`search.descriptor.placement`). The keeper is the member's picture with bands added,
and is marked framed (:attr:`DedupImage.frame`; the ``frame`` keeper rule then prefers the
member and the groups are made again), when all of these hold:

- the member's whole picture lies in the keeper at its own aspect ratio (``ASPECT``), not
  over all of the keeper (at most ``MOST`` of its area);
- every side band beyond ``BAND`` of the keeper's side is *plain*: most of it one colour
  (``PLAIN`` of its pixels within ``TOLERANCE`` levels of its commonest colour, and
  ``PLAIN_LINE`` of every line along it: text on a bar, not a gradient or a scene);
- no band continues the member's own edge beside it (``PLAIN`` of that edge within
  ``CONTINUES`` levels of the band's colour): a crop that took away a plain sky or wall
  leaves its original exactly that, and the original must stay the keeper.

None of these is tuned to a data set; each stops what the others let through.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from PIL import Image

from search.dedup.keeper import DedupImage
from search.dedup.picture_checks import Box, Picture, PictureCheck, framed_at, placed_inside
from search.descriptor import LocalFeatures

log = logging.getLogger(__name__)

#: aspect ratios this many times apart (either way) at least: a bar changes it, a rescale not
ASPECT_GAP = 1.02
#: the member's picture in the keeper has the member's aspect ratio within this factor
ASPECT = 1.04
#: ... and covers at most this share of the keeper
MOST = 0.98
#: the placement's box may pass the keeper's sides by this share (key points' error)
SLACK = 0.02
#: a side band at least this share of the keeper's side is looked at (thinner: placement error)
BAND = 0.02
#: rows / columns of a band next to the member's picture left out (the placement's error)
EDGE = 0.01
#: a plain band: this share of its pixels within TOLERANCE of its commonest colour ...
PLAIN = 0.6
#: ... and at least this share of each of its lines along the side (text rows included)
PLAIN_LINE = 0.2
#: (levels, per channel): a bar or padding added to a picture is flat - JPEG leaves it within
#: a few levels but beside its text (caption bars: 0.81 of a band within 3 levels, 0.83 within
#: 16); a photo's plain-looking background is not (an out-of-focus leaf: 0.27 within 3, 0.65
#: within 16), and a crop that cut it away must leave its original the keeper
TOLERANCE = 4
#: the member's edge continues a band when PLAIN of it is within this of the band's colour
#: (loose: where in doubt, the picture continues and the original stays the keeper)
CONTINUES = 16
#: pictures are looked at with this longer side
SIDE = 384


class PaddedKeepers(PictureCheck):
    """``keeper, members, scores -> keeper marked framed, or None`` (module doc; the
    picture and key points as :class:`search.dedup.picture_checks.PictureCheck` reads them);
    each keeper-member pair looked at once."""

    def __init__(
        self, picture: Picture, key_points: Callable[[int], LocalFeatures | None] | None = None
    ) -> None:
        super().__init__(picture, key_points)
        self.inside: dict[tuple[int, int], Box | None] = {}
        self.banded: dict[int, bool] = {}  # keeper -> a plain strip along one of its sides

    def mark(
        self,
        keeper: DedupImage,
        members: Sequence[DedupImage],
        scores: Mapping[int, float],
        picture_of: Picture,
    ) -> DedupImage | None:
        for member in members:
            if member.frame is not None or not _aspects_differ(keeper, member):
                continue
            if keeper.id not in self.banded:  # no plain side: no key points made
                image = picture_of(keeper.id)
                self.banded[keeper.id] = image is not None and plain_edge(pixels_of(image))
            if not self.banded[keeper.id]:
                return None
            key = (keeper.id, member.id)
            if key not in self.inside:
                self.inside[key] = self._padded(keeper, member, picture_of)
            if (box := self.inside[key]) is not None:
                return framed_at(keeper, box)
        return None

    def _padded(self, keeper: DedupImage, member: DedupImage, picture_of: Picture) -> Box | None:
        """The member's picture's box in the keeper when the rest is plain bands, or None."""
        pair = self.pair_key_points(keeper, member, picture_of)
        if pair is None:
            return None
        box = placed_inside(
            pair[1], pair[0], (member, keeper), most=MOST, slack=SLACK, aspect=ASPECT
        )
        kept, source = picture_of(keeper.id), picture_of(member.id)
        if box is None or kept is None or source is None:
            return None
        if not plain_bands(pixels_of(kept), pixels_of(source), box):
            return None
        log.info("dedup: %s is %s with bands around it", keeper.path, member.path)
        return box


def _aspects_differ(a: DedupImage, b: DedupImage) -> bool:
    if min(a.width, a.height, b.width, b.height) <= 0:
        return False
    ratio = (a.width / a.height) / (b.width / b.height)
    return abs(math.log(ratio)) >= math.log(ASPECT_GAP)


def pixels_of(image: Image.Image) -> np.ndarray:
    """RGB pixels of ``image`` with the longer side at most :data:`SIDE`."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    scale = min(1.0, SIDE / max(rgb.size))
    if scale < 1.0:
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        rgb = rgb.resize(size, Image.Resampling.BOX)
    return np.asarray(rgb)


def plain_edge(pixels: np.ndarray) -> bool:
    """Whether a strip of :data:`BAND` along one side of ``pixels`` is plain (a band's
    outer part: the first test, before any key point is made)."""
    height, width = pixels.shape[:2]
    rows, columns = max(2, round(BAND * height)), max(2, round(BAND * width))
    strips = [
        (pixels[:rows], pixels[:rows]),
        (pixels[-rows:], pixels[-rows:]),
        (pixels[:, :columns], pixels[:, :columns].transpose(1, 0, 2)),
        (pixels[:, -columns:], pixels[:, -columns:].transpose(1, 0, 2)),
    ]
    return any(_plain(strip, lines) for strip, lines in strips)


def _plain(pixels: np.ndarray, lines: np.ndarray) -> bool:
    """Most of ``pixels`` one colour, and some of it in every line along the side."""
    colour = _commonest_colour(pixels)
    return _share_near(pixels, colour) >= PLAIN and _line_shares(lines, colour).min() >= PLAIN_LINE


def plain_bands(keeper: np.ndarray, member: np.ndarray, box: Box) -> bool:
    """Whether the ``keeper``'s pixels around ``box`` (the member's picture in it, as shares)
    are plain bands, at least one, none continuing the ``member``'s edge beside it."""
    height, width = keeper.shape[:2]
    left, top, right, bottom = (max(0.0, min(1.0, v)) for v in box)
    bands = []  # (pixels of the band, lines along the side, the member's edge beside it)
    mh, mw = member.shape[:2]
    deep = max(2, round(EDGE * 3 * max(mh, mw)))  # the member's edge strip
    edge = EDGE * max(height, width)
    if top >= BAND:
        cut = round(top * height - edge)
        bands.append((keeper[:cut], keeper[:cut], member[:deep]))
    if 1 - bottom >= BAND:
        cut = round(bottom * height + edge)
        bands.append((keeper[cut:], keeper[cut:], member[-deep:]))
    if left >= BAND:
        cut = round(left * width - edge)
        side = keeper[:, :cut]
        bands.append((side, side.transpose(1, 0, 2), member[:, :deep]))
    if 1 - right >= BAND:
        cut = round(right * width + edge)
        side = keeper[:, cut:]
        bands.append((side, side.transpose(1, 0, 2), member[:, -deep:]))
    if not bands:
        return False
    for pixels, lines, beside in bands:
        if pixels.shape[0] < 1 or pixels.shape[1] < 1 or not _plain(pixels, lines):
            return False
        if _share_near(beside, _commonest_colour(pixels), CONTINUES) >= PLAIN:
            return False
    return True


def _commonest_colour(pixels: np.ndarray) -> np.ndarray:
    """The mean colour of the commonest colour bin (16 levels a channel) of ``pixels``."""
    flat = pixels.reshape(-1, 3)
    keys = (flat // 16).astype(np.int32) @ np.array([256, 16, 1], np.int32)
    commonest = np.bincount(keys, minlength=4096).argmax()
    return flat[keys == commonest].mean(axis=0)


def _near(pixels: np.ndarray, colour: np.ndarray, tolerance: int = TOLERANCE) -> np.ndarray:
    return np.abs(pixels.astype(np.int16) - colour.astype(np.int16)).max(axis=-1) <= tolerance


def _share_near(pixels: np.ndarray, colour: np.ndarray, tolerance: int = TOLERANCE) -> float:
    return float(_near(pixels, colour, tolerance).mean()) if pixels.size else 0.0


def _line_shares(lines: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Per line (first axis of ``lines``), the share of its pixels near ``colour``."""
    return _near(lines, colour).mean(axis=1)
