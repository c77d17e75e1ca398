"""Was a file cut short? Told from its container, not from a decoder's message: a GIF ends
with its trailer byte ``;``, a PNG with its ``IEND`` chunk, a WebP or an AVI is as long as
its RIFF header says, an MP4 / MOV as its top-level boxes say, a Matroska / WebM file as its
segment says. Reads a few header bytes; the stream's position is kept.

Used where a decoder refuses a file without saying why (libwebp's "could not create decoder
object" for a truncated animated WebP and for one with a damaged frame alike), so that the
error says ``truncated`` when the file was cut short and ``corrupt`` otherwise.
"""

from __future__ import annotations

import io
import os
import re
import struct
from typing import Any

_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def ends_early(head: bytes, tail: bytes, size: int) -> bool | None:
    """Does a file of ``size`` bytes, beginning with ``head`` (12 bytes or more) and ending
    with ``tail`` (its last 12), end before its container does? None: not GIF, PNG, WebP."""
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return not tail.endswith(b";")
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return not tail.endswith(_PNG_END)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        (declared,) = struct.unpack("<I", head[4:8])
        return size < declared + 8
    return None


def stream_ends_early(stream: Any) -> bool | None:
    """:func:`ends_early` of the seekable binary ``stream`` (None: it cannot be told)."""
    try:
        at = stream.tell()
        try:
            stream.seek(0)
            head = stream.read(12)
            size = stream.seek(0, 2)
            stream.seek(max(0, size - 12))
            tail = stream.read(12)
        finally:
            stream.seek(at)
    except (OSError, ValueError, AttributeError):
        return None
    return ends_early(head, tail, size) if head else None


CUT_SHORT = "the file ends before its container does (cut short: copy it again)"


def video_cut_short(source: Any) -> bool | None:
    """:func:`video_ends_early` of a path, bytes or seekable binary stream."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return video_ends_early(io.BytesIO(source))
    if isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as handle:
                return video_ends_early(handle)
        except OSError:
            return None
    return video_ends_early(source)


def decoder_words(error: BaseException) -> str:
    """What a decoder's error says, without FFmpeg's error number and call
    (``[Errno 1094995529] Invalid data ...: 'avcodec_send_packet()'``)."""
    return str(getattr(error, "strerror", None) or error)


MAX_BOXES = 4096  # top-level boxes walked at most (a real MP4 has a handful)
_FOURCC = re.compile(rb"[A-Za-z0-9 ]{4}")  # a box's type (top-level ones are plain letters)
_EBML, _SEGMENT = b"\x1a\x45\xdf\xa3", b"\x18\x53\x80\x67"


def video_ends_early(stream: Any) -> bool | None:
    """Does the seekable binary ``stream`` of a video end before its container does? An MP4
    or MOV whose top-level boxes run past its end, a Matroska / WebM file whose segment does
    (one of unknown size, a live recording, cannot tell), an AVI shorter than its RIFF
    header says. None: not one of those, or it cannot be told."""
    try:
        at = stream.tell()
        try:
            size = stream.seek(0, 2)
            stream.seek(0)
            head = stream.read(16)
            if head[4:8] == b"ftyp":
                return _boxes_end_early(stream, size)
            if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
                return size < struct.unpack("<I", head[4:8])[0] + 8
            if head[:4] == _EBML:
                return _segment_ends_early(stream, size)
            return None
        finally:
            stream.seek(at)
    except (OSError, ValueError, AttributeError, struct.error):
        return None


def _boxes_end_early(stream: Any, size: int) -> bool | None:
    offset = 0
    for _ in range(MAX_BOXES):
        if offset == size:
            return False
        stream.seek(offset)
        header = stream.read(16)
        if len(header) < 8:
            return True
        (length,) = struct.unpack(">I", header[:4])
        if length == 1:  # a 64-bit size follows the type
            if len(header) < 16:
                return True
            (length,) = struct.unpack(">Q", header[8:16])
        elif length == 0:  # the last box runs to the end of the file
            return False
        if length < 8 or not _FOURCC.fullmatch(header[4:8]):
            return None  # not boxes after all (garbage after an ftyp is not a cut file)
        offset += length
        if offset > size:
            return True
    return None


def _segment_ends_early(stream: Any, size: int) -> bool | None:
    stream.seek(4)
    header_size, used = _vint(stream.read(8))
    if header_size is None:
        return None
    start = 4 + used + header_size  # the EBML header's end: the segment's ID
    stream.seek(start)
    if stream.read(4) != _SEGMENT:
        return None
    segment_size, used = _vint(stream.read(8))
    if segment_size is None:  # unknown size: a stream recorded live
        return None
    return size < start + 4 + used + segment_size


def _vint(data: bytes) -> tuple[int | None, int]:
    """An EBML variable-size integer: (value, bytes used); None for an unknown size."""
    if not data or data[0] == 0:
        return None, 0
    length = 8 - data[0].bit_length() + 1
    if len(data) < length:
        return None, 0
    value = data[0] & (0xFF >> length)
    for byte in data[1:length]:
        value = (value << 8) | byte
    return (None if value == (1 << (7 * length)) - 1 else value), length


__all__ = [
    "CUT_SHORT",
    "decoder_words",
    "ends_early",
    "stream_ends_early",
    "video_cut_short",
    "video_ends_early",
]
