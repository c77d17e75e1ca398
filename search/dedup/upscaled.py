"""A keeper that is an enlargement of a member gives way to it.

The ``resolution`` keeper rule prefers the image with the most pixels, and a photo enlarged
2x by an editor (or an "upscaler") has four times the pixels of the photo it was made from,
and no detail they lack: the report kept such a copy and listed its original among the
duplicates to delete (an audit's Lanczos 2x that kept the EXIF time; 12 of 12 bicubic 2x
re-encodes of a blind hold-out). Rescales keep the whole look, so where a member scores
:data:`SCORE` or more with its keeper, has the keeper's aspect ratio (within ``ASPECT``) and
fewer pixels (``SMALLER``), both files are read and the keeper's detail finer than the
member's scale is weighed against the member's own finest detail at the same factor
(:func:`search.dedup.cropped.lost_detail`): a photo has detail at every scale (its
spectrum falls off smoothly), so a genuine larger original keeps a like share at the finer
scale (0.27 of the member's or more for 99 % of 240 pairs of the shared photos and their
Lanczos 50-70 % JPEG rescales: a ratio near 1), an enlargement holds only what its
interpolation and re-encoding made (0.06-0.37 for Lanczos, 0.11-0.19 for the hold-out's
sharpened bicubic re-encodes). Under :data:`UPSCALED` the keeper is marked with the member's
size as the size of its detail (:attr:`DedupImage.detail`): the ``resolution`` rule then
prefers the member, the photo it was enlarged from. Under :data:`MAYBE` it may be one: it
stays the keeper, and its ``resolution`` decision is named ``resolution_unsure``, a weak one
the HTML report asks a person to look at (:attr:`DedupImage.soft`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace

from PIL import Image

from models import ImgsearchError, load_image
from search.dedup.cropped import lost_detail
from search.dedup.keeper import DedupImage
from search.dedup.picture_checks import Picture, PictureCheck

log = logging.getLogger(__name__)

#: members scoring this or more with their keeper are looked at (a rescale keeps the look)
SCORE = 0.95
#: ... at the keeper's aspect ratio within this factor
ASPECT = 1.02
#: ... with at most this share of the keeper's pixels (a rescale by 0.9 of a side and less)
SMALLER = 0.8
#: the keeper's detail finer than the member's scale, as a share of the member's own finest
#: detail at the same factor, under which the keeper is an enlargement (module doc): none of
#: 506 shared photos against their 50-80 % Lanczos JPEG rescales is under it (the least
#: 0.19), half of the hold-out's sharpened 2x re-encodes are
UPSCALED = 0.15
#: ... under which it may be one: the keeper stays, its ``resolution`` decision weak (9 of
#: the 506 photos are under 0.25, more than half of plain Lanczos 2x enlargements)
MAYBE = 0.35
#: the keeper is read at least this many times the member's side (a JPEG draft: no more)
READ_AT = 2


class UpscaledKeepers(PictureCheck):
    """``keeper, members, scores -> keeper marked an enlargement, or None`` (module doc);
    each keeper-member pair weighed once. The files are read here, at the sizes the check
    needs (the key points' draft would be the member's size)."""

    def __init__(self, max_pixels: int | None = None) -> None:
        super().__init__(lambda _image_id: None)
        self.max_pixels = max_pixels
        self.weighed: dict[tuple[int, int], float | None] = {}  # the share (module doc)

    def mark(
        self,
        keeper: DedupImage,
        members: Sequence[DedupImage],
        scores: Mapping[int, float],
        picture_of: Picture,
    ) -> DedupImage | None:
        maybe = False
        for member in members:
            score = scores.get(member.id)
            if score is None or score < SCORE or not _rescaled(keeper, member):
                continue
            key = (keeper.id, member.id)
            if key not in self.weighed:
                self.weighed[key] = self._share(keeper, member)
            share = self.weighed[key]
            if share is not None and share < UPSCALED:
                log.info("dedup: %s is an enlargement of %s", keeper.path, member.path)
                return replace(keeper, detail=(member.width, member.height))
            maybe = maybe or (share is not None and share < MAYBE)
        # kept, its resolution a weak decision
        return replace(keeper, soft=True) if maybe and not keeper.soft else None

    def _share(self, keeper: DedupImage, member: DedupImage) -> float | None:
        """The keeper's detail finer than the member's scale as a share of the member's own
        finest detail at the same factor (None: a file unread, or no detail to weigh)."""
        size = (READ_AT * member.width, READ_AT * member.height)
        big, small = self._read(keeper, size), self._read(member, (member.width, member.height))
        if big is None or small is None or big.width <= small.width:
            return None
        factor = small.width / big.width
        theirs = lost_detail(small, factor)
        return lost_detail(big, factor) / theirs if theirs > 0 else None

    def _read(self, image: DedupImage, draft: tuple[int, int]) -> Image.Image | None:
        try:
            return load_image(image.path, draft_size=draft, max_pixels=self.max_pixels).image
        except (ImgsearchError, OSError) as error:
            log.info("dedup: %s not read: %s", image.path, error)
            return None


def _rescaled(keeper: DedupImage, member: DedupImage) -> bool:
    """Whether ``member`` could be ``keeper`` at a smaller scale: neither framed nor a crop,
    the same aspect ratio, fewer pixels."""
    if keeper.frame is not None or member.frame is not None or member.crop or keeper.detail:
        return False
    if min(keeper.width, keeper.height, member.width, member.height) <= 0:
        return False
    ratio = (keeper.width / keeper.height) / (member.width / member.height)
    return 1 / ASPECT <= ratio <= ASPECT and member.pixels <= SMALLER * keeper.pixels
