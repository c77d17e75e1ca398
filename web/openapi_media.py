"""The media operations of the OpenAPI document: an image's (or a video's) thumbnail, a
video's frame at a moment (``?t=``), and the original file with HTTP Range requests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from search.library import DEFAULT_SIZE, SIZES
from web.api_schemas import BINARY

MAX_T_MS = 2**40  # the largest ``t`` accepted (ms: about 35 years)
VIDEO_MEDIA_TYPES = (
    "video/mp4",
    "video/quicktime",
    "video/x-matroska",
    "video/webm",
    "video/x-msvideo",
)

_T = {
    "name": "t",
    "in": "query",
    "description": "Videos (and animated GIF / WebP / APNG) only: the frame at this time in "
    "ms (a video's first frame at or after it, an animation's frame shown then) instead of the "
    "cached thumbnail - a search hit's `timestamp_ms`. An image, or a time past "
    "a video's end, is a 404",
    "schema": {"type": "integer", "minimum": 0, "maximum": MAX_T_MS},
    "example": 1500,
}
_VERSION = {
    "name": "v",
    "in": "query",
    "description": "The version of the content that was indexed (the start of its sha256), as "
    "the URLs in the API's answers and the pages give it: answered with `Cache-Control: "
    "private, max-age=31536000, immutable` when it is the library's version now (a file "
    "indexed again gets a new URL), else (none, an old one) with what the library holds "
    "now, `private, no-cache` (revalidated with its ETag)",
    "schema": {"type": "string", "pattern": "^[0-9a-f]{1,64}$"},
    "example": "9f86d081884c7d65",
}
_SIZE = {
    "name": "size",
    "in": "query",
    "description": "Longest side in pixels",
    "schema": {"type": "integer", "enum": list(SIZES), "default": DEFAULT_SIZE},
}
_RANGE = {
    "name": "Range",
    "in": "header",
    "description": "A byte range (RFC 9110), as video players send to seek: answered 206 "
    "with that part, or 416 when it is beyond the file or unreadable",
    "schema": {"type": "string", "pattern": "^bytes=[0-9]{0,12}-[0-9]{0,12}$"},
    "example": "bytes=0-1023",
}
_DOWNLOAD = {
    "name": "download",
    "in": "query",
    "description": "1: served as an attachment (Content-Disposition), for saving",
    "schema": {"type": "string", "enum": ["0", "1"]},
}


def media_paths(image_id: dict[str, Any], errors: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """Path items of /images/{image_id}/thumbnail and /images/{image_id}/file (``image_id``:
    the path parameter, ``errors``: the document's error responses by status)."""
    file_types = {"image/*": {"schema": BINARY}}
    file_types |= {media: {"schema": BINARY} for media in VIDEO_MEDIA_TYPES}
    file_types |= {"application/octet-stream": {"schema": BINARY}}
    return {
        "/images/{image_id}/thumbnail": {
            "get": {
                "summary": "EXIF-oriented JPEG thumbnail (cached on disk), or a video's frame",
                "description": "A video's thumbnail is its first frame; with `t`, its frame at "
                "that moment (a search hit on a video links it as `thumbnail_url` with "
                "`&t=timestamp_ms` added).",
                "operationId": "thumbnail",
                "parameters": [image_id, _SIZE, _T, _VERSION],
                "responses": {
                    "200": {
                        "description": "JPEG thumbnail (or the video's frame at `t`)",
                        "content": {"image/jpeg": {"schema": BINARY}},
                    },
                    **errors(400, 403, 404, 409, 415, 503),
                },
            }
        },
        "/images/{image_id}/file": {
            "get": {
                "summary": "The original file (an image, or a video with Range requests)",
                "operationId": "imageFile",
                "parameters": [image_id, _DOWNLOAD, _VERSION, _RANGE],
                "responses": {
                    "200": {
                        "description": "The file, with its image or video media type; a "
                        "file that failed to index (never decoded: a web page saved as .jpg) "
                        "as application/octet-stream with `Content-Disposition: attachment`",
                        "content": file_types,
                    },
                    "206": {
                        "description": "The part of the file asked for with `Range`",
                        "headers": {
                            "Content-Range": {
                                "description": "bytes FIRST-LAST/SIZE",
                                "schema": {"type": "string"},
                            }
                        },
                        "content": file_types,
                    },
                    **errors(403, 404, 409, 416, 503),
                },
            }
        },
    }


__all__ = ["MAX_T_MS", "VIDEO_MEDIA_TYPES", "media_paths"]
