"""Which files are videos, by name or by their first bytes (no heavy imports: the walk of a
collection and CLI start-up use it)."""

from __future__ import annotations

import os

VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi"})


def is_video_name(name: str | os.PathLike[str]) -> bool:
    """Whether a file name has one of :data:`VIDEO_EXTENSIONS` (case-insensitive)."""
    return os.path.splitext(os.fspath(name))[1].lower() in VIDEO_EXTENSIONS


#: major brands of an ``ftyp`` box that make a HEIF / AVIF image (or image sequence), not a
#: video: the same ISO box format as MP4, told apart by the brand
IMAGE_BRANDS = frozenset(
    {b"heic", b"heix", b"hevc", b"heim", b"heis", b"hevm", b"mif1", b"msf1", b"avif", b"avis"}
)


def is_heif_image(data: bytes) -> bool:
    """HEIC / HEIF / AVIF bytes, by their ``ftyp`` box's major brand."""
    return data[4:8] == b"ftyp" and data[8:12] in IMAGE_BRANDS


def looks_like_video(data: bytes) -> bool:
    """A cheap sniff of encoded bytes: MP4/MOV (``ftyp``, but not a HEIC / AVIF photo's),
    Matroska/WebM, AVI."""
    head = data[:16]
    return (
        (head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free") and not is_heif_image(head))
        or head[:4] == b"\x1a\x45\xdf\xa3"
        or (head[:4] == b"RIFF" and head[8:12] == b"AVI ")
    )


def looks_like_still(data: bytes) -> bool:
    """Image bytes by their magic number (JPEG, PNG, GIF, WebP, BMP, TIFF, HEIC / AVIF): a
    file named like a video that holds one of these is that image (a renamed photo)."""
    head = data[:16]
    return (
        head[:3] == b"\xff\xd8\xff"
        or head[:8] == b"\x89PNG\r\n\x1a\n"
        or head[:4] in (b"GIF8", b"II*\x00", b"MM\x00*")
        or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
        or head[:2] == b"BM"
        or is_heif_image(head)
    )


def video_media_type(data: bytes) -> str | None:
    """The HTTP media type of video bytes by their first bytes (None: no video's): what a
    player is told of a video whose name does not say (an MP4 saved as ``.jpg``)."""
    head = data[:16]
    if not looks_like_video(head):
        return None
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "video/webm"  # Matroska / WebM: browsers play WebM
    if head[:4] == b"RIFF":
        return "video/x-msvideo"
    return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"


def format_timestamp(ms: int) -> str:
    """``01:23.4`` (minutes:seconds.tenths; hours when there are any: ``1:02:03.4``)."""
    tenths = int(ms) // 100
    seconds, tenth = divmod(tenths, 10)
    minutes, second = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    if hours:
        return f"{hours}:{minute:02d}:{second:02d}.{tenth}"
    return f"{minute:02d}:{second:02d}.{tenth}"
