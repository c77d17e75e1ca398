"""An image's five crops (four corners and the centre, :data:`CROP_SIDE` of each side): the
library side of copy detection for crops.

A query that is a crop of a stored photo - half of each side or more, turned a little or
not - can score below look-alikes by its whole vector: it shows the photo's objects larger
and only some of them. The stored photo's own crops, embedded at index time (five more model
inputs, cut from the decode the image's own input came from), look like such a query: on the
generated scenes of the hold-out set scenes-450 the original's crops were among the two
nearest images' for 26 of the 33 half crops and 24 of the 32 turned crops the engine missed
(bench/README.md, "Crops of the stored photos"). The five-crop grid is the usual one
(torchvision's ``FiveCrop``), not fitted to any set; the engine only *nominates* the best
matches to the key points (:mod:`search.query.library_crops`).
"""

from __future__ import annotations

from models.roi import RegionOfInterest

CROP_SIDE = 0.65
"""Each crop's side as a share of the image's side."""


def _five(side: float) -> tuple[RegionOfInterest, ...]:
    far, mid = 1.0 - side, (1.0 - side) / 2
    return tuple(
        RegionOfInterest(x, y, x + side, y + side)
        for x, y in ((0.0, 0.0), (far, 0.0), (0.0, far), (far, far), (mid, mid))
    )


CROP_REGIONS: tuple[RegionOfInterest, ...] = _five(CROP_SIDE)
"""The crops as regions of the upright image: top left, top right, bottom left, bottom right,
centre."""
