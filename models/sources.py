"""Where an image comes from: a path, bytes, a binary file object or an array, as a stream.

Also what the content is when Pillow cannot open it (HEIC/AVIF without the optional
``pillow-heif`` package, SVG), so that :func:`models.load.load_image` can say why. Importing
this module registers the HEIC/AVIF opener with Pillow when ``pillow-heif`` is installed.
"""

from __future__ import annotations

import functools
import io
import os
from typing import IO, Any

import numpy as np
from PIL import Image

from models.errors import EmptyImageError, UnreadableImageError, UnsupportedImageError
from models.files import open_image_file
from models.video_names import is_heif_image

try:  # optional HEIC/AVIF support
    import pillow_heif  # type: ignore[import-not-found]

    pillow_heif.register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - depends on the environment
    HEIF_SUPPORTED = False


@functools.cache
def avif_supported() -> bool:
    """Pillow 11.2+ reads AVIF itself (without pillow-heif) when built with libavif. Asked
    when an AVIF file is met: the answer loads every Pillow plugin (~25 ms at import)."""
    return HEIF_SUPPORTED or ".avif" in Image.registered_extensions()


ImageSource = Any  # str | os.PathLike | bytes | IO[bytes] | Image.Image | np.ndarray


#: what a failure says when an optional package was missing: (words of its message, module)
MISSING_SUPPORT = (
    ("install the optional 'pillow-heif'", "pillow_heif"),
    ("video_support_missing", "av"),
)


def fixed_by_installed() -> tuple[str, ...]:
    """Words of the failures (:data:`MISSING_SUPPORT`) that the optional packages installed
    now can read: a HEIC that failed before ``pillow-heif`` was installed is tried again."""
    import importlib.util

    return tuple(words for words, module in MISSING_SUPPORT if importlib.util.find_spec(module))


def source_name(source: ImageSource) -> str | None:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else None


def sniff_unsupported(head: bytes) -> str | None:
    """A helpful message for formats that are images but cannot be opened here."""
    if is_heif_image(head):
        if head[8:12] in (b"avif", b"avis") and avif_supported():
            return "AVIF image that the installed decoders cannot read (damaged?)"
        if not HEIF_SUPPORTED:
            return "HEIC/HEIF/AVIF image: install the optional 'pillow-heif' package to read it"
        return "HEIC/HEIF/AVIF image that the installed decoders cannot read"
    if head.startswith(b"%!PS") or head.startswith(b"\xc5\xd0\xd3\xc6"):  # DOS EPS binary
        return "PostScript/EPS is not read (it would take Ghostscript); convert it to PNG first"
    text = head.lstrip()[:256].lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in head.lower()):
        return "SVG vector images are not supported; convert it to PNG first"
    return None


def open_stream(source: ImageSource, name: str | None) -> tuple[IO[bytes], bool]:
    """A binary stream for ``source``; the flag says whether we must close it."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise EmptyImageError("zero-byte image data", source=name)
        return io.BytesIO(bytes(source)), True
    if isinstance(source, (str, os.PathLike)):
        return open_image_file(source), True  # regular files only, size-limited
    if hasattr(source, "read"):
        try:
            data = source.read()
        except OSError as exc:
            raise UnreadableImageError(f"cannot read stream: {exc}", source=name) from None
        if not isinstance(data, (bytes, bytearray)):
            raise UnsupportedImageError("file object must be opened in binary mode", source=name)
        if not data:
            raise EmptyImageError("zero-byte image data", source=name)
        return io.BytesIO(bytes(data)), True
    raise UnsupportedImageError(
        f"cannot read an image from {type(source).__name__}: pass a path, bytes, a binary file "
        "object, a PIL image or an HxWx3 uint8 array"
    )


def array_to_image(array: np.ndarray) -> Image.Image:
    if array.dtype != np.uint8:
        raise UnsupportedImageError(f"image array must be uint8, got {array.dtype}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4)):
        if min(array.shape[:2]) < 1:
            raise EmptyImageError(f"image array has shape {array.shape}")
        return Image.fromarray(np.ascontiguousarray(array))
    raise UnsupportedImageError(f"image array must be HxW, HxWx3 or HxWx4, got {array.shape}")
