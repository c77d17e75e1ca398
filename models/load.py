"""Decoding untrusted images: size guard, JPEG draft, EXIF orientation, RGB, pixel hash.

The input (path, bytes, stream, array) is read and sniffed by :mod:`models.sources`.

Every failure is a typed :class:`~models.errors.ImageError`; nothing here hangs on a
decompression bomb (the pixel count is checked from the header, before any decoding).
"""

from __future__ import annotations

import hashlib
import re
import struct
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from PIL import Image, UnidentifiedImageError

from models.decode_memory import (
    DECODE_BUDGET,
    REDUCE_ABOVE_PIXELS,
    decode_cost,
    decoder_cost,
    is_wide,
    reduce_in_strips,
    scale_wide_to_l,
)
from models.drafts import allowed_reduction, draft_scale
from models.errors import (
    CorruptImageError,
    DecompressionBombError,
    EmptyImageError,
    NotAnImageError,
    TruncatedImageError,
    UnsupportedImageError,
)
from models.exif import exif_info as _exif_info
from models.files import open_pillow
from models.options import rotation as rotation_degrees_checked
from models.png_metadata import oversized_metadata, png_without_metadata
from models.roi import RegionOfInterest
from models.sources import (
    ImageSource,
    array_to_image,
    open_stream,
    sniff_unsupported,
    source_name,
)
from models.truncation import stream_ends_early

DEFAULT_MAX_PIXELS = 90_000_000
# The pixel limit is imgsearch's own (``max_pixels``, checked before decoding, with its own
# message): Pillow's warning above 89 M pixels printed two lines of its source on stderr
# before that one-line error; its error (above 179 M) is reworded by _bomb.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
# A damaged EXIF block is read as far as it goes (no orientation, no capture time, as a file
# without one): Pillow's "Corrupt EXIF data" / "Possibly corrupt EXIF data" warnings said
# it with a line of Pillow's source, in a server's log and on the CLI's stderr.
warnings.filterwarnings("ignore", message=r"(Possibly )?[Cc]orrupt EXIF", category=UserWarning)
_WHITE = (255, 255, 255)
_ORIENT_TRANSPOSE = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_270,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_90,),
}
_ROTATE_CW = {
    90: Image.Transpose.ROTATE_270,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_90,
}
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    zlib.error,
    IndexError,
    TypeError,
    KeyError,
    MemoryError,
)


@dataclass
class DecodedImage:
    """A decoded RGB image.

    ``image`` may be a JPEG draft reduction; ``width``/``height`` are the full size after
    orientation and rotation, so ``image.width / width`` is the reduction scale.
    """

    image: Image.Image
    width: int
    height: int
    format: str | None
    exif_datetime: datetime | None = None
    orientation: int = 1
    source: str | None = None

    @property
    def scale(self) -> tuple[float, float]:
        """(x, y) factor from full-size pixel coordinates to ``image`` coordinates."""
        return self.image.width / self.width, self.image.height / self.height

    @property
    def reduced(self) -> bool:
        return self.image.size != (self.width, self.height)


def to_rgb(im: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB; transparency is composited onto white."""
    mode = im.mode
    if mode == "RGB" and "transparency" not in im.info:
        return im
    has_alpha_key = mode in ("P", "L", "RGB") and "transparency" in im.info
    if has_alpha_key or mode == "PA":
        im = im.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "RGBa", "La"):
        if mode != "RGBA":
            im = im.convert("RGBA")
        background = Image.new("RGB", im.size, _WHITE)
        background.paste(im, mask=im.getchannel("A"))
        return background
    if mode.startswith("I") or mode == "F":
        return scale_wide_to_l(im).convert("RGB")
    return im.convert("RGB")


def load_image(
    source: ImageSource,
    *,
    rotation_degrees: int = 0,
    draft_size: Sequence[int] | None = (224, 224),
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    roi: RegionOfInterest | None = None,
    crop_fraction: float = 1.0,
) -> DecodedImage:
    """Decode ``source`` (path, bytes, binary file object, PIL image or HxWx3 uint8 array).

    The format is detected from the content, never the file name. EXIF orientation is
    applied, then ``rotation_degrees`` (clockwise, a multiple of 90); the first frame of an
    animation is used; every mode becomes RGB (transparency onto white, 16-bit scaled to
    8-bit). With ``draft_size`` (the model input, width x height) a large JPEG is decoded at a
    reduced DCT scale that still keeps that size over the part that will be used
    (``roi`` and ``crop_fraction`` say which part). ``draft_size=None`` decodes full size.
    Raises :class:`ImageError` subclasses; ``ValueError`` / ``TypeError`` for a bad
    ``rotation_degrees``.
    """
    rotation = rotation_degrees_checked(rotation_degrees) % 360
    name = source_name(source)
    args = (rotation, draft_size, max_pixels, roi, crop_fraction)
    try:
        return _load(source, name, *args)
    except CorruptImageError as error:  # a PNG's metadata Pillow will not read: without it
        stripped = png_without_metadata(source) if oversized_metadata(error) else None
        if stripped is None:
            raise
        return _load(stripped, name, *args)


def _load(
    source: ImageSource,
    name: str | None,
    rotation: int,
    draft_size: Sequence[int] | None,
    max_pixels: int | None,
    roi: RegionOfInterest | None,
    crop_fraction: float,
) -> DecodedImage:
    if isinstance(source, np.ndarray):
        return _finish(array_to_image(source), None, rotation, max_pixels, name, draft=None)
    if isinstance(source, Image.Image):
        return _finish(source, source.format, rotation, max_pixels, name, draft=None)
    stream, owned = open_stream(source, name)
    try:
        head = stream.read(64)
        stream.seek(0)
        try:
            im = open_pillow(stream)  # the header only: nothing is decoded yet
        except UnidentifiedImageError:
            hint = sniff_unsupported(head)
            if hint:
                raise UnsupportedImageError(hint, source=name) from None
            raise NotAnImageError(
                "not an image (content matches no known image format)", source=name
            ) from None
        except Image.DecompressionBombError as exc:
            raise _bomb(exc, max_pixels, name) from None
        except _DECODE_ERRORS as exc:
            if "truncated" in str(exc).lower() or isinstance(exc, EOFError):
                raise TruncatedImageError(
                    f"image header is truncated ({exc})", source=name
                ) from None
            if stream_ends_early(stream):  # libwebp says the same of a cut and a bad frame
                raise TruncatedImageError(
                    f"the file ends before its data does (truncated file; {exc})", source=name
                ) from None
            raise CorruptImageError(f"cannot parse image header: {exc}", source=name) from None
        draft = None
        if draft_size is not None:
            draft = (tuple(draft_size), crop_fraction, roi)
        return _finish(im, im.format, rotation, max_pixels, name, draft=draft)
    finally:
        if owned:
            stream.close()


def _bomb(exc: Exception, max_pixels: int | None, name: str | None) -> DecompressionBombError:
    """Pillow's refusal in the words of imgsearch's own limit (Pillow names its own)."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    if found is None or max_pixels is None:
        return DecompressionBombError(str(exc), source=name)
    return DecompressionBombError(
        f"{int(found.group(1)) / 1e6:.1f} million pixels exceeds the limit of "
        f"{max_pixels / 1e6:.1f} million (possible decompression bomb)",
        source=name,
    )


def _finish(
    im: Image.Image,
    fmt: str | None,
    rotation: int,
    max_pixels: int | None,
    name: str | None,
    draft: tuple[tuple[int, ...], float, RegionOfInterest | None] | None,
) -> DecodedImage:
    width, height = im.size
    if width < 1 or height < 1:
        raise EmptyImageError(f"image has no pixels ({width}x{height})", source=name)
    orientation, stamp = _exif_info(im)
    swap = (orientation >= 5) != (rotation in (90, 270))
    full_w, full_h = (height, width) if swap else (width, height)
    scale, reduce = 1, 1
    if draft is not None and fmt in ("JPEG", "MPO") and im.mode in ("RGB", "L", "CMYK"):
        scale = draft_scale((full_w, full_h), draft[0], draft[1], draft[2])
        while max_pixels is not None and scale < 8 and width * height / scale**2 > max_pixels:
            scale *= 2  # a small region of a huge photo: read coarser than it asks, not refused
    # the limit bounds the pixels decoded: a 108 MP phone JPEG decoded at 1/8 of its size
    # is 1.7 MP (Pillow itself refuses more than 179 M pixels at open)
    if max_pixels is not None and width * height / scale**2 > max_pixels:
        raise DecompressionBombError(
            f"{width}x{height} = {width * height / 1e6:.1f} million pixels exceeds the limit "
            f"of {max_pixels / 1e6:.1f} million (possible decompression bomb)",
            source=name,
        )
    if draft is not None:
        allowed = allowed_reduction((full_w, full_h), draft[0], draft[1], draft[2])
        if width * height / scale**2 > REDUCE_ABOVE_PIXELS:
            reduce = max(1, int(allowed / scale))  # the rest: reduced in strips after decoding
    decoded_size = (-(-width // scale), -(-height // scale))
    turned = orientation > 1 or rotation != 0
    cost = decode_cost(decoded_size, im.mode, reduced=reduce > 1)
    cost += decoder_cost(fmt, (width, height), im.info, getattr(im, "layer", None))
    if turned and reduce == 1:
        cost += decoded_size[0] * decoded_size[1] * 4  # a transposed copy
    with DECODE_BUDGET.hold(cost, name):
        rgb = _decode_rgb(im, fmt, scale, reduce, name)
        try:
            for method in _ORIENT_TRANSPOSE.get(orientation, ()):
                rgb = rgb.transpose(method)
            if rotation:
                rgb = rgb.transpose(_ROTATE_CW[rotation])
        except _DECODE_ERRORS as exc:
            raise UnsupportedImageError(f"cannot turn the image: {exc}", source=name) from None
    return DecodedImage(rgb, full_w, full_h, fmt, stamp, orientation, name)


def _decode_rgb(
    im: Image.Image, fmt: str | None, scale: int, reduce: int, name: str | None
) -> Image.Image:
    """Decode (at JPEG draft ``scale``), then RGB reduced ``reduce`` times (in strips)."""
    width, height = im.size
    try:
        # Pillow opens animations at frame 0, which is the frame used (never counting
        # frames: that would scan a whole, possibly huge, file).
        if scale > 1:
            im.draft(im.mode if im.mode != "L" else "L", (width // scale, height // scale))
        im.load()
    except Image.DecompressionBombError as exc:
        raise DecompressionBombError(str(exc), source=name) from None
    except (EOFError, struct.error) as exc:
        raise TruncatedImageError(f"image data ends early: {exc}", source=name) from None
    except _DECODE_ERRORS as exc:
        text = str(exc)
        if "truncated" in text.lower() or "end of file" in text.lower():
            # (not Pillow's "image file is truncated (10 bytes not processed)": the count is
            # of its buffer's leftovers, and read as all that is missing of a JPEG cut to 5 KB)
            raise TruncatedImageError(
                "the file ends before its picture does (truncated file)", source=name
            ) from None
        raise CorruptImageError(f"cannot decode image: {text}", source=name) from None
    try:
        if reduce > 1:
            source = scale_wide_to_l(im) if is_wide(im.mode) else im
            return reduce_in_strips(source, reduce, to_rgb)
        return to_rgb(im)
    except _DECODE_ERRORS as exc:
        raise UnsupportedImageError(
            f"cannot convert {im.mode} image to RGB: {exc}", source=name
        ) from None


def pixel_sha256(image: Image.Image | DecodedImage) -> str:
    """sha256 of ``"<w>x<h>\\n"`` + RGB bytes; pass a full-size decode (``draft_size=None``)."""
    if isinstance(image, DecodedImage):
        if image.reduced:
            raise ValueError("pixel_sha256 needs a full-size decode (load_image(draft_size=None))")
        image = image.image
    rgb = image if image.mode == "RGB" else to_rgb(image)
    digest = hashlib.sha256(f"{rgb.width}x{rgb.height}\n".encode())
    digest.update(rgb.tobytes())
    return digest.hexdigest()
