"""The self-contained HTML dedup report (:func:`render_html`).

Thumbnails are embedded as ``data:`` URIs from a caller-supplied
``thumbnail(image_id) -> bytes | None``; the page loads nothing from anywhere else, so it works
offline and can be mailed (layout in :mod:`search.dedup.report`'s docstring).
"""

from __future__ import annotations

import base64
import logging
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path, PurePath

import jinja2

from search.dedup.groups_result import DedupResult
from search.dedup.keeper import WEAK_DECISIONS, DedupImage
from search.dedup.report_fields import member_decision, member_reason, name_of, report_score
from search.dedup.report_files import file_href, file_missing
from search.dedup.video_report import VideoGroupJson, video_html_groups
from search.units import human_size

log = logging.getLogger(__name__)

Thumbnailer = Callable[[int], bytes | None]
MAX_THUMBNAIL_BYTES = 256 * 1024
"""A thumbnail larger than this is left out of the HTML (the page must stay small)."""
_MIME = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_TEMPLATES = Path(__file__).resolve().parent / "templates"


def _collage_note(img: DedupImage) -> str:
    if not img.collage:
        return ""
    width, height = img.content_size
    return f" (a collage: the picture in a {width}x{height} cell of it)"


def _cut(score: float | None) -> str | None:
    """Three decimals, cut, not rounded: a 0.9997 near-duplicate would read "1.000", an exact
    copy's score."""
    return None if score is None else f"{math.floor(report_score(score) * 1000) / 1000:.3f}"


def data_uri(data: bytes | None) -> str | None:
    """``data:`` URI for JPEG/PNG/GIF/WebP bytes; None for anything else or too large."""
    if not data or len(data) > MAX_THUMBNAIL_BYTES:
        return None
    mime = next((m for magic, m in _MIME if data.startswith(magic)), None)
    if mime is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        mime = "image/webp"
    if mime is None:
        return None
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def render_html(
    result: DedupResult,
    thumbnail: Thumbnailer | None = None,
    *,
    title: str = "imgsearch - duplicate report",
    page_size: int = 50,
    video_groups: Sequence[VideoGroupJson] = (),
) -> str:
    """The self-contained HTML report. ``thumbnail`` failures leave a placeholder (logged)."""
    failed = 0

    def thumb_of(image_id: int) -> str | None:
        nonlocal failed
        if thumbnail is None:
            return None
        try:
            uri = data_uri(thumbnail(image_id))
        except (OSError, ValueError) as exc:  # ImageError is a ValueError
            log.warning("no thumbnail for image %s: %s", image_id, exc)
            uri = None
        failed += uri is None
        return uri

    def thumb(img: DedupImage) -> str | None:
        return thumb_of(img.id)

    def card(
        img: DedupImage,
        score: float | None,
        exact: bool,
        keeper: bool,
        verified: bool = False,
        via: str | None = None,
        why: str | None = None,
        weak: bool = False,
    ) -> dict:
        return {
            "path": img.path,
            "name": PurePath(img.path).name or img.path,
            "folder": str(PurePath(img.path).parent),
            "href": file_href(img.path),
            "missing": file_missing(img.path),
            "thumb": thumb(img),
            "size": f"{img.width}x{img.height}" + _collage_note(img),
            "bytes": human_size(img.file_size),
            "exif": f"{img.exif_datetime:%Y-%m-%d %H:%M:%S}" if img.exif_datetime else None,
            "score": None
            if score is None
            else f"{math.floor(report_score(score) * 1000) / 1000:.3f}",
            "exact": exact,
            "verified": verified,
            "via": via,
            "keeper": keeper,
            "id": img.id,
            "why": why,
            "weak": weak,
        }

    groups = [
        {
            "number": i,
            "reason": g.reason,
            "count": len(g.members) + 1,
            "cards": [card(g.keeper, None, False, True)]
            + [
                card(
                    m.image,
                    m.score,
                    m.exact,
                    False,
                    m.verified,
                    name_of(g, m.via),
                    member_reason(g, m, result.keeper_rules),
                    member_decision(g, m, result.keeper_rules) in WEAK_DECISIONS,
                )
                for m in g.members
            ],
        }
        for i, g in enumerate(result.groups, start=1)
    ]
    size = max(1, int(page_size))
    pages = [groups[i : i + size] for i in range(0, len(groups), size)]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    videos = video_html_groups(video_groups, thumb_of, file_href, file_missing)
    cards = [c for g in [*groups, *videos] for c in g["cards"]]  # type: ignore[attr-defined]
    html = env.get_template("dedup_report.html.j2").render(
        title=title,
        result=result,
        pages=pages,
        videos=videos,
        missing=sum(bool(c["missing"]) for c in cards),
        moved_left_out=int(result.stats.get("moved_left_out", 0)),
        duplicates=result.duplicate_count,
        exact_count=sum(m.exact for g in result.groups for m in g.members),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    if failed and thumbnail is not None:
        log.info("%d image(s) of the report have no thumbnail", failed)
    return html
