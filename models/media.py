"""What plays as a video, decided by content: video files (PyAV's :class:`VideoReader`) and
animated images of more than one frame (Pillow's :class:`AnimationReader`, no PyAV needed).
A single-frame GIF / WebP / PNG stays an image."""

from __future__ import annotations

import os
from typing import Any

from models.animation import AnimationReader, animation_format, is_animation
from models.errors import EmptyImageError, ImgsearchError
from models.files import open_image_file
from models.video import VideoError, VideoReader
from models.video_names import is_video_name, looks_like_still, looks_like_video

Reader = VideoReader | AnimationReader


def is_video_container(path: str | os.PathLike[str], head: bytes | None = None) -> bool:
    """A video file by its content: a video's name unless its first bytes are a still
    image's (a photo renamed ``.mp4``), or any name over a video's bytes (an MP4 saved as
    ``.jpg`` is a video, as an upload of those bytes is). ``head``: its first bytes, if read."""
    head = _head(path) if head is None else head
    if is_video_name(path):
        return not looks_like_still(head)
    return looks_like_video(head)


def is_video_file(path: str | os.PathLike[str]) -> bool:
    """A video file (:func:`is_video_container`), or an animated image by content (headers
    only; the first bytes read once for both)."""
    head = _head(path)
    if is_video_container(path, head):
        return True
    return animation_format(head) is not None and is_animation(path)


def is_video_data(data: bytes, name: str | None = None) -> bool:
    """Video bytes (MP4/MOV, Matroska/WebM, AVI) or an animated image's bytes; with the
    upload's file ``name``, also any bytes but a still image's under a video's name (as
    :func:`is_video_container` takes a file: ``clip.mp4`` of text is an unreadable video, not
    "not an image")."""
    head = bytes(data[:32])
    if name is not None and is_video_name(name) and not looks_like_still(head):
        return True
    return looks_like_video(head[:16]) or is_animation(data)


def _head(source: Any) -> bytes:
    """The first bytes of ``source`` to tell what it is by; b"" when it cannot be read
    (whoever reads it says why)."""
    try:
        return _read_head(source)
    except ImgsearchError:
        return b""


def _read_head(source: Any) -> bytes:
    """The first bytes of ``source`` (b"" for an empty file: :func:`open_video` says
    `empty`); a FIFO, a device or a folder is no file to read (a FIFO's size 0 made it
    "empty") and a missing file is said as such: their ImageErrors propagate."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source[:32])
    if isinstance(source, (str, os.PathLike)):
        try:
            with open_image_file(source, 64 * 2**30) as handle:
                return handle.read(32)
        except EmptyImageError:
            return b""
        except OSError:
            return b""  # the reader says what is wrong with it
    return b""


def _empty(source: Any) -> bool:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return len(source) == 0
    if isinstance(source, (str, os.PathLike)):
        try:
            return os.stat(source).st_size == 0
        except OSError:
            return False  # the reader says what is wrong with it
    return False


def open_video(source: Any, name: str | None = None) -> Reader:
    """The reader for ``source`` (a path or bytes): an animated image's when its content is
    one (whatever its name), else PyAV's (which needs the ``video`` extra). An empty file is
    a :class:`VideoError` ``empty``."""
    head = _read_head(source)
    if not head and _empty(source):
        shown = name or (os.fspath(source) if isinstance(source, (str, os.PathLike)) else None)
        raise VideoError("file is empty (zero bytes)", source=shown, reason="empty")
    if isinstance(source, (str, os.PathLike)) and is_video_name(source):
        if looks_like_still(head) and animation_format(head) is not None:
            return AnimationReader(source, name)  # an animated GIF / WebP named .mp4
        return VideoReader(source, name)
    if not looks_like_video(head) and animation_format(head) is not None:
        return AnimationReader(source, name)
    return VideoReader(source, name)


__all__ = ["Reader", "is_video_container", "is_video_data", "is_video_file", "open_video"]
