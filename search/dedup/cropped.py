"""A keeper that is a crop of a member's picture gives way to it.

The keeper rules prefer the image with the most pixels, and a crop enlarged past its photo's
size - a square export at 1080 px of a 640 x 480 photo, a zoomed part saved larger - has
more: the report kept the crop and listed the whole photo among the duplicates to delete (81
groups of the ``unseen2`` hold-out set kept an enlarged crop over its photo). So where a
member scores under ``SCORE`` with its keeper (rescales and re-encodes score above it: they
keep the whole look; a crop loses some), the keeper's picture is looked for in the member's
by key points (:func:`search.descriptor.placement`), and the keeper is marked a crop
(:attr:`DedupImage.crop`: the ``frame`` keeper rule then prefers the whole picture, and the
groups are made again) when all of these hold:

- the keeper's whole picture lies upright (``TURN``) inside the member's at the keeper's
  aspect ratio (``ASPECT``), over at most ``MOST`` of it;
- what lies around it in the member continues the picture: no seam along any side of the box
  inside the member (:func:`seams`: the step across the side is no larger than the change
  just beside it, ``SEAM``), and no plain band around it (then the member is the keeper with
  bars added, :mod:`search.dedup.padded`); a picture pasted into another, beside one, or onto
  a pattern has a seam where it was pasted;
- the member is no collage (:func:`models.collage_cells`);
- where the member shows the keeper's picture at fewer pixels than the keeper has, the
  keeper's extra pixels hold no detail (:func:`enlarged`): an enlarged crop. A keeper with
  detail of its own is no crop of that member (a closer view of one object agrees with a
  wider one by key points and pixels alike).

The other way round, a keeper that holds a member's whole picture pasted in it - onto a
pattern, into another picture: upright, agreeing by pixels, with a seam (a step in some colour
channel) along every side of it inside the keeper, two at least, or along three of four - is
marked framed, the photo at that box (44 groups of
``unseen2`` kept such a copy over its photo).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import numpy as np
from PIL import Image

from models import collage_cells
from search.dedup.keeper import DedupImage
from search.dedup.padded import SLACK, pixels_of, plain_bands
from search.dedup.picture_checks import Box, Picture, PictureCheck, framed_at, placed_inside
from search.descriptor import LocalFeatures

log = logging.getLogger(__name__)

#: members scoring under this with their keeper are looked at (a crop loses some of the look)
SCORE = 0.95
#: the picture lies in the other turned by at most this many degrees (upright: its box's
#: sides are its own)
TURN = 1.5
#: the keeper's picture covers at most this share of the member's
MOST = 0.9
#: ... at the keeper's aspect ratio within this factor
ASPECT = 1.04
#: a keeper whose picture the member shows at fewer pixels is a crop of it only when
#: enlarged: shrunk to the member's scale and enlarged again it loses under this share of its
#: variance (:func:`enlarged`; else it holds detail the member lacks: another view, or a crop
#: of a larger original that both were made from)
ENLARGED = 0.001
#: a side of the box is a seam when the step across it is this many times the change beside it
SEAM = 2.0
#: ... and at least this many grey levels (flat areas change by nothing either side)
SEAM_FLOOR = 6.0
#: the lines compared lie this share of the picture's longer side from the box's side
OFFSET = 0.008
#: a side within this share of the member's edge is its edge, not a side inside it
EDGE = 0.02
#: a picture pasted in another has a seam along this many sides inside it at least (one side
#: on a strong line - a shelf's edge, a frame's - is how a trim of a photo looks too: an
#: original lost to its trimmed copy in 10 of 11 such trims; a side-by-side pair is missed)
PASTED_SIDES = 2


class CropKeepers(PictureCheck):
    """``keeper, members, scores -> keeper marked a crop or framed, or None`` (module doc;
    the picture and key points as :class:`search.dedup.picture_checks.PictureCheck` reads
    them); each keeper-member pair looked at once."""

    def __init__(
        self, picture: Picture, key_points: Callable[[int], LocalFeatures | None] | None = None
    ) -> None:
        super().__init__(picture, key_points)
        self.whole: dict[tuple[int, int], bool] = {}  # (keeper, member) -> a crop of it
        self.pasted: dict[tuple[int, int], Box | None] = {}  # -> its picture pasted in it

    def mark(
        self,
        keeper: DedupImage,
        members: Sequence[DedupImage],
        scores: Mapping[int, float],
        picture_of: Picture,
    ) -> DedupImage | None:
        for member in members:
            score = scores.get(member.id)
            if member.frame is not None or score is None or score >= SCORE:
                continue
            key = (keeper.id, member.id)
            if key not in self.whole:
                self.whole[key] = self._cropped(keeper, member, picture_of)
            if self.whole[key]:
                return replace(keeper, crop=True)
            if key not in self.pasted:
                self.pasted[key] = self._pasted(keeper, member, picture_of)
            if (box := self.pasted[key]) is not None:
                return framed_at(keeper, box)
        return None

    def _pasted(self, keeper: DedupImage, member: DedupImage, picture_of: Picture) -> Box | None:
        """The member's picture's box in the keeper when it was pasted there: onto a pattern,
        into another picture, beside one (a seam along every side of it inside the keeper);
        None if not."""
        pair = self.pair_key_points(keeper, member, picture_of)
        found = None if pair is None else _inside(pair[1], pair[0], member, keeper)
        if found is None or (kept := picture_of(keeper.id)) is None:
            return None
        sides = seams(pixels_of(kept), found, colour=True)
        # every side inside the keeper a seam, or all but one of four (a pattern can meet a
        # photo's edge in its colours along one side); one side along a strong line of a
        # photo is a trim, not a paste
        if len(sides) < PASTED_SIDES or sum(sides) < (3 if len(sides) == 4 else len(sides)):
            return None
        log.info("dedup: %s holds %s pasted in it", keeper.path, member.path)
        return found

    def _cropped(self, keeper: DedupImage, member: DedupImage, picture_of: Picture) -> bool:
        """Whether the keeper's picture is a crop of the member's (module doc)."""
        pair = self.pair_key_points(keeper, member, picture_of)
        box = None if pair is None else _inside(pair[0], pair[1], keeper, member)
        if box is None:
            return False
        whole, part = picture_of(member.id), picture_of(keeper.id)
        if whole is None or part is None:
            return False
        shown = (box[2] - box[0]) * member.width / max(1, keeper.width)  # member px per keeper px
        if shown < 1 and not enlarged(part, shown):
            return False  # detail the member does not hold: not made from it (another view)
        big = pixels_of(whole)
        if any(seams(big, box)) or plain_bands(big, pixels_of(part), box):
            return False
        if collage_cells(whole):
            return False
        log.info("dedup: %s is a crop of %s", keeper.path, member.path)
        return True


def _inside(
    small: LocalFeatures, big: LocalFeatures, small_image: DedupImage, big_image: DedupImage
) -> Box | None:
    """Where the whole of ``small``'s picture lies upright in ``big``'s, agreeing by pixels
    (module doc); None otherwise."""
    sizes = (small_image, big_image)
    return placed_inside(small, big, sizes, most=MOST, slack=SLACK, aspect=ASPECT, upright=TURN)


def enlarged(picture: Image.Image, factor: float) -> bool:
    """Whether ``picture`` holds no more detail than it would at ``factor`` (< 1) of its
    size: made smaller by that and enlarged again (bicubic), it loses under ``ENLARGED`` of
    its grey levels' variance. An enlarged crop loses 0.0001-0.0014 of it at factors
    0.5-0.85; a photo at its own size 0.0015 and up, a blurred one less (unseen hold-out
    sets, ``bench/README.md``)."""
    return lost_detail(picture, factor) < ENLARGED


def lost_detail(picture: Image.Image, factor: float) -> float:
    """The share of ``picture``'s grey-level variance lost when it is made smaller by
    ``factor`` (< 1) and enlarged again (bicubic): the detail finer than that scale."""
    grey = picture.convert("L")
    levels = np.asarray(grey, np.float32)
    size = (max(1, round(grey.width * factor)), max(1, round(grey.height * factor)))
    small = grey.resize(size, Image.Resampling.BOX)
    again = np.asarray(small.resize(grey.size, Image.Resampling.BICUBIC), np.float32)
    return float(np.mean((levels - again) ** 2)) / max(float(levels.var()), 1.0)


def seams(pixels: np.ndarray, box: Box, *, colour: bool = False) -> list[bool]:
    """For each side of ``box`` (shares of ``pixels``) inside the picture, whether it is a
    seam: the median step across it (between lines ``OFFSET`` outside and inside) over
    ``SEAM`` times the median change between two lines beside it, either side; in grey
    levels, or with ``colour`` in the channel that changes most (a green photo pasted on a
    red pattern of its brightness: no step in grey)."""
    height, width = pixels.shape[:2]
    grey = pixels.astype(np.float32) if colour else pixels.astype(np.float32).mean(axis=2)
    gap = max(2, round(OFFSET * max(height, width)))
    left, top, right, bottom = box
    found = []
    sides = (  # (position in pixels, along columns?, the box's extent along the side)
        (left * width, True, +1),
        (right * width, True, -1),
        (top * height, False, +1),
        (bottom * height, False, -1),
    )
    for at, vertical, inward in sides:
        size = width if vertical else height
        if at < EDGE * size or at > (1 - EDGE) * size:
            continue  # the picture's own edge
        lines = grey if vertical else np.swapaxes(grey, 0, 1)
        start, stop = (top, bottom) if vertical else (left, right)
        span = (stop - start) * (height if vertical else width)
        first = max(0, round(start * (height if vertical else width) + 0.1 * span))
        last = min(lines.shape[0], round(stop * (height if vertical else width) - 0.1 * span))
        if last - first < 4:
            continue
        column = [round(at + inward * k * gap) for k in (-3, -1, 1, 3)]
        if min(column) < 0 or max(column) >= lines.shape[1]:
            continue
        far_out, out, inside, far_in = (lines[first:last, c] for c in column)
        step, beside = _change(out, inside), max(_change(far_out, out), _change(inside, far_in))
        found.append(step > max(SEAM * beside, SEAM_FLOOR))
    return found


def _change(a: np.ndarray, b: np.ndarray) -> float:
    """The median change between two lines (grey levels, or colours: the channel of most)."""
    diff = np.abs(a - b)
    return float(np.median(diff if diff.ndim == 1 else diff.max(axis=1)))
