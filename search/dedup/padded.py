"""A keeper that is a member's picture with bars or padding around it gives way to it (and
one laid on its own blurred enlargement: :mod:`search.dedup.blurred_padding`).

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

An app's screenshot of the photo has bands of a few flat colours - a title bar, a side panel,
the canvas around the picture - and no one colour makes ``PLAIN`` of them (the report kept a
700 x 660 screenshot over its 500 x 500 photo). So a band is plain too when ``PLAIN`` of it,
and ``PLAIN_LINE`` of every line along it, is within ``TOLERANCE`` of one of at most
``COLOURS`` of its commonest colours, each ``SEPARATE`` levels from the others (steps of flat
colour: a gradient's colours lie close together, every level between them taken). Such a
keeper is held to more, for a crop of a photo whose wall or sky in two tones was cut away
must leave the photo the keeper:

- it has ``MANY_BANDS`` bands at least (an app frames the picture on two sides or more);
- besides the test above (against the band's commonest colour), the member's edge does
  not continue any band's inner strip beside it: along each side, in ``SEGMENTS`` pieces,
  the edge's median colour is within ``ALIKE`` of the strip's in under ``SEGMENT_SHARE`` of
  them (a crop's cut through a plain band leaves one colour either side of it; a pasted
  picture meets its frame with a step).

With one colour the rule is the one above. None of these is tuned to a data set; each stops
what the others let through.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from PIL import Image

from search.dedup.blurred_padding import blurred_copy_bands, soft_edge
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
#: a band of flat steps is plain within TOLERANCE of one of at most this many colours ...
COLOURS = 3
#: ... each at least this many levels from the others in some channel (a light theme's side
#: panel and canvas lie 26 apart; the mean colours of a gradient's 16-level bins lie 16 apart,
#: so its colours taken are 32 apart, and two of them make under PLAIN of it)
SEPARATE = 20
#: ... each of at least this share of the band (a colour of the frame, not a bin of text)
COLOUR_SHARE = 0.03
#: a line of such a band may be this many lines from one near its colours: a step between
#: two colours along the side, blended by the resize and JPEG, is a line of neither (a
#: gradient's lines between its colours run for many lines)
STEP = 1
#: a keeper with a band of several colours has at least this many bands (an app's window
#: frames the picture on two sides or more; a two-tone wall cut away from one side is a crop)
MANY_BANDS = 2
#: its bands' inner strips are compared with the member's edge in this many pieces a side ...
SEGMENTS = 8
#: ... and a band continues the edge when this share of them is of one colour, ...
SEGMENT_SHARE = 0.25
#: ... their median colours within this many levels: a cut through a plain band leaves
#: either side within TOLERANCE of its colour (a photo's near-white edge on a light canvas
#: lies 16-18 levels from it, and such a screenshot is no crop)
ALIKE = 2 * TOLERANCE


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
                edge = None if image is None else pixels_of(image)
                self.banded[keeper.id] = edge is not None and (plain_edge(edge) or soft_edge(edge))
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
        ours, theirs = pixels_of(kept), pixels_of(source)
        if plain_bands(ours, theirs, box):
            log.info("dedup: %s is %s with bands around it", keeper.path, member.path)
            return box
        if blurred_copy_bands(ours, theirs, box):
            log.info("dedup: %s is %s on its own blurred enlargement", keeper.path, member.path)
            return box
        return None


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
    return _plain_in(pixels, lines, [_commonest_colour(pixels)])


def _plain_in(pixels: np.ndarray, lines: np.ndarray, colours: list[np.ndarray]) -> bool:
    """:data:`PLAIN` of ``pixels`` and :data:`PLAIN_LINE` of each line near one of ``colours``
    (with several colours, a line beside one that is: a step between two, see :data:`STEP`)."""
    if _near_any(pixels, colours).mean() < PLAIN:
        return False
    lined = _near_any(lines, colours).mean(axis=1) >= PLAIN_LINE
    if len(colours) > 1:
        for shift in range(1, STEP + 1):
            lined[shift:] |= lined[:-shift].copy()
            lined[:-shift] |= lined[shift:].copy()
    return bool(lined.all())


def band_colours(pixels: np.ndarray, lines: np.ndarray) -> list[np.ndarray] | None:
    """The colours a band is plain in: its commonest alone, else a few flat steps apart
    (:data:`COLOURS`, :data:`SEPARATE`), or None (not plain)."""
    one = [_commonest_colour(pixels)]
    if _plain_in(pixels, lines, one):
        return one
    colours = _palette(pixels)
    return colours if len(colours) > 1 and _plain_in(pixels, lines, colours) else None


def plain_bands(keeper: np.ndarray, member: np.ndarray, box: Box) -> bool:
    """Whether the ``keeper``'s pixels around ``box`` (the member's picture in it, as shares)
    are plain bands, at least one, none continuing the ``member``'s edge beside it."""
    height, width = keeper.shape[:2]
    left, top, right, bottom = (max(0.0, min(1.0, v)) for v in box)
    # (pixels of the band, lines along the side, the member's edge beside it, the band's
    # inner strip beside the picture along it)
    bands = []
    mh, mw = member.shape[:2]
    deep = max(2, round(EDGE * 3 * max(mh, mw)))  # the member's edge strip
    edge = EDGE * max(height, width)
    inner = max(2, round(EDGE * 3 * max(height, width)))  # the band's inner strip
    across = slice(round(left * width), round(right * width))
    down = slice(round(top * height), round(bottom * height))
    if top >= BAND:
        cut = round(top * height - edge)
        strip = keeper[max(0, cut - inner) : cut, across]
        bands.append((keeper[:cut], keeper[:cut], member[:deep], strip))
    if 1 - bottom >= BAND:
        cut = round(bottom * height + edge)
        strip = keeper[cut : cut + inner, across]
        bands.append((keeper[cut:], keeper[cut:], member[-deep:], strip))
    if left >= BAND:
        cut = round(left * width - edge)
        side, strip = keeper[:, :cut], keeper[down, max(0, cut - inner) : cut]
        beside = member[:, :deep].transpose(1, 0, 2)
        bands.append((side, side.transpose(1, 0, 2), beside, strip.transpose(1, 0, 2)))
    if 1 - right >= BAND:
        cut = round(right * width + edge)
        side, strip = keeper[:, cut:], keeper[down, cut : cut + inner]
        beside = member[:, -deep:].transpose(1, 0, 2)
        bands.append((side, side.transpose(1, 0, 2), beside, strip.transpose(1, 0, 2)))
    if not bands:
        return False
    many = False  # a band plain in several colours: the keeper is held to more
    for pixels, lines, beside, _ in bands:
        if pixels.shape[0] < 1 or pixels.shape[1] < 1:
            return False
        colours = band_colours(pixels, lines)
        if colours is None:
            return False
        if beside.size and float(_near(beside, colours[0], CONTINUES).mean()) >= PLAIN:
            return False
        many = many or len(colours) > 1
    if many:
        if len(bands) < MANY_BANDS:
            return False
        return not any(_continued(strip, beside) for _, _, beside, strip in bands)
    return True


def _continued(strip: np.ndarray, beside: np.ndarray) -> bool:
    """Whether the member's edge ``beside`` continues a band's inner ``strip`` (both with
    the side along their second axis): :data:`SEGMENT_SHARE` of :data:`SEGMENTS` pieces
    along it of one median colour within :data:`ALIKE`."""
    if strip.size == 0 or beside.size == 0:
        return True  # nothing to tell them apart by: where in doubt, the picture continues
    pieces = min(SEGMENTS, strip.shape[1], beside.shape[1])
    alike = 0
    for a, b in zip(
        np.array_split(strip, pieces, axis=1), np.array_split(beside, pieces, axis=1), strict=True
    ):
        ours, theirs = np.median(a.reshape(-1, 3), axis=0), np.median(b.reshape(-1, 3), axis=0)
        alike += np.abs(ours - theirs).max() <= ALIKE
    return alike >= SEGMENT_SHARE * pieces


def _palette(pixels: np.ndarray) -> list[np.ndarray]:
    """Up to :data:`COLOURS` of the commonest colours of ``pixels`` (the mean colours of
    16-level bins, as :func:`_commonest_colour`), each of :data:`COLOUR_SHARE` of them and
    :data:`SEPARATE` levels from those before it."""
    flat = pixels.reshape(-1, 3)
    keys = (flat // 16).astype(np.int32) @ np.array([256, 16, 1], np.int32)
    counts = np.bincount(keys, minlength=4096)
    colours: list[np.ndarray] = []
    for key in np.argsort(-counts, kind="stable"):
        if counts[key] < COLOUR_SHARE * len(flat) or len(colours) == COLOURS:
            break
        colour = flat[keys == key].mean(axis=0)
        if all(np.abs(colour - taken).max() >= SEPARATE for taken in colours):
            colours.append(colour)
    return colours


def _commonest_colour(pixels: np.ndarray) -> np.ndarray:
    """The mean colour of the commonest colour bin (16 levels a channel) of ``pixels``."""
    flat = pixels.reshape(-1, 3)
    keys = (flat // 16).astype(np.int32) @ np.array([256, 16, 1], np.int32)
    commonest = np.bincount(keys, minlength=4096).argmax()
    return flat[keys == commonest].mean(axis=0)


def _near(pixels: np.ndarray, colour: np.ndarray, tolerance: int = TOLERANCE) -> np.ndarray:
    return np.abs(pixels.astype(np.int16) - colour.astype(np.int16)).max(axis=-1) <= tolerance


def _near_any(
    pixels: np.ndarray, colours: list[np.ndarray], tolerance: int = TOLERANCE
) -> np.ndarray:
    """Per pixel, whether it is within ``tolerance`` of one of ``colours``."""
    near = np.zeros(pixels.shape[:-1], bool)
    for colour in colours:
        near |= _near(pixels, colour, tolerance)
    return near
