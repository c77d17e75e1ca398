"""A keeper that is a member's picture laid on a blurred, enlarged copy of itself gives way to it.

Social apps fit a photo into another aspect ratio (a square post, a 9:16 story) by laying it
on its own enlargement, blurred. The export has more pixels than the photo and none of the
photo's pixels more, yet the keeper rules kept it ("highest resolution") and listed the photo
among the duplicates to delete (10-13 groups a run of a blind audit's 792-image libraries).
Its bands are neither plain (:mod:`search.dedup.padded`'s rule) nor other pictures (a collage).

Where the member's whole picture lies inside the keeper (the placement of
:mod:`search.dedup.padded`), the keeper is taken for such an export when all of these hold:

- **the bands are blurred**: their mean grey-level gradient is at most ``SOFT`` of the
  picture's own inside the keeper (a photo's surroundings have the photo's sharpness, unless
  they are out of focus - the next test is for those);
- **the bands are the picture enlarged**: at ``SMALL`` pixels along the longer side, both
  smoothed alike (``SMOOTH``), the bands' pixels correlate with those of the member's picture
  enlarged to cover the keeper, centred, and blurred by one of ``BLURS``, at ``AGREE`` at
  least; the picture lies in the keeper's middle (``CENTRED``). An out-of-focus background
  around a crop is the photo's surroundings, not the crop enlarged;
- **the bands are not flat**: their grey levels vary by ``VARIED`` at least at that size
  (flat bands are :mod:`search.dedup.padded`'s, with its test of a crop's cut-away sky).

None of these is tuned to the audit's edits: the tests' exports and crops are made by their
own code (``tests/test_dedup_blurred_padding.py``); bench/README.md has both tables.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter, ImageOps

Box = tuple[float, float, float, float]  # (left, top, right, bottom) as shares of the keeper

#: the bands' mean gradient is at most this share of the picture's own in the keeper
SOFT = 0.25
#: pixels along the longer side at which the bands are compared with the enlarged picture
SMALL = 48
#: both are smoothed by a Gaussian of this radius (pixels at SMALL) before they are compared
SMOOTH = 1.5
#: the enlarged picture is blurred by each of these radii too (pixels at SMALL; an app's
#: blur is 1-6 % of the longer side: 0.5-3 pixels here), the best kept
BLURS = (0.0, 1.5, 3.0)
#: the bands correlate with the enlarged picture at least this much
AGREE = 0.95
#: the bands' grey levels vary this much at least (standard deviation at SMALL)
VARIED = 6.0
#: the picture's centre lies this share of the keeper's side from the keeper's, at most
CENTRED = 0.03
#: the box is widened (bands) or narrowed (picture) by this share of the keeper's longer side:
#: the placement's error and the picture's resampled edge
MARGIN = 0.03
#: a strip this share of a side wide along it is looked at first (:func:`soft_edge`)
STRIP = 0.06


def soft_edge(pixels: np.ndarray) -> bool:
    """Whether a strip along a side of ``pixels`` (RGB) has at most :data:`SOFT` of the
    middle's mean gradient: the first test, before any key point is made."""
    grey = _grey(pixels)
    height, width = grey.shape
    rows, columns = max(3, round(STRIP * height)), max(3, round(STRIP * width))
    middle = _detail(grey[height // 4 : -(height // 4) or None, width // 4 : -(width // 4) or None])
    if middle <= 0:
        return False
    strips = (grey[:rows], grey[-rows:], grey[:, :columns], grey[:, -columns:])
    return any(_detail(strip) <= SOFT * middle for strip in strips)


def blurred_copy_bands(keeper: np.ndarray, member: np.ndarray, box: Box) -> bool:
    """Whether ``keeper``'s pixels around ``box`` (the ``member``'s picture in it, as shares)
    are the member's picture enlarged and blurred (module doc); both RGB arrays."""
    left, top, right, bottom = box
    if max(abs((left + right) / 2 - 0.5), abs((top + bottom) / 2 - 0.5)) > CENTRED:
        return False
    grey = _grey(keeper)
    height, width = grey.shape
    outside = ~_box_mask((height, width), box, MARGIN)
    inside = _box_mask((height, width), box, -MARGIN)
    if outside.mean() < 0.05 or inside.mean() < 0.05:
        return False
    dx, dy = _gradients(grey)
    band_detail = float(dx[outside[:, 1:]].mean()) + float(dy[outside[1:, :]].mean())
    own_detail = float(dx[inside[:, 1:]].mean()) + float(dy[inside[1:, :]].mean())
    if own_detail <= 0 or band_detail > SOFT * own_detail:
        return False
    scale = SMALL / max(height, width)
    size = (max(8, round(width * scale)), max(8, round(height * scale)))
    smooth = ImageFilter.GaussianBlur(SMOOTH)
    ours = Image.fromarray(keeper).resize(size, Image.Resampling.BOX).filter(smooth)
    enlarged = ImageOps.fit(Image.fromarray(member), size, Image.Resampling.BOX).filter(smooth)
    bands = ~_box_mask((size[1], size[0]), box, MARGIN + SMOOTH / SMALL)
    if bands.mean() < 0.05:
        return False
    if float(_grey(np.asarray(ours))[bands].std()) < VARIED:
        return False
    a = np.asarray(ours, np.float32)[bands].ravel()
    blurred = (enlarged.filter(ImageFilter.GaussianBlur(r)) if r else enlarged for r in BLURS)
    return max(_correlation(a, np.asarray(b, np.float32)[bands].ravel()) for b in blurred) >= AGREE


def _grey(pixels: np.ndarray) -> np.ndarray:
    return np.asarray(pixels, np.float32).mean(axis=-1) if pixels.ndim == 3 else pixels


def _gradients(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.abs(np.diff(grey, axis=1)), np.abs(np.diff(grey, axis=0))


def _detail(grey: np.ndarray) -> float:
    """Mean absolute grey-level step between neighbours, across and down."""
    if min(grey.shape) < 2:
        return 0.0
    dx, dy = _gradients(grey)
    return float(dx.mean() + dy.mean())


def _box_mask(shape: tuple[int, int], box: Box, margin: float) -> np.ndarray:
    """Pixels of an image of ``shape`` (rows, columns) inside ``box`` widened by ``margin`` of
    its longer side (narrowed when negative)."""
    height, width = shape
    pad = margin * max(height, width)
    left, top, right, bottom = box
    x0, x1 = left * width - pad, right * width + pad
    y0, y1 = top * height - pad, bottom * height + pad
    xs, ys = np.arange(width) + 0.5, np.arange(height) + 0.5
    return ((ys >= y0) & (ys < y1))[:, None] & ((xs >= x0) & (xs < x1))[None, :]


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / norm if norm > 0 else 0.0


__all__ = ["blurred_copy_bands", "soft_edge"]
