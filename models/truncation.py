"""Was a file cut short? Told from its container, not from a decoder's message: a GIF ends
with its trailer byte ``;``, a PNG with its ``IEND`` chunk, a WebP is as long as its RIFF
header says. Reads the first and last 12 bytes; the stream's position is kept.

Used where a decoder refuses a file without saying why (libwebp's "could not create decoder
object" for a truncated animated WebP and for one with a damaged frame alike), so that the
error says ``truncated`` when the file was cut short and ``corrupt`` otherwise.
"""

from __future__ import annotations

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


__all__ = ["ends_early", "stream_ends_early"]
