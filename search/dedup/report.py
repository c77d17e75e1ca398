"""Dedup reports: JSON (scripts), CSV (spreadsheets), self-contained HTML (people).

JSON shape (extend, never rename)::

    {"threshold": S, "groups": [{"keeper": PATH, "reason": TEXT,
                                 "members": [{"path", "id", "score", "exact"}, ...]}, ...]}

``members`` are the duplicates of the keeper, keeper not included (a script that removes every
member never removes the keeper); ``score`` is the cosine to the keeper, ``exact`` means the same
sha256 as the keeper, ``verified`` that local features confirmed a member scoring below the
threshold (``dedup --verify``), ``via`` the id of the member it was confirmed against instead
of the keeper (its ``score`` is to that member; null otherwise: :mod:`search.dedup.confirmed`).
Extensions: per member ``width``, ``height``, ``file_size``,
``exif_datetime``, ``mtime``, ``format``, ``photo_size`` (``[w, h]`` of the photo inside a
frame, or of another member's picture in a ``collage``, else null), ``reason`` (why the
keeper is kept over this member: the group's ``reason`` is over the runner-up only; CSV's
``reason`` is this one); per group ``keeper_id``
and ``keeper_image``; top level ``keeper_rules``, ``linkage`` and ``stats``;
``video_groups`` (copies of a video, see :mod:`search.dedup.videos`) when the caller gives
them, in CSV and HTML too (:mod:`search.dedup.video_report`).

The HTML page embeds its thumbnails as ``data:`` URIs from a caller-supplied
``thumbnail(image_id) -> bytes | None`` and loads nothing from anywhere else: it works offline
and can be mailed. Groups come in pages of ``page_size`` inside ``<details>`` elements (only
the first is open; closed pages are not laid out), images have ``loading="lazy"``, so thousands
of groups stay fast. Nothing here deletes or moves a file; the writers only create the report.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path, PurePath

import jinja2

from search.dedup.groups import DedupGroup, DedupMember, DedupResult
from search.dedup.keeper import WEAK_DECISIONS, DedupImage, decided_by, keeper_key, kept_over
from search.dedup.report_files import atomic_write, file_href, file_missing
from search.dedup.video_report import (
    VIDEO_COLUMNS,
    VideoGroupJson,
    video_csv_rows,
    video_html_groups,
)
from search.units import human_size

log = logging.getLogger(__name__)

Thumbnailer = Callable[[int], bytes | None]
MAX_THUMBNAIL_BYTES = 256 * 1024
"""A thumbnail larger than this is left out of the HTML (the page must stay small)."""
CSV_COLUMNS = (
    "group",
    "keeper_path",
    "keeper_id",
    "duplicate_path",
    "duplicate_id",
    "score",
    "exact",
    "verified",
    "reason",
    "keeper_width",
    "keeper_height",
    "keeper_file_size",
    "keeper_exif_datetime",
    "duplicate_width",
    "duplicate_height",
    "duplicate_file_size",
    "duplicate_exif_datetime",
    *VIDEO_COLUMNS,
    "decided_by",
)
_MIME = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_TEMPLATES = Path(__file__).resolve().parent / "templates"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _score(value: float) -> float:
    return round(min(1.0, float(value)), 4)


def _image_dict(img: DedupImage) -> dict[str, object]:
    mtime = img.mtime if img.mtime is not None and math.isfinite(img.mtime) else None
    return {
        "id": img.id,
        "path": img.path,
        "width": img.width,
        "height": img.height,
        "file_size": img.file_size,
        "sha256": img.sha256,
        "exif_datetime": _iso(img.exif_datetime),
        "mtime": mtime,
        "format": img.format,
        "photo_size": list(img.content_size) if img.frame is not None else None,
        "collage": img.collage,
        "crop": img.crop,
    }


def _collage_note(img: DedupImage) -> str:
    if not img.collage:
        return ""
    width, height = img.content_size
    return f" (a collage: the picture in a {width}x{height} cell of it)"


def _name_of(group: DedupGroup, image_id: int | None) -> str | None:
    """The file name of ``group``'s image ``image_id`` (None for None)."""
    found = (PurePath(i.path).name for i in group.images if i.id == image_id)
    return None if image_id is None else next(found, str(image_id))


def member_decision(group: DedupGroup, member: DedupMember, rules: Sequence[str]) -> str:
    """The rule that keeps ``group``'s keeper over ``member`` (:func:`decided_by`); ``gone``
    for the best file by the rules, gone since indexing."""
    if keeper_key(member.image, rules) < keeper_key(group.keeper, rules):
        return "gone"
    return decided_by(group.keeper, member.image, rules)


def member_reason(group: DedupGroup, member: DedupMember, rules: Sequence[str]) -> str:
    """Why ``group``'s keeper is kept over ``member``: the first keeper rule they differ on;
    for the best file by the rules, gone since indexing, the group's reason (which says so)."""
    if keeper_key(member.image, rules) < keeper_key(group.keeper, rules):
        return group.reason
    return kept_over(group.keeper, member.image, rules)


def to_json(result: DedupResult) -> dict[str, object]:
    """The report as a JSON-ready dict (shape in the module docstring)."""
    groups = []
    for g in result.groups:
        members = []
        for m in g.members:
            info = _image_dict(m.image)
            members.append(
                {
                    "path": m.image.path,
                    "id": m.image.id,
                    "score": _score(m.score),
                    "exact": m.exact,
                    "verified": m.verified,
                    "via": m.via,
                    "reason": member_reason(g, m, result.keeper_rules),
                    "decided_by": member_decision(g, m, result.keeper_rules),
                    **{
                        k: info[k]
                        for k in (
                            "width",
                            "height",
                            "file_size",
                            "exif_datetime",
                            "mtime",
                            "format",
                            "photo_size",
                            "collage",
                            "crop",
                        )
                    },
                }
            )
        groups.append(
            {
                "keeper": g.keeper.path,
                "reason": g.reason,
                "members": members,
                "keeper_id": g.keeper.id,
                "keeper_image": _image_dict(g.keeper),
            }
        )
    return {
        "threshold": result.threshold,
        "groups": groups,
        "keeper_rules": list(result.keeper_rules),
        "linkage": result.linkage,
        "stats": dict(result.stats),
    }


def csv_rows(
    result: DedupResult, video_groups: Sequence[VideoGroupJson] = ()
) -> Iterator[dict[str, object]]:
    """One row per duplicate, with its keeper (columns: :data:`CSV_COLUMNS`); then one per
    copy of a video (``media`` says which), its groups numbered after the images'."""
    for number, g in enumerate(result.groups, start=1):
        k = g.keeper
        for m in g.members:
            d = m.image
            yield {
                "group": number,
                "keeper_path": k.path,
                "keeper_id": k.id,
                "duplicate_path": d.path,
                "duplicate_id": d.id,
                "score": f"{_score(m.score):.4f}",
                "exact": "yes" if m.exact else "no",
                "verified": "yes" if m.verified else "no",
                "reason": member_reason(g, m, result.keeper_rules),
                "keeper_width": k.width,
                "keeper_height": k.height,
                "keeper_file_size": k.file_size,
                "keeper_exif_datetime": _iso(k.exif_datetime),
                "duplicate_width": d.width,
                "duplicate_height": d.height,
                "duplicate_file_size": d.file_size,
                "duplicate_exif_datetime": _iso(d.exif_datetime),
                "media": "image",
                "decided_by": member_decision(g, m, result.keeper_rules),
            }
    yield from video_csv_rows(video_groups, len(result.groups) + 1)


def write_csv(
    result: DedupResult, out: io.TextIOBase, video_groups: Sequence[VideoGroupJson] = ()
) -> int:
    """Write the CSV to a text stream (open it with ``newline=""``); returns the row count."""
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in csv_rows(result, video_groups):
        writer.writerow(row)
        count += 1
    return count


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
            # cut, not rounded: a 0.9997 near-duplicate read "1.000", an exact copy's score
            "score": None if score is None else f"{math.floor(_score(score) * 1000) / 1000:.3f}",
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
                    _name_of(g, m.via),
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
        duplicates=result.duplicate_count,
        exact_count=sum(m.exact for g in result.groups for m in g.members),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    if failed and thumbnail is not None:
        log.info("%d image(s) of the report have no thumbnail", failed)
    return html


def write_report(
    result: DedupResult,
    path: str | Path,
    fmt: str | None = None,
    *,
    thumbnail: Thumbnailer | None = None,
    video_groups: Sequence[VideoGroupJson] | None = None,
) -> Path:
    """Write ``json``/``csv``/``html`` (default: from the suffix) atomically; returns the path.
    ``video_groups`` (copies of a video) go into each format when given."""
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".") or "json").lower()
    if fmt == "htm":
        fmt = "html"
    if fmt == "json":
        report = to_json(result)
        if video_groups is not None:
            report["video_groups"] = list(video_groups)
        text = json.dumps(report, indent=1, ensure_ascii=False) + "\n"
    elif fmt == "csv":
        buf = io.StringIO()
        write_csv(result, buf, video_groups or ())
        text = buf.getvalue()
    elif fmt == "html":
        text = render_html(result, thumbnail, video_groups=video_groups or ())
    else:
        raise ValueError(f"report format must be json, csv or html, not {fmt!r}")
    atomic_write(path, text, newline="" if fmt == "csv" else None)
    return path
