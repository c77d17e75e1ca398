"""Regions of interest, in explicit units: fractions of the image, or pixels.

Text form (CLI ``--roi``, the API's and the web form's ``roi``): ``l,t,r,b`` are fractions of
the image's width and height, each in [0, 1]; ``px:l,t,r,b`` are pixels of the upright
(EXIF-oriented) image, right/bottom exclusive. Nothing is guessed and nothing is clipped: a
value outside its unit's range, an empty or inverted box, or a pixel box reaching beyond the
image raises :class:`RoiError`.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping, Set
from dataclasses import dataclass, fields, is_dataclass

from models.errors import RoiError

PIXEL_PREFIX = "px:"
UNITS_HELP = (
    "'l,t,r,b' as fractions of the image (each 0..1), or 'px:l,t,r,b' in pixels "
    "of the upright image"
)


def _number(value: float) -> str:
    return f"{value:.12g}"


@dataclass(frozen=True)
class RegionOfInterest:
    """A box ``left, top, right, bottom`` in the upright (EXIF-oriented, rotated) image.

    ``normalized=True``: fractions of width/height, each in [0, 1]; otherwise pixel
    coordinates (>= 0; right/bottom exclusive, at most the image's width/height, checked by
    :meth:`to_box`). An empty, inverted or non-finite box raises :class:`RoiError`.
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
        text = self.text()
        if self.normalized and not all(0.0 <= v <= 1.0 for v in values):
            raise RoiError(
                f"region {text}: fractions of the image must be between 0 and 1 (for pixels "
                f"write {PIXEL_PREFIX}l,t,r,b)"
            )
        if not self.normalized and any(v < 0 for v in values):
            raise RoiError(f"region {text}: pixel coordinates must not be negative")
        if self.right <= self.left or self.bottom <= self.top:
            raise RoiError(f"region {text} is empty: need left < right and top < bottom")

    def text(self) -> str:
        """The text form: ``0.2,0.1,0.8,0.7`` or ``px:10,10,200,200``."""
        body = ",".join(_number(v) for v in self.as_tuple())
        return body if self.normalized else PIXEL_PREFIX + body

    def to_float_box(self, width: int, height: int) -> tuple[float, float, float, float]:
        """Integer pixel box (see :meth:`to_box`) as floats."""
        return tuple(float(v) for v in self.to_box(width, height))  # type: ignore[return-value]

    def to_box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """Pixel box ``(l, t, r, b)`` of a ``width x height`` image (r, b exclusive).

        Fractions are scaled and rounded to the nearest pixel edge. Raises :class:`RoiError`
        for a pixel box reaching beyond the image, or a box under one pixel wide or high.
        """
        if width < 1 or height < 1:
            raise RoiError(f"cannot apply a region of interest to a {width}x{height} image")
        if self.normalized:
            box = (self.left * width, self.top * height, self.right * width, self.bottom * height)
        else:
            if self.right > width or self.bottom > height:
                raise RoiError(
                    f"region {self.text()} reaches beyond the {width}x{height} image (right "
                    f"at most {width}, bottom at most {height})"
                )
            box = self.as_tuple()
        left, top = min(round(box[0]), width), min(round(box[1]), height)
        right, bottom = min(round(box[2]), width), min(round(box[3]), height)
        if right <= left or bottom <= top:
            raise RoiError(
                f"region {self.text()} covers less than a pixel of the {width}x{height} image"
            )
        return int(left), int(top), int(right), int(bottom)

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.left, self.top, self.right, self.bottom)

    def fraction(self) -> tuple[float, float] | None:
        """(width, height) fraction of the image for a normalised ROI, else ``None``."""
        if not self.normalized:
            return None
        return self.right - self.left, self.bottom - self.top


def parse_roi(text: str) -> RegionOfInterest:
    """Parse ``"l,t,r,b"`` (fractions, each 0..1) or ``"px:l,t,r,b"`` (pixels)."""
    raw = str(text).strip()
    pixels = raw[: len(PIXEL_PREFIX)].lower() == PIXEL_PREFIX
    body = raw[len(PIXEL_PREFIX) :] if pixels else raw
    parts = [p.strip() for p in body.replace(" ", ",").split(",") if p.strip()]
    if len(parts) != 4:
        raise RoiError(f"region '{raw[:60]}' must be four numbers: {UNITS_HELP}")
    if not all(_DECIMAL.fullmatch(p) for p in parts):  # float() takes "0_5" and "１" too
        raise RoiError(f"region '{raw[:60]}' must be four numbers: {UNITS_HELP}")
    return RegionOfInterest(*(float(p) for p in parts), normalized=not pixels)


#: a plain decimal number (ASCII digits, optional sign, point and exponent)
#: (and nan / inf, which the region then refuses as not finite)
_DECIMAL = re.compile(
    r"[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|nan|inf|infinity)", re.ASCII | re.I
)


EDGES = ("left", "top", "right", "bottom")


def coerce_roi(roi: object) -> RegionOfInterest | None:
    """Accept ``None``, a :class:`RegionOfInterest`, a region's text form (see
    :func:`parse_roi`), four fractions ``l, t, r, b`` in any sequence (a tuple, a list, a 1-d
    numpy array: a detector's box), or an object with ``left``, ``top``, ``right`` and
    ``bottom`` attributes (MediaPipe's ``RectF``: fractions; its ``Rect``, whose fields are
    declared ``int``: pixels, as MediaPipe documents them). Anything else: :class:`RoiError`."""
    if roi is None or isinstance(roi, RegionOfInterest):
        return roi
    if isinstance(roi, str):
        return parse_roi(roi)
    if all(hasattr(roi, name) for name in EDGES):
        return _from_edges(roi)
    values = _four_numbers(roi)
    if values is None:
        raise RoiError(_not_a_region(roi))
    return RegionOfInterest(*values)  # its RoiError says what is wrong with the box


def _from_edges(roi: object) -> RegionOfInterest:
    """A rectangle object's region: its four edges, each a number (numpy's too)."""
    values = {name: getattr(roi, name) for name in EDGES}
    wrong = [name for name, v in values.items() if not _is_number(v)]
    if wrong:
        given = ", ".join(f"{name}={values[name]!r}" for name in wrong)
        raise RoiError(
            f"cannot use {type(roi).__name__} as a region of interest: its {', '.join(EDGES)} "
            f"must be numbers, got {given}"
        )
    edges = (float(values[name]) for name in EDGES)
    return RegionOfInterest(*edges, normalized=not _declared_pixels(roi))


def _is_number(value: object) -> bool:
    """A real number, numpy's included; never a bool (``True`` is no edge)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _declared_pixels(roi: object) -> bool:
    """Whether ``roi``'s type declares its edges integers: MediaPipe's ``Rect`` (absolute
    pixel coordinates; ``RectF``, its region-of-interest type, has float fractions)."""
    if not is_dataclass(roi):
        return False
    declared = {f.name: f.type for f in fields(roi)}
    return all(declared.get(name) in (int, "int") for name in EDGES)


def _four_numbers(roi: object) -> list[float] | None:
    """``roi`` as four floats when it is a flat sequence of four numbers, else ``None``."""
    if isinstance(roi, (bytes, bytearray, Mapping, Set)) or getattr(roi, "ndim", 1) != 1:
        return None
    try:
        items = list(roi) if len(roi) == 4 else None  # type: ignore[arg-type, call-overload]
    except TypeError:  # no length: an iterator, a number
        return None
    if items is None or any(getattr(v, "ndim", 0) != 0 or isinstance(v, bytes) for v in items):
        return None
    try:
        return [float(v) for v in items]
    except (TypeError, ValueError):
        return None


def _not_a_region(roi: object) -> str:
    given = " ".join(repr(roi).split())  # a numpy array's repr has line breaks
    given = given if len(given) <= 80 else given[:77] + "..."
    shape = getattr(roi, "shape", None)
    kind = type(roi).__name__ + (f" of shape {tuple(shape)}" if shape is not None else "")
    if hasattr(roi, "region_of_interest"):  # MediaPipe's ImageProcessingOptions: no such class here
        return (
            f"cannot use {kind} as a region of interest: give its region_of_interest as roi= "
            f"(and its rotation_degrees as rotation_degrees=)"
        )
    return (
        f"cannot use {given} ({kind}) as a region of interest: give four numbers l, t, r, b "
        f"(fractions of the image, each 0..1) as a tuple, list or 1-d array, an object with "
        f"{', '.join(EDGES)} (MediaPipe's RectF), a RegionOfInterest, or text: {UNITS_HELP}"
    )
