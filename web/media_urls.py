"""The URLs of a library image's thumbnail and file, as the pages and the JSON API give them,
and how long a browser may keep what they answer.

A URL carries the version of the content that was indexed (``?v=``: the start of its
sha256), so that a file replaced and indexed again gets a new URL and is fetched anew (its
thumbnail stayed stale in the browser for up to 5 minutes at the same URL), while an
unchanged one is kept for a year without a request. A request without a version, or with
another one than the library's (an old page), is answered with what the library holds now
and revalidated on every use (``no-cache``: its ETag makes that a 304), never kept.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request

VERSION_CHARS = 16  # hex digits of the sha256: 64 bits
VERSIONED_MAX_AGE = 365 * 24 * 3600


def version_of(sha256: str | None) -> str | None:
    """The version of an image's indexed content in its URLs (None: no sha256 recorded)."""
    return sha256[:VERSION_CHARS] if sha256 else None


def _query(sha256: str | None, **more: Any) -> str:
    pairs = [("v", version_of(sha256)), *more.items()]
    text = "&".join(f"{name}={value}" for name, value in pairs if value is not None)
    return f"?{text}" if text else ""


def thumbnail_url(
    image_id: int, sha256: str | None, *, size: int | None = None, t: int | None = None
) -> str:
    """``/api/v1/images/ID/thumbnail?v=VERSION`` (``size``: of the thumbnail; ``t``: a
    video's frame at ``t`` ms)."""
    base = f"{request.script_root}/api/v1/images/{int(image_id)}/thumbnail"
    return base + _query(sha256, size=size, t=None if t is None else int(t))


def file_url(image_id: int, sha256: str | None) -> str:
    """``/api/v1/images/ID/file?v=VERSION``: the original file."""
    return f"{request.script_root}/api/v1/images/{int(image_id)}/file{_query(sha256)}"


def image_urls(image_id: int, sha256: str | None) -> dict[str, str]:
    """An image's URLs in the JSON API (string building: ``url_for`` x 3 per hit cost ~4 ms
    per search)."""
    return {
        "thumbnail_url": thumbnail_url(image_id, sha256),
        "file_url": file_url(image_id, sha256),
        "page_url": f"{request.script_root}/images/{int(image_id)}",
    }


def cache_for_version(response: Response, sha256: str | None) -> Response:
    """Cached by the browser only (``private``: ``send_file`` says ``public``, which would let
    a shared cache keep what a token let one user see): for a year when the request named the
    version of the content the library holds now (``sha256``), else revalidated each time."""
    response.cache_control.public = False
    response.cache_control.private = True
    asked, current = request.args.get("v"), version_of(sha256)
    if asked is not None and asked == current:
        response.cache_control.max_age = VERSIONED_MAX_AGE
        response.cache_control.immutable = True
    else:
        response.cache_control.max_age = None
        response.cache_control.no_cache = True
    return response


def register(app: Flask) -> None:
    """The templates' ``thumb_url(item, size=, t=)`` and ``file_url(item)`` of anything with
    an ``id`` (and an indexed ``sha256``: a hit, an image's record, a member of a cluster, an
    outlier; without one, the unversioned URL)."""

    def thumb_of(item: Any, size: int | None = None, t: int | None = None) -> str:
        return thumbnail_url(item.id, getattr(item, "sha256", None), size=size, t=t)

    def file_of(item: Any) -> str:
        return file_url(item.id, getattr(item, "sha256", None))

    app.jinja_env.globals.update(thumb_url=thumb_of, file_url=file_of)


__all__ = [
    "cache_for_version",
    "file_url",
    "image_urls",
    "register",
    "thumbnail_url",
    "version_of",
]
