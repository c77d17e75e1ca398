"""Quality flags of a photo, measured on the pixels the indexer decodes anyway (no second
decode): too dark, too bright (overexposed), blurry, tiny, almost uniform.

Everything but ``tiny`` is measured on the luma of the model's input: the image's central
crop resized to 224 x 224 (``OnnxModel.preprocess``, made for the embedding anyway), halved
to 112 x 112, so a figure means the same for a 12 MP photo decoded at a JPEG draft scale and
for a web-size copy, and nothing is decoded or resized again. ``tiny`` reads the file's own
pixel dimensions. About a millisecond per image in a decode thread (bench/quality_flags.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

LUMA = np.array([0.299, 0.587, 0.114], np.float32)
FLAGS: dict[str, int] = {"dark": 1, "bright": 2, "blurry": 4, "tiny": 8, "uniform": 16}
"""Flag names and their bits in the stored bit-set."""

# Thresholds, tuned on generated versions of hymenoptera train/ (bench/quality_flags.py).
DARK_P95 = 40.0
"""dark: 95 % of the pixels are darker than this luma (0-255)."""
BRIGHT_P5 = 88.0
"""bright (overexposed): no shadows - 95 % of the pixels are lighter than this luma ..."""
BRIGHT_P95 = 245.0
"""... and the highlights are clipped: 5 % of the pixels at or above this luma."""
UNIFORM_CONTRAST = 4.0
"""uniform: the luma's standard deviation is below this (and the image is neither dark nor
bright, which say more)."""
BLURRY_SHARPNESS = 0.14
"""blurry: sharpness (see :func:`sharpness`) below this (not judged on uniform or tiny
images)."""
TINY_SIDE = 200
"""tiny: the longer side of the original is below this many pixels."""


@dataclass(frozen=True)
class ImageQuality:
    """The measures of one image and the flags they give (a bit-set of :data:`FLAGS`)."""

    brightness: float  # mean luma, 0-255
    contrast: float  # standard deviation of luma
    luma_p5: float  # 5th percentile of luma (shadows)
    luma_p95: float  # 95th percentile of luma (highlights)
    sharpness: float  # see :func:`sharpness`
    flags: int

    @property
    def names(self) -> list[str]:
        return flag_names(self.flags)

    @property
    def values(self) -> tuple[float, float, float, float, float]:
        """The measures in their stored order (brightness, contrast, p5, p95, sharpness)."""
        return (self.brightness, self.contrast, self.luma_p5, self.luma_p95, self.sharpness)


def flag_names(bits: int | None) -> list[str]:
    """The names of the flags set in ``bits`` (none for None: not measured)."""
    if not bits:
        return []
    return [name for name, bit in FLAGS.items() if bits & bit]


def flag_bits(names: Iterable[str]) -> int:
    """The bit-set of flag ``names``; ValueError names an unknown one and the known ones."""
    bits = 0
    for name in names:
        key = str(name).strip().lower()
        if key not in FLAGS:
            raise ValueError(f"unknown quality flag {name!r}; choose from {', '.join(FLAGS)}")
        bits |= FLAGS[key]
    return bits


def luma(pixels: np.ndarray) -> np.ndarray:
    """float32 luma (ITU-R 601, as Pillow's "L") of uint8 RGB pixels ``[H, W, 3]``, halved
    in each direction (2 x 2 means: a quarter of the work, and fine detail is still there)."""
    h, w = pixels.shape[0] // 2 * 2, pixels.shape[1] // 2 * 2
    if min(h, w) < 2:
        h, w = pixels.shape[:2]
        return (pixels.reshape(-1, 3).astype(np.float32) @ LUMA).reshape(h, w)
    rgb = np.ascontiguousarray(pixels[:h, :w]).reshape(-1, 3).astype(np.float32)
    grey = (rgb @ LUMA).reshape(h, w)
    return (grey[0::2, 0::2] + grey[1::2, 0::2] + grey[0::2, 1::2] + grey[1::2, 1::2]) * 0.25


def sharpness(grey: np.ndarray, contrast: float) -> float:
    """Fine detail relative to contrast: the variance of the 4-neighbour Laplacian in the
    second sharpest of 4 x 4 tiles (an in-focus subject on a soft background is sharp; one
    noisy corner is not enough) over the image's luma variance."""
    if min(grey.shape) < 6:
        return 0.0
    lap = 4 * grey[1:-1, 1:-1] - grey[:-2, 1:-1] - grey[2:, 1:-1] - grey[1:-1, :-2] - grey[1:-1, 2:]
    th, tw = lap.shape[0] // 4, lap.shape[1] // 4
    tiles = lap[: 4 * th, : 4 * tw].reshape(4, th, 4, tw)
    count = th * tw  # per-tile variance from sums (numpy's var over two axes is 20x slower)
    mean = tiles.sum(axis=3).sum(axis=1) / count
    var = (tiles * tiles).sum(axis=3).sum(axis=1) / count - mean * mean
    return float(np.sort(var.ravel())[-2]) / max(contrast * contrast, 1.0)


def flags_of(values: tuple[float, float, float, float, float], width: int, height: int) -> int:
    """The flag bits of measures (:attr:`ImageQuality.values`) of a ``width`` x ``height``
    original."""
    _brightness, contrast, p5, p95, sharp = values
    tiny = max(width, height) < TINY_SIDE
    flags = FLAGS["tiny"] if tiny else 0
    if p95 < DARK_P95:
        flags |= FLAGS["dark"]
    elif p5 >= BRIGHT_P5 and p95 >= BRIGHT_P95:
        flags |= FLAGS["bright"]
    elif contrast < UNIFORM_CONTRAST:
        flags |= FLAGS["uniform"]
    if contrast >= UNIFORM_CONTRAST and not tiny and sharp < BLURRY_SHARPNESS:
        flags |= FLAGS["blurry"]
    return flags


def measure_quality(pixels: np.ndarray, width: int, height: int) -> ImageQuality:
    """Measure uint8 RGB pixels ``[H, W, 3]`` (the model's input) of a ``width`` x
    ``height`` original."""
    grey = luma(pixels)
    counts = np.bincount(np.clip(grey + 0.5, 0, 255).astype(np.uint8).ravel(), minlength=256)
    cumulative = np.cumsum(counts)
    p5, p95 = (float(np.searchsorted(cumulative, f * cumulative[-1])) for f in (0.05, 0.95))
    contrast = float(grey.std())
    values = (float(grey.mean()), contrast, p5, p95, sharpness(grey, contrast))
    return ImageQuality(*values, flags=flags_of(values, width, height))
