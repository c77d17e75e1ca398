"""Which media type a library file is served as (``GET /api/v1/images/{id}/file``): an
image's from its decoded format (its content), a video's from its name or first bytes, and a
file that was never decoded (it failed to index: a web page or an SVG saved as ``.jpg``) as
a download only, never under an image's type."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from models import video_media_type

DOWNLOAD_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class ServedType:
    """``mimetype`` to serve a file as; ``video`` when it is a video (served for players,
    with Range requests); ``download_only`` for a file never decoded (``Content-Disposition:
    attachment``: the browser saves it, it is never shown as an image or a page)."""

    mimetype: str
    video: bool = False
    download_only: bool = False


def served_type(fmt: str | None, path: Path) -> ServedType:
    """How the library file at ``path``, indexed with the decoded format ``fmt`` (a video: its
    codec; None: never decoded), is served."""
    if not fmt:  # its name or bytes may say image/jpeg or video/mp4: nothing read it as such
        return ServedType(DOWNLOAD_TYPE, download_only=True)
    if fmt.upper() in _MIMETYPES:  # a photo renamed .mp4 is served as the photo
        return ServedType(_MIMETYPES[fmt.upper()])
    video = _video_type(path)
    if video is not None:
        return ServedType(video, video=True)
    return ServedType(_SUFFIX_MIMETYPES.get(path.suffix.lower(), DOWNLOAD_TYPE))


_MIMETYPES = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
    "HEIF": "image/heif",
    "AVIF": "image/avif",
    "ICO": "image/x-icon",
}
_SUFFIX_MIMETYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".heic": "image/heic",
    ".heif": "image/heif",
    ".avif": "image/avif",
}


_VIDEO_MIMETYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".mkv": "video/x-matroska",
    ".webm": "video/webm",
    ".avi": "video/x-msvideo",
}


def _video_type(path: Path) -> str | None:
    """A video file's media type: by its video name, else by its first bytes (an MP4 saved
    as ``.jpg`` is indexed as the video it is); None for no video's."""
    if path.suffix.lower() in _VIDEO_MIMETYPES:
        return _VIDEO_MIMETYPES[path.suffix.lower()]
    try:
        with path.open("rb") as handle:
            return video_media_type(handle.read(16))
    except OSError:
        return None
