"""Video decoding (PyAV, the optional ``video`` extra): keyframes sampled at shot changes and at
most every ``interval`` seconds, small RGB stills with their timestamps, streamed so that
memory is bounded by one frame, not by the video's length.

A shot change is a large jump of a 16x16 grid of luma block means between two decoded frames
(a hard cut); pans and zooms move it little. Decoding skips H.264's loop filter and takes the
codec's fast paths: the stills are reduced to the model's input size, where neither shows.
The sampling scan decodes only the frames that other frames refer to (FFmpeg's
``skip_frame=NONREF``: about half of an H.264 stream with B-frames, the rest is never needed
to decode the next frame), reads the cut signal from their Y plane at 64x64 and converts only
the sampled frames to RGB, straight at the still's size; a stream whose every frame is
non-reference is scanned again in full.
"""

from __future__ import annotations

import io
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from PIL import Image

from models.errors import ImageError
from models.truncation import CUT_SHORT, decoder_words, video_cut_short
from models.video_names import VIDEO_EXTENSIONS, format_timestamp, is_video_name, looks_like_video

DEFAULT_INTERVAL_S = 2.0
CUT_THRESHOLD = 28.0  # mean absolute change of the luma grid (0..255) that is a cut
STILL_SIDE = 256  # shorter side of the stills handed to the model (it reads 224)
MAX_VIDEO_PIXELS = 8192 * 4320  # larger frames are refused (memory per frame)
FAST_DECODE = {"skip_loop_filter": "all", "flags2": "+fast"}
F = TypeVar("F")


_LAST_FRAME_LOOKBACK_MS = 5000  # still_at: how far back from the end the last frame is looked for


class VideoError(ImageError):
    """A video could not be read: ``reason`` says why (``not_a_video``, ``truncated_video``,
    ``corrupt_video``, ``empty``, ``no_video_stream``, ``video_too_large``,
    ``video_support_missing``)."""

    reason = "video_error"


def require_av() -> Any:
    """The ``av`` module, or a :class:`VideoError` that says how to install it."""
    try:
        import av
    except ImportError:
        raise VideoError(
            "video support needs PyAV: pip install -e '.[video]' in imgsearch's folder",
            reason="video_support_missing",
        ) from None
    return av


@dataclass(frozen=True)
class VideoInfo:
    """What a video is: size of its frames, duration, frame rate, codec."""

    width: int
    height: int
    duration_ms: int
    fps: float
    codec: str


@dataclass
class Still:
    """A sampled frame: its time, the shot it belongs to, and a small RGB image."""

    timestamp_ms: int
    shot: int
    image: Image.Image


def _grid(frame: Any) -> np.ndarray:
    """16x16 luma block means of a decoded frame (from the Y plane, no colour conversion):
    a 64x64 subsample of the plane summed in 4x4 blocks."""
    plane = frame.planes[0]
    height, width = frame.height, frame.width
    luma = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
    step_y, step_x = max(1, height // 64), max(1, width // 64)
    small = luma[: step_y * 64 : step_y, : step_x * 64 : step_x][:height, :width]
    h, w = small.shape[0] // 4 * 4, small.shape[1] // 4 * 4
    if h == 0 or w == 0:
        return small.astype(np.float32)
    blocks = small[:h, :w].reshape(h // 4, 4, w // 4, 4).sum(axis=(1, 3), dtype=np.int32)
    return blocks.astype(np.float32) / np.float32(16.0)


def quarter_turns(frame: Any) -> int:
    """Counter-clockwise quarter turns that show ``frame`` as it is meant to be seen: a
    phone's portrait video is stored sideways with a display matrix that says so (PyAV's
    ``frame.rotation``: degrees counter-clockwise, -90 for the usual portrait clip)."""
    try:
        degrees = float(getattr(frame, "rotation", 0) or 0)
    except (TypeError, ValueError):
        return 0
    return round(degrees / 90) % 4


def upright(image: Image.Image, turns: int) -> Image.Image:
    """``image`` turned by ``turns`` counter-clockwise quarter turns (exact: no resampling)."""
    methods = (None, Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180)
    method = methods[turns] if turns < 3 else Image.Transpose.ROTATE_270
    return image if method is None else image.transpose(method)


def _still(frame: Any) -> Image.Image:
    """The frame as RGB with its shorter side ``STILL_SIDE`` (never enlarged), converted and
    scaled in one FFmpeg step (area averaging), turned as its display matrix says."""
    scale = STILL_SIDE / max(1, min(frame.width, frame.height))
    width = max(1, round(frame.width * min(1.0, scale)))
    height = max(1, round(frame.height * min(1.0, scale)))
    rgb = frame.to_ndarray(width=width, height=height, format="rgb24", interpolation="AREA")
    return upright(Image.fromarray(rgb), quarter_turns(frame))


def sample_stills(
    frames: Iterable[tuple[int, F]],
    grid: Callable[[F], np.ndarray],
    still: Callable[[F], Image.Image],
    interval_s: float = DEFAULT_INTERVAL_S,
) -> Iterator[Still]:
    """Stills of ``frames`` (time in ms, frame) at the first frame, after every cut (a jump of
    the frames' ``grid``) and every ``interval_s`` (the first frame that far or further after
    the last one kept); ``still`` makes the RGB image of a kept frame (videos' and
    animations' frames alike)."""
    interval_ms = max(1, int(interval_s * 1000))
    previous: np.ndarray | None = None
    shot, last_ms = -1, None
    for ms, frame in frames:
        cells = grid(frame)
        cut = (
            previous is None
            or previous.shape != cells.shape
            or float(np.abs(cells - previous).mean()) > CUT_THRESHOLD
        )
        previous = cells
        if cut:
            shot += 1
        if cut or last_ms is None or ms - last_ms >= interval_ms:
            last_ms = ms
            yield Still(ms, shot, still(frame))


def stills_every(
    frames: Iterable[tuple[int, F]],
    still: Callable[[F], Image.Image],
    end_ms: int,
    step_ms: int,
) -> Iterator[Still]:
    """Stills of ``frames`` (time in ms, frame) every ``step_ms`` up to ``end_ms``, the first
    frame always among them."""
    next_ms = -1
    for ms, frame in frames:
        if ms > end_ms:
            return
        if ms >= next_ms:
            next_ms = ms + step_ms
            yield Still(ms, 0, still(frame))


class VideoReader:
    """Opens a video file (path or file object) and streams :class:`Still` samples."""

    cut: str | None = None  # a video is never cut short (animations can be: a cap)
    turns = 0  # quarter turns of the frames decoded so far (their display matrix)

    def __init__(self, source: str | os.PathLike[str] | bytes | Any, name: str | None = None):
        self.av = require_av()
        self.name = name or (os.fspath(source) if isinstance(source, (str, os.PathLike)) else None)
        if isinstance(source, (bytes, bytearray)):
            source = io.BytesIO(source)
        try:
            self.container = self.av.open(source, mode="r")
        except (self.av.error.FFmpegError, UnicodeDecodeError, ValueError) as error:
            if video_cut_short(source):
                raise VideoError(CUT_SHORT, source=self.name, reason="truncated_video") from None
            raise VideoError(
                f"not a readable video ({decoder_words(error)})",
                source=self.name,
                reason="not_a_video",
            ) from None
        if video_cut_short(source):  # its first part plays, and the header's duration lies
            self.close()
            raise VideoError(CUT_SHORT, source=self.name, reason="truncated_video")
        self.source = source
        if not self.container.streams.video:
            self.close()
            raise VideoError("no video stream", source=self.name, reason="no_video_stream")
        self.stream = self.container.streams.video[0]
        ctx = self.stream.codec_context
        if (ctx.width or 0) * (ctx.height or 0) > MAX_VIDEO_PIXELS:
            self.close()
            raise VideoError(
                f"frames of {ctx.width}x{ctx.height} are too large",
                source=self.name,
                reason="video_too_large",
            )
        self.stream.thread_type = "AUTO"
        ctx.options = dict(FAST_DECODE)

    def info(self) -> VideoInfo:
        stream, ctx = self.stream, self.stream.codec_context
        duration = 0
        if stream.duration is not None and stream.time_base is not None:
            duration = int(stream.duration * stream.time_base * 1000)
        elif self.container.duration is not None:
            duration = int(self.container.duration / 1000)
        fps = float(stream.average_rate or stream.guessed_rate or 0.0)
        width, height = ctx.width, ctx.height
        if self.turns % 2:  # shown turned a quarter (a portrait phone clip): as seen
            width, height = height, width
        return VideoInfo(width, height, duration, fps, ctx.name)

    def frames(
        self, start_ms: int = 0, *, references_only: bool = False
    ) -> Iterator[tuple[int, Any]]:
        """Every decoded frame from ``start_ms`` on, with its timestamp in ms (monotonic);
        with ``references_only`` only the frames that other frames are decoded from."""
        av, last = self.av, -1
        self.stream.codec_context.skip_frame = "NONREF" if references_only else "DEFAULT"
        if start_ms > 0 and self.stream.time_base:
            target = int(start_ms / 1000 / self.stream.time_base)
            try:
                self.container.seek(target, stream=self.stream, backward=True)
            except av.error.FFmpegError:
                self.container.seek(0)
        try:
            for frame in self.container.decode(self.stream):
                if frame.pts is None or frame.time is None:
                    continue
                ms = round(frame.time * 1000)
                if ms < start_ms or ms <= last:
                    continue
                last = ms
                self.turns = quarter_turns(frame)
                yield ms, frame
        except (av.error.FFmpegError, MemoryError) as error:
            said = decoder_words(error)
            if last < 0:
                raise VideoError(
                    f"no frame could be decoded ({said})", source=self.name, reason="not_a_video"
                ) from None
            cut = video_cut_short(self.source) is not False  # else damaged in the middle
            raise VideoError(
                f"decoding stopped at {last} ms ({said})",
                source=self.name,
                reason="truncated_video" if cut else "corrupt_video",
            ) from None
        if last < 0:
            raise VideoError("no frame could be decoded", source=self.name, reason="not_a_video")

    def _scan(self) -> Iterator[tuple[int, Any]]:
        """The sampling scan's frames: reference frames only, or every frame (from the start
        again) when the stream has no reference frame at all."""
        seen = False
        try:
            for item in self.frames(references_only=True):
                seen = True
                yield item
        except VideoError:
            if seen:
                raise
            self.container.seek(0)
            yield from self.frames()

    def sample(self, interval_s: float = DEFAULT_INTERVAL_S) -> Iterator[Still]:
        """Stills at the first frame, after every cut and every ``interval_s`` (taken
        from the reference frames: a sampled moment is at most a few frames off the grid)."""
        return sample_stills(self._scan(), _grid, _still, interval_s)

    def stills_between(self, start_ms: int, end_ms: int, step_ms: int) -> Iterator[Still]:
        """Stills every ``step_ms`` from ``start_ms`` to ``end_ms`` (seeking first)."""
        return stills_every(self.frames(start_ms), _still, end_ms, step_ms)

    def still_at(self, at_ms: int, size: int) -> Image.Image:
        """The frame at ``at_ms`` (the first one at or after it; after the last frame's start,
        up to the end of the video, the last frame), at most ``size`` pixels on its longer
        side. A moment past the end is a :class:`VideoError` saying so (both were "no frame
        could be decoded")."""
        at = max(0, int(at_ms))
        frame = next((f for _ms, f in self._frames_or_none(at)), None)
        if frame is None:
            duration = self.info().duration_ms
            if duration and at > duration:
                raise VideoError(
                    f"{at} ms is past the end of the video ({duration} ms long)",
                    source=self.name,
                    reason="past_the_end",
                )
            # the last frame starts before `at` and shows until the end: decode the last
            # seconds (from the start when that frame is longer)
            for start in (max(1, at - _LAST_FRAME_LOOKBACK_MS), 0):
                if start == 0:
                    self.container.seek(0)
                last = deque(self._frames_or_none(start), maxlen=1)  # one frame held at a time
                if last:
                    frame = last[0][1]
                    break
        if frame is None:
            raise VideoError(
                f"no frame could be decoded up to {at} ms", source=self.name, reason="not_a_video"
            )
        scale = min(1.0, size / max(frame.width, frame.height))
        width = max(1, round(frame.width * scale))
        height = max(1, round(frame.height * scale))
        return upright(frame.to_image(width=width, height=height), quarter_turns(frame))

    def _frames_or_none(self, start_ms: int) -> Iterator[tuple[int, Any]]:
        """:meth:`frames` from ``start_ms``, nothing where none is there to decode."""
        try:
            yield from self.frames(start_ms)
        except VideoError as error:
            if error.reason != "not_a_video":
                raise

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = [
    "VIDEO_EXTENSIONS",
    "Still",
    "VideoError",
    "VideoInfo",
    "VideoReader",
    "format_timestamp",
    "is_video_name",
    "looks_like_video",
    "require_av",
    "sample_stills",
    "stills_every",
]
