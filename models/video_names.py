"""Which files are videos, by name or by their first bytes (no heavy imports: the walk of a
collection and CLI start-up use it)."""

from __future__ import annotations

import os

VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi"})


def is_video_name(name: str | os.PathLike[str]) -> bool:
    """Whether a file name has one of :data:`VIDEO_EXTENSIONS` (case-insensitive)."""
    return os.path.splitext(os.fspath(name))[1].lower() in VIDEO_EXTENSIONS


def looks_like_video(data: bytes) -> bool:
    """A cheap sniff of encoded bytes: MP4/MOV (``ftyp``), Matroska/WebM, AVI."""
    head = data[:16]
    return (
        head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free")
        or head[:4] == b"\x1a\x45\xdf\xa3"
        or (head[:4] == b"RIFF" and head[8:12] == b"AVI ")
    )
