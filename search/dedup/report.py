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
``exif_datetime``, ``mtime``, ``file_missing`` (no file at its path now: deleted or moved
since indexing; the HTML's FILE MISSING), ``format``, ``photo_size`` (``[w, h]`` of the photo
inside a frame, or of another member's picture in a ``collage``, else null), ``reason`` (why the
keeper is kept over this member: the group's ``reason`` is over the runner-up only; CSV's
``reason`` is this one); per group ``keeper_id``
and ``keeper_image``; top level ``keeper_rules``, ``linkage`` and ``stats``;
``video_groups`` (copies of a video, see :mod:`search.dedup.videos`) when the caller gives
them, in CSV and HTML too (:mod:`search.dedup.video_report`).

The HTML page (:mod:`search.dedup.report_html`) embeds its thumbnails as ``data:`` URIs from
a caller-supplied ``thumbnail(image_id) -> bytes | None`` and loads nothing from anywhere
else: it works offline and can be mailed. Groups come in pages of ``page_size`` inside
``<details>`` elements (only the first is open; closed pages are not laid out), images have
``loading="lazy"``, so thousands of groups stay fast. Nothing here deletes or moves a file; the
writers only create the report.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
from collections.abc import Iterator, Sequence
from pathlib import Path

from search.dedup.groups_result import DedupResult
from search.dedup.keeper import DedupImage
from search.dedup.report_fields import iso_time, member_decision, member_reason, report_score
from search.dedup.report_files import atomic_write, file_missing
from search.dedup.report_html import Thumbnailer, render_html
from search.dedup.video_report import (
    VIDEO_COLUMNS,
    VideoGroupJson,
    video_csv_rows,
)

log = logging.getLogger(__name__)

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


def _image_dict(img: DedupImage) -> dict[str, object]:
    mtime = img.mtime if img.mtime is not None and math.isfinite(img.mtime) else None
    return {
        "id": img.id,
        "path": img.path,
        "width": img.width,
        "height": img.height,
        "file_size": img.file_size,
        "sha256": img.sha256,
        "exif_datetime": iso_time(img.exif_datetime),
        "mtime": mtime,
        "format": img.format,
        "photo_size": list(img.content_size) if img.frame is not None else None,
        "collage": img.collage,
        "crop": img.crop,
        "file_missing": file_missing(img.path),
    }


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
                    "score": report_score(m.score),
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
                            "file_missing",
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
                "score": f"{report_score(m.score):.4f}",
                "exact": "yes" if m.exact else "no",
                "verified": "yes" if m.verified else "no",
                "reason": member_reason(g, m, result.keeper_rules),
                "keeper_width": k.width,
                "keeper_height": k.height,
                "keeper_file_size": k.file_size,
                "keeper_exif_datetime": iso_time(k.exif_datetime),
                "duplicate_width": d.width,
                "duplicate_height": d.height,
                "duplicate_file_size": d.file_size,
                "duplicate_exif_datetime": iso_time(d.exif_datetime),
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
