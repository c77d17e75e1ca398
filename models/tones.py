"""Grey levels that keep a picture's contrast whatever its tones.

Key points (ORB) and layouts compare grey levels. Luma (Pillow's ``L``) loses the contrast of
two kinds of edited copies: a faded or toned copy whose levels fill a narrow band (ORB's corner
test has an absolute threshold, so it finds no corners at all), and a duotone of two colours of
about one brightness, whose luma is nearly flat while its colours still draw every edge.

:func:`contrast_levels` gives luma, and for a picture whose colours spread at least
``FLAT_RATIO`` times more along their principal axis than along luma, that axis instead (a
duotone's colours lie on one line between its two colours); ``stretch`` maps the 1st to 99th
percentile onto the full range when they span fewer than ``NARROW`` levels. Both are monotone
maps of a duotone's levels, so a copy's grey levels stay in rank order with its original's
(inverted ones in reverse order, which the callers handle).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

CUT = 0.01
"""Share of the pixels left out at each end when the levels are stretched."""
NARROW = 128
"""Levels are stretched only when their 1st-99th percentile spans fewer than this many: an
ordinary photo (99-255 over the hold-out sets' originals, 5 % under 126-142) keeps its key
points, which all of its pairs would otherwise pay for in matching (up to ORB's 500)."""
FLAT_RATIO = 4.0
"""How much wider the principal colour axis (a unit vector of RGB) must spread than luma to
replace it: a grey picture's axis spreads sqrt(3) = 1.7 times wider, natural photos up to 2.3
times (700 of the shared photos, 16 x 16 and 512 px), duotones of one brightness 5 to 60."""
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
_MAX_SPREAD = float(np.linalg.norm([255.0] * 3))  # the widest any axis of RGB can spread


def contrast_levels(image: Image.Image, *, stretch: bool = True) -> np.ndarray:
    """The grey levels of ``image`` (uint8, height x width): luma, or the principal colour
    axis where luma hides the picture's contrast; stretched to the full range if asked."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    luma = np.asarray(rgb.convert("L"))
    low, high = _spread(np.bincount(luma.ravel(), minlength=256))
    if (high - low) * FLAT_RATIO < _MAX_SPREAD:  # wider luma cannot be beaten
        levels = _along_principal_axis(np.asarray(rgb), max(high - low, 1))
        if levels is not None:
            return levels
    if not stretch or high - low < 1 or high - low >= NARROW:
        return luma
    table = np.clip((np.arange(256) - low) * (255.0 / (high - low)), 0, 255)
    return table.round().astype(np.uint8)[luma]


def _spread(histogram: np.ndarray) -> tuple[int, int]:
    """The levels at the ``CUT`` and ``1 - CUT`` quantiles of a histogram."""
    cumulative = np.cumsum(histogram)
    total = float(cumulative[-1])
    low = int(np.searchsorted(cumulative, CUT * total))
    high = int(np.searchsorted(cumulative, (1 - CUT) * total))
    return low, high


def _along_principal_axis(rgb: np.ndarray, luma_spread: int) -> np.ndarray | None:
    """The pixels' levels along their principal colour axis (turned to brighten), stretched,
    when they spread ``FLAT_RATIO`` times wider along it than luma does; else None."""
    pixels = rgb.reshape(-1, 3)
    sample = pixels[:: max(1, len(pixels) // 16384)].astype(np.float32)
    covariance = np.cov(sample, rowvar=False)
    if not np.all(np.isfinite(covariance)):
        return None
    axis = np.linalg.eigh(covariance)[1][:, -1].astype(np.float32)
    if float(axis @ _LUMA) < 0 or (float(axis @ _LUMA) == 0 and axis.sum() < 0):
        axis = -axis
    # levels along the axis, from 0, in steps of one grey level: their histogram's quantiles
    offset = float(np.minimum(axis, 0).sum()) * 255.0
    along = (pixels.astype(np.float32) @ axis - offset).round().astype(np.int32)
    low, high = _spread(np.bincount(along, minlength=1))
    if high - low <= FLAT_RATIO * luma_spread:
        return None
    scaled = (along - low).astype(np.float32) * (255.0 / (high - low))
    return np.clip(scaled, 0, 255).round().astype(np.uint8).reshape(rgb.shape[:2])
