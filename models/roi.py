"""Regions of interest: normalised (fractions of the image) or in pixels."""

from __future__ import annotations

import math
from dataclasses import dataclass

from models.errors import RoiError


@dataclass(frozen=True)
class RegionOfInterest:
    """A box ``left, top, right, bottom`` in the upright (EXIF-oriented, rotated) image.

    ``normalized=True``: fractions of width/height in [0, 1]; otherwise pixel coordinates
    (right/bottom exclusive). A box partly outside the image is clipped to it; a box that is
    empty, inverted, not finite or entirely outside raises :class:`RoiError`.
    """

    left: float
    top: float
    right: float
    bottom: float
    normalized: bool = True

    def __post_init__(self) -> None:
        values = (self.left, self.top, self.right, self.bottom)
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
            raise RoiError(f"region of interest must be four finite numbers, got {values}")
        if self.right <= self.left or self.bottom <= self.top:
            raise RoiError(
                f"empty region of interest {values}: need left < right and top < bottom"
            )
        if self.normalized and (self.right <= 0 or self.bottom <= 0 or self.left >= 1
                                or self.top >= 1):
            raise RoiError(f"normalised region of interest {values} lies outside [0, 1]")

    def to_float_box(self, width: int, height: int) -> tuple[float, float, float, float]:
        """Integer pixel box (see :meth:`to_box`) as floats."""
        return tuple(float(v) for v in self.to_box(width, height))  # type: ignore[return-value]

    def to_box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """Pixel box ``(l, t, r, b)`` clipped to a ``width x height`` image (r, b exclusive).

        Normalised coordinates are scaled and rounded to the nearest pixel edge. Raises
        :class:`RoiError` if nothing of the image is left.
        """
        if width < 1 or height < 1:
            raise RoiError(f"cannot apply a region of interest to a {width}x{height} image")
        if self.normalized:
            box = (self.left * width, self.top * height, self.right * width,
                   self.bottom * height)
        else:
            box = (self.left, self.top, self.right, self.bottom)
        left = min(max(round(box[0]), 0), width)
        top = min(max(round(box[1]), 0), height)
        right = min(max(round(box[2]), 0), width)
        bottom = min(max(round(box[3]), 0), height)
        if right <= left or bottom <= top:
            kind = "normalised" if self.normalized else "pixels"
            raise RoiError(
                f"region of interest {self.as_tuple()} ({kind}) leaves nothing of the "
                f"{width}x{height} image"
            )
        return int(left), int(top), int(right), int(bottom)

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.left, self.top, self.right, self.bottom)

    def fraction(self) -> tuple[float, float] | None:
        """(width, height) fraction of the image for a normalised ROI, else ``None``."""
        if not self.normalized:
            return None
        w = min(self.right, 1.0) - max(self.left, 0.0)
        h = min(self.bottom, 1.0) - max(self.top, 0.0)
        return max(w, 0.0), max(h, 0.0)


def parse_roi(text: str) -> RegionOfInterest:
    """Parse ``"l,t,r,b"``. All four values in [0, 1] means normalised, otherwise pixels."""
    parts = [p.strip() for p in str(text).replace(" ", ",").split(",") if p.strip()]
    if len(parts) != 4:
        raise RoiError(f"region of interest '{text}' must be four numbers 'left,top,right,bottom'")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise RoiError(f"region of interest '{text}' must be four numbers") from None
    normalized = all(0.0 <= v <= 1.0 for v in values)
    if not normalized and any(v < 0 for v in values[2:]):
        raise RoiError(f"region of interest '{text}': right/bottom must not be negative")
    return RegionOfInterest(*values, normalized=normalized)


def coerce_roi(roi: object) -> RegionOfInterest | None:
    """Accept ``None``, a :class:`RegionOfInterest`, a ``"l,t,r,b"`` string or a 4-sequence."""
    if roi is None or isinstance(roi, RegionOfInterest):
        return roi
    if isinstance(roi, str):
        return parse_roi(roi)
    if isinstance(roi, (tuple, list)) and len(roi) == 4:
        return parse_roi(",".join(str(float(v)) for v in roi))
    raise RoiError(f"cannot use {roi!r} as a region of interest")
