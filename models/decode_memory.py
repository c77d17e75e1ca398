"""Memory bounds of decoding: what a decode will cost, a process-wide budget for the decodes
in flight, and conversions that never widen a whole large image.

Pillow holds a decoded image at 1 byte a pixel (``1``, ``L``, ``P``), 2 (``I;16``) or 4
(everything else, RGB included). A decode is charged that, plus the full-size RGB copy when
it is not reduced, and what the decoder holds besides (:func:`decoder_cost`: a progressive
JPEG's coefficients, WebP's and AVIF's canvases), against :data:`DECODE_BUDGET` before any
pixel is decoded: decodes wait for each other rather than add up, and an image that alone
needs more than the whole budget is refused with :class:`~models.errors.ImageTooLargeError`.
Wide modes (16/32-bit integer, float) are scaled to 8 bits in strips, and large images are
reduced in strips before they are widened to RGB, so no step holds more than the decoded
buffer plus a strip.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from models.errors import ImageTooLargeError

if TYPE_CHECKING:  # the strip helpers import them when called (the CLI sets the budget
    from PIL import Image  # before it knows whether anything will be decoded)

MIB = 1024 * 1024
#: bytes that all decodes of one process may hold at once (see :func:`set_decode_budget`)
DEFAULT_DECODE_BUDGET = 768 * MIB
#: images above this many pixels are reduced (in strips) to what the model needs
REDUCE_ABOVE_PIXELS = 16_000_000
STRIP_BYTES = 8 * MIB  # one strip's working set when converting or reducing
WIDE_MODES = ("I", "F")


def pixel_bytes(mode: str) -> int:
    """Bytes Pillow holds per pixel of ``mode``."""
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith("I;16"):
        return 2
    return 4


def is_wide(mode: str) -> bool:
    return mode in WIDE_MODES or mode.startswith("I;")


class DecodeBudget:
    """A counting budget of bytes shared by every decoding thread of the process."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._free = total
        self._cond = threading.Condition()

    @contextmanager
    def hold(self, nbytes: int, source: str | None = None) -> Iterator[None]:
        """Hold ``nbytes`` while decoding (waits for other decodes to finish first)."""
        if nbytes > self.total:
            raise ImageTooLargeError(
                f"decoding it would take {math.ceil(nbytes / MIB)} MiB of memory, more than "
                f"the {self.total // MIB} MiB allowed for decoding",
                source=source,
            )
        with self._cond:
            self._cond.wait_for(lambda: self._free >= nbytes)
            self._free -= nbytes
        try:
            yield
        finally:
            with self._cond:
                self._free += nbytes
                self._cond.notify_all()

    @property
    def free(self) -> int:
        return self._free


DECODE_BUDGET = DecodeBudget(DEFAULT_DECODE_BUDGET)


def set_decode_budget(nbytes: int) -> None:
    """Set the process's decode budget (the CLI applies ``Settings.decode_budget_mb``)."""
    with DECODE_BUDGET._cond:
        DECODE_BUDGET._free += int(nbytes) - DECODE_BUDGET.total
        DECODE_BUDGET.total = int(nbytes)
        DECODE_BUDGET._cond.notify_all()


def decode_cost(size: tuple[int, int], mode: str, reduced: bool) -> int:
    """Bytes a decode of ``size`` in ``mode`` holds at its peak (buffer, 8-bit copy of a wide
    mode, the full-size RGB result unless it is reduced)."""
    pixels = size[0] * size[1]
    cost = pixels * pixel_bytes(mode)
    if is_wide(mode):
        cost += pixels  # the 8-bit L copy
    if not reduced:
        cost += pixels * 4  # RGB at full size
    return cost


#: bytes a pixel that a decoder holds besides the image Pillow is charged for (measured peaks,
#: ``resource`` max RSS, 6000 x 6000 pictures): libwebp decodes to its own RGBA canvas and
#: more (16.3 B/px at the peak against the 4 charged), libavif to YUV planes and RGBA (9.4)
DECODER_BYTES = {"WEBP": 13, "AVIF": 6}


def decoder_cost(fmt: str | None, size: tuple[int, int], info: dict, layers: object) -> int:
    """Bytes the decoder of ``fmt`` holds for a picture of ``size`` besides Pillow's image. A
    progressive JPEG keeps every DCT coefficient of the whole picture (2 bytes each) until
    its last scan, whatever the draft's scale: a 169 MP progressive file took 1.1 GB where
    its draft, all that was charged, was 10 MB (``layers``: Pillow's ``(id, h, v, q)`` per
    component, from which the components' sampled sizes follow)."""
    width, height = size
    if fmt in ("JPEG", "MPO") and (info.get("progressive") or info.get("progression")):
        sampling = [(int(c[1]), int(c[2])) for c in layers] if isinstance(layers, list) else []
        sampling = sampling or [(1, 1)] * 3
        most_h, most_v = max(h for h, _ in sampling), max(v for _, v in sampling)
        blocks = sum(
            math.ceil(width * h / most_h / 8) * math.ceil(height * v / most_v / 8)
            for h, v in sampling
        )
        return blocks * 64 * 2
    return width * height * DECODER_BYTES.get(fmt or "", 0)


def _strip_rows(width: int, per_pixel: int, multiple: int = 1) -> int:
    rows = max(1, STRIP_BYTES // max(1, width * per_pixel))
    return max(multiple, rows - rows % multiple)


def _strips(height: int, rows: int) -> Iterator[tuple[int, int]]:
    for top in range(0, height, rows):
        yield top, min(height, top + rows)


def scale_wide_to_l(im: Image.Image) -> Image.Image:
    """16/32-bit integer or float greyscale -> 8-bit L, scaled (not clipped), in strips:
    never more than a strip in 32-bit floats besides the source and the result."""
    import numpy as np
    from PIL import Image

    width, height = im.size
    rows = _strip_rows(width, 8)
    floating = im.mode == "F"
    hi = 0.0
    for top, bottom in _strips(height, rows):
        part = np.asarray(im.crop((0, top, width, bottom)))
        if floating:
            part = part[np.isfinite(part)]
        if part.size:
            hi = max(hi, float(part.max()))
    if floating and hi <= 1.0:  # float: 0..1, 0..255 (Pillow's own convert("F")), 0..65535
        scale = 255.0
    elif floating and hi <= 255.0:  # (taken for 0..65535: a photo's float TIFF was black)
        scale = 1.0
    elif floating:
        scale = 255.0 / 65535.0 if hi <= 65535.0 else 255.0 / hi
    elif im.mode.startswith("I;16") or 255 < hi <= 65535:
        scale = 255.0 / 65535.0
    elif hi <= 255:
        scale = 1.0
    else:
        scale = 255.0 / hi
    out = Image.new("L", im.size)
    for top, bottom in _strips(height, rows):
        part = np.asarray(im.crop((0, top, width, bottom))).astype(np.float32)
        if floating:
            np.nan_to_num(part, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
        np.clip(part, 0.0, None, out=part)
        part *= np.float32(scale)
        np.rint(part, out=part)
        np.clip(part, 0.0, 255.0, out=part)
        out.paste(Image.fromarray(part.astype(np.uint8)), (0, top))
    return out


def reduce_factor(full: tuple[int, int], needed: tuple[float, float]) -> int:
    """The integer reduction that keeps at least ``needed`` (w, h) pixels, 1 for none."""
    return max(1, int(min(full[0] / max(needed[0], 1.0), full[1] / max(needed[1], 1.0))))


def reduce_in_strips(im: Image.Image, factor: int, to_rgb: object) -> Image.Image:
    """``to_rgb(im).reduce(factor)`` computed a strip at a time (``to_rgb``: mode -> RGB)."""
    from PIL import Image

    width, height = im.size
    rows = _strip_rows(width, 4, factor)
    out = Image.new("RGB", (math.ceil(width / factor), math.ceil(height / factor)))
    for top, bottom in _strips(height, rows):
        part = to_rgb(im.crop((0, top, width, bottom)))  # type: ignore[operator]
        out.paste(part.reduce(factor), (0, top // factor))
    return out


_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8


def return_freed_memory() -> bool:
    """Make glibc give large freed blocks back to the system at once (process-wide).

    By default glibc raises its mmap threshold after each large free (up to 32 MiB) and gives
    every thread its own arena, so the buffers of big decodes done by several threads stay
    resident after they are freed: a server's RSS ratchets up to the sum of its worst
    decodes. A fixed 1 MiB threshold and two arenas keep RSS near what is in use. True when
    applied (glibc only; elsewhere nothing changes).
    """
    try:
        import ctypes

        try:  # glibc by its soname: find_library would run ldconfig (~0.1 s of wall time)
            libc = ctypes.CDLL("libc.so.6")
        except OSError:
            import ctypes.util

            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, 1024 * 1024)) and bool(mallopt(_M_ARENA_MAX, 2))
