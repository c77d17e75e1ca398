"""Animated images (GIF, animated WebP, APNG) read as short videos with Pillow alone (no PyAV).

:class:`AnimationReader` has :class:`models.video.VideoReader`'s interface: ``info``,
``frames``, ``sample`` (the same cut / interval sampling as videos), ``stills_between`` and
``still_at``. A frame's time is the sum of the durations before it (GIF / WebP / APNG durations
in ms; a missing duration or one of 10 ms or less counts 100 ms, as browsers play it).
Frames are composited by Pillow's ``seek`` (disposal, transparency) and streamed: one frame
and Pillow's previous one are held, never the whole animation.

Untrusted input is bounded: a canvas larger than :data:`models.video.MAX_VIDEO_PIXELS` or the
image pixel limit is refused (``video_too_large``), the reader holds its frames' memory in the
process's decode budget, and a walk stops after :data:`MAX_ANIMATION_FRAMES` frames,
:data:`MAX_ANIMATION_PIXELS` composited pixels or :data:`MAX_ANIMATION_STILLS` sampled stills,
saying so in :attr:`AnimationReader.cut`. A file cut short (a GIF without its trailer, a PNG
without ``IEND``, a WebP shorter than its RIFF header says: :mod:`models.truncation`) is a
``truncated_video``, one whose data cannot be decoded otherwise a ``corrupt_video``; an
animated WebP (its header's animation flag) that Pillow cannot open is one of those too.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import numpy as np
from PIL import Image

from models.decode_memory import DECODE_BUDGET
from models.errors import ImageError
from models.files import open_image_file, read_limited
from models.load import DEFAULT_MAX_PIXELS, to_rgb
from models.truncation import stream_ends_early
from models.video import (
    DEFAULT_INTERVAL_S,
    MAX_VIDEO_PIXELS,
    STILL_SIDE,
    Still,
    VideoError,
    VideoInfo,
    sample_stills,
    stills_every,
)

ANIMATED_FORMATS = ("GIF", "WEBP", "PNG")  # what browsers animate in an <img>
DEFAULT_FRAME_MS = 100  # browsers' duration of a frame that gives none (or <= 10 ms)
MAX_ANIMATION_FRAMES = 5000  # frames walked (composited) at most: e.g. 250 s at 20 fps
#: composited pixels walked at most (all frames): ~5 s of Pillow's compositing here. At 2000
#: million a 4.6 KB GIF (an 8000x4000 canvas, 200 one-pixel frames) held a query for 17-23 s and
#: two such uploads kept image search busy; a 1080p animation is cut after ~240 frames (warned)
MAX_ANIMATION_PIXELS = 500_000_000
MAX_ANIMATION_STILLS = 600  # sampled stills at most
FRAME_BYTES_PER_PIXEL = 12  # Pillow's frame (RGBA) + the previous one + the RGB copy
_ERRORS = (OSError, SyntaxError, ValueError, struct.error, zlib.error, IndexError, MemoryError)


def animation_format(head: bytes) -> str | None:
    """The animated-image format these first bytes may be (a cheap sniff, no decoding):
    GIF, WebP with its animation flag, PNG (APNG is told by Pillow)."""
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:16] == b"WEBPVP8X" and len(head) > 20:
        return "WEBP" if head[20] & 0x02 else None
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    return None


def is_animation(source: str | os.PathLike[str] | bytes) -> bool:
    """Whether ``source`` (a path or the file's bytes) is an animated image of more than one
    frame. Reads headers (and for a GIF the first frame's compressed blocks), never decodes;
    anything unreadable is not an animation (the image decoder then says what is wrong)."""
    try:
        with ExitStack() as stack:
            if isinstance(source, (bytes, bytearray, memoryview)):
                if animation_format(bytes(source[:32])) is None:
                    return False  # most queries: no copy of the upload
                handle: Any = io.BytesIO(source)
            else:
                handle = stack.enter_context(open_image_file(source))
            fmt = animation_format(handle.read(32))
            if fmt is None:
                return False
            handle.seek(0)
            try:
                im = stack.enter_context(Image.open(handle))
            except (EOFError, *_ERRORS):  # damaged: an animation when its header says so,
                return fmt == "WEBP"  # which only an animated WebP's does (the reader says)
            return im.format in ANIMATED_FORMATS and bool(getattr(im, "is_animated", False))
    except (Image.DecompressionBombError, EOFError, *_ERRORS):
        return False


def frame_ms(duration: object) -> int:
    """A frame's duration in ms as browsers play it (none, or 10 ms or less: 100 ms)."""
    try:
        value = round(float(duration))  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return DEFAULT_FRAME_MS
    return DEFAULT_FRAME_MS if value <= 10 else value


def _grid(im: Image.Image) -> np.ndarray:
    """16x16 luma block means (0..255) of a frame, as videos' cut signal: a 64x64 subsample
    (nearest pixels: 4096 read, not the whole frame) averaged in 4x4 blocks."""
    small = im.resize((64, 64), Image.Resampling.NEAREST).convert("L")
    return np.asarray(small, np.float32).reshape(16, 4, 16, 4).mean(axis=(1, 3))


def _still(im: Image.Image, side: int = STILL_SIDE) -> Image.Image:
    """The frame as RGB (transparency on white), shorter side ``side`` (never enlarged)."""
    rgb = to_rgb(im)
    scale = min(1.0, side / max(1, min(rgb.width, rgb.height)))
    if scale >= 1.0:
        return rgb.copy() if rgb is im else rgb
    size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
    return rgb.resize(size, Image.Resampling.BOX)


class AnimationReader:
    """Opens an animated image (path or bytes) and streams its frames as a video's."""

    def __init__(
        self,
        source: str | os.PathLike[str] | bytes | Any,
        name: str | None = None,
        *,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
    ) -> None:
        self.name = name or (os.fspath(source) if isinstance(source, (str, os.PathLike)) else None)
        if isinstance(source, (bytes, bytearray, memoryview)):
            self._data: bytes | None = bytes(source)
            self._path = None
        elif isinstance(source, (str, os.PathLike)):
            self._data, self._path = None, os.fspath(source)
        else:
            self._data, self._path = read_limited(source, self.name or "animation"), None
        limit = MAX_VIDEO_PIXELS if max_pixels is None else min(max_pixels, MAX_VIDEO_PIXELS)
        self.max_pixels = limit
        self.cut: str | None = None  #: why a walk stopped before the end (a cap), if it did
        self._stack = ExitStack()
        self._walked_ms: int | None = None  # the duration, once a walk reached the end
        self._frames_seen = 0
        try:
            self._image = self._open()
            width, height = self._image.size
            self.format = str(self._image.format)
            self._check_size(self._image)
            self._held = 0  # canvas pixels whose frames' memory the decode budget holds
            self._hold(width * height)
        except BaseException:
            self.close()
            raise

    def _open(self) -> Image.Image:
        handle: Any
        if self._data is not None:
            handle = io.BytesIO(self._data)
        else:
            handle = self._stack.enter_context(open_image_file(self._path))  # type: ignore[arg-type]
        self._handle = handle
        try:
            im = Image.open(handle)
        except Image.DecompressionBombError as error:
            raise self._error(f"frames are too large ({error})", "video_too_large") from None
        except (EOFError, *_ERRORS) as error:
            handle.seek(0)
            if animation_format(handle.read(32)) is None:
                raise self._error(f"not a readable animation ({error})", "not_a_video") from None
            raise self._damaged(f"the animation cannot be opened ({error})") from None
        self._stack.callback(im.close)
        if im.format not in ANIMATED_FORMATS:
            raise self._error(f"{im.format} is not an animated image format", "not_a_video")
        return im

    def _hold(self, pixels: int) -> None:
        """Hold the frames' memory of a ``pixels`` canvas in the decode budget (more when a
        frame grows the canvas)."""
        if pixels > self._held:
            extra = (pixels - self._held) * FRAME_BYTES_PER_PIXEL
            self._stack.enter_context(DECODE_BUDGET.hold(extra, self.name))
            self._held = pixels

    def _error(self, message: str, reason: str) -> VideoError:
        return VideoError(message, source=self.name, reason=reason)

    def _damaged(self, message: str) -> VideoError:
        """A GIF / WebP / PNG that cannot be read: ``truncated_video`` when the file ends
        before its container does (or the decoder says so), else ``corrupt_video``."""
        if stream_ends_early(self._handle) or "truncated" in message.lower():
            return self._error(f"{message}: the file is cut short", "truncated_video")
        return self._error(f"{message}: its data is damaged", "corrupt_video")

    def _check_size(self, im: Image.Image) -> None:
        width, height = im.size
        if width < 1 or height < 1 or width * height > self.max_pixels:
            raise self._error(f"frames of {width}x{height} are too large", "video_too_large")

    def info(self) -> VideoInfo:
        """Size, format and duration: the whole animation's once a walk reached its end
        (:meth:`sample` walks it), else the part walked so far."""
        duration = self._walked_ms or 0
        fps = 1000.0 * self._frames_seen / duration if duration else 0.0
        width, height = self._image.size
        return VideoInfo(width, height, duration, fps, self.format.lower())

    def frames(
        self, start_ms: int = 0, *, references_only: bool = False
    ) -> Iterator[tuple[int, Image.Image]]:
        """Every composited frame from ``start_ms`` on, with its time in ms (the frame is
        Pillow's, valid until the next one). ``references_only`` is ignored (every frame of
        an animation is needed to composite the next). Stops at a cap, saying why in
        :attr:`cut`."""
        im = self._image
        ms, index, pixels = 0, 0, 0
        while True:
            if index >= MAX_ANIMATION_FRAMES or pixels >= MAX_ANIMATION_PIXELS:
                what = (
                    f"{MAX_ANIMATION_FRAMES} frames"
                    if index >= MAX_ANIMATION_FRAMES
                    else f"{MAX_ANIMATION_PIXELS // 1_000_000} million composited pixels"
                )
                self.cut = (
                    f"animation cut at {ms} ms (frame {index}): only its first {what} are read"
                )
                self._walked_ms, self._frames_seen = ms, index
                return
            try:
                im.seek(index)
                self._check_size(im)
                self._hold(im.size[0] * im.size[1])
                im.load()
            except EOFError:
                if index == 0:
                    raise self._damaged("no frame could be decoded") from None
                break
            except ImageError:  # too large (canvas, decode budget): said as it is
                raise
            except Image.DecompressionBombError as error:
                raise self._error(f"a frame is too large ({error})", "video_too_large") from None
            except _ERRORS as error:
                raise self._damaged(f"decoding stopped at frame {index} ({error})") from None
            pixels += im.size[0] * im.size[1]
            duration = frame_ms(im.info.get("duration"))
            if ms + duration > start_ms:
                yield ms, im
            ms += duration
            index += 1
        self._frames_seen = index
        self._check_trailer(im)
        self._walked_ms = ms

    def _check_trailer(self, im: Image.Image) -> None:
        """A GIF whose data ends without its trailer (``;``) was cut short."""
        if self.format != "GIF" or im.fp is None:
            return
        try:
            at = im.fp.tell()
            im.fp.seek(max(0, at - 1))
            last = im.fp.read(1)
        except (OSError, ValueError):
            return
        if last != b";":
            raise self._error(
                f"the GIF ends without its trailer after {self._frames_seen or 'some'} frames "
                "(truncated file)",
                "truncated_video",
            )

    def sample(self, interval_s: float = DEFAULT_INTERVAL_S) -> Iterator[Still]:
        """Stills at the first frame, after every cut and every ``interval_s``, at most
        :data:`MAX_ANIMATION_STILLS` of them."""
        for n, still in enumerate(sample_stills(self.frames(), _grid, _still, interval_s)):
            if n >= MAX_ANIMATION_STILLS:
                self.cut = (
                    f"animation cut at {still.timestamp_ms} ms: only the first "
                    f"{MAX_ANIMATION_STILLS} sampled frames are kept"
                )
                self._walked_ms = still.timestamp_ms
                return
            yield still

    def stills_between(self, start_ms: int, end_ms: int, step_ms: int) -> Iterator[Still]:
        """Stills every ``step_ms`` from the frame shown at ``start_ms`` to ``end_ms``."""
        return stills_every(self.frames(start_ms), _still, end_ms, step_ms)

    def still_at(self, at_ms: int, size: int) -> Image.Image:
        """The frame shown at ``at_ms`` (the last one starting at or before it), at most
        ``size`` pixels on its longer side."""
        for _ms, _frame in self.frames(max(0, int(at_ms))):
            break  # the frame shown then (past the end: the walk stops on the last one)
        shown = to_rgb(self._image).copy()
        shown.thumbnail((size, size), Image.Resampling.LANCZOS)
        return shown

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> AnimationReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = [
    "ANIMATED_FORMATS",
    "DEFAULT_FRAME_MS",
    "MAX_ANIMATION_FRAMES",
    "MAX_ANIMATION_PIXELS",
    "MAX_ANIMATION_STILLS",
    "AnimationReader",
    "animation_format",
    "frame_ms",
    "is_animation",
]
