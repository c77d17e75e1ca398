"""Search results as the CLI prints them: a plain-text table (rank, score, id, size, WxH,
path, labels; copies marked, files gone since marked) or JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from search.units import human_size, pad, printable, text_width

if TYPE_CHECKING:
    from search.query import LookupMatch, LookupResult, SearchHit


def hit_place(hit: SearchHit) -> str:
    """The hit's path; a video's with its best moment: ``clip.mp4 @ 01:23.4``."""
    if hit.media != "video" or hit.timestamp_ms is None:
        return hit.path
    from models import format_timestamp

    return f"{hit.path} @ {format_timestamp(hit.timestamp_ms)}"


FILE_MARKS = {"gone": "FILE MISSING", "changed": "FILE CHANGED"}
FILE_MARKS_NOTE = (
    "([FILE MISSING]: no file at this path now - deleted, moved or no longer a regular file; "
    "[FILE CHANGED]: another size than indexed; `imgsearch index` brings the library up to date)"
)


def marked_place(hit: SearchHit) -> tuple[str, bool]:
    """The hit's place as a table shows it (a newline in a file name escaped: it stays on
    its row), ``[FILE MISSING]`` / ``[FILE CHANGED]`` after it when its file is gone or of
    another size now (one stat, nothing read); and whether it was marked."""
    from search.query import disk_change

    state = disk_change(hit.path, hit.size or None)
    place = printable(hit_place(hit))
    return (place + f" [{FILE_MARKS[state]}]", True) if state else (place, False)


def hits_table(hits: Sequence[SearchHit], *, label_column: bool = False) -> str:
    """A plain-text table: rank, score, id, size, WxH, path, labels (exact copies, copies and
    look-alikes marked)."""
    from models.quality import flag_names

    if not hits:
        return "no results"
    rows = [("rank", "score", "id", "size", "WxH", "path", "labels")]
    marked = False  # a file gone or changed since it was indexed
    for hit in hits:
        dims = f"{hit.width}x{hit.height}" if hit.width and hit.height else "-"
        confirmed = hit.key_points or hit.pixel_match or hit.copy_of
        mark = "=" if hit.exact else ("+" if confirmed else "~") if hit.duplicate else ""
        mark = "?" if hit.lookalike and not mark else mark
        score = f"{hit.score:.4f}{mark}"
        labels = ", ".join(name for name, _s in hit.labels[:3])
        flagged = flag_names(hit.quality_flags)
        labels += f" [{', '.join(flagged)}]" if flagged else ""
        if label_column and hit.label:
            labels = f"{hit.label} ({labels})" if labels else hit.label
        place, gone = marked_place(hit)
        marked = marked or gone
        rows.append((str(hit.rank), score, str(hit.id), human_size(hit.size), dims, place, labels))
    widths = [max(text_width(row[i]) for row in rows) for i in range(6)]
    lines = []
    for row in rows:
        cells = [
            row[0].rjust(widths[0]),
            row[1].ljust(widths[1]),
            row[2].rjust(widths[2]),
            row[3].rjust(widths[3]),
            row[4].ljust(widths[4]),
            pad(row[5], widths[5]),
            row[6],
        ]
        lines.append("  ".join(cells).rstrip())
    if any(hit.exact for hit in hits):
        lines.append("(= exact copy of the query: same bytes or same pixels)")
    if marked:
        lines.append(FILE_MARKS_NOTE)
    confirmed = [
        h.duplicate and not h.exact and (h.key_points or h.pixel_match or h.copy_of) for h in hits
    ]
    if any(h.duplicate and not h.exact and not c for h, c in zip(hits, confirmed, strict=True)):
        lines.append("(~ a copy by the library's calibrated decision: edited, re-encoded, framed)")
    if any(confirmed):
        lines.append(
            "(+ a copy confirmed by matching key points - the query's, or those of two of its"
            " copies that hold it - or a small or pixelated query's pixels, where its vectors"
            " left a doubt)"
        )
    if any(h.lookalike and not h.duplicate and not h.exact for h in hits):
        lines.append(
            "(? a look-alike: its vectors pass the copy decision, but it is no copy - another"
            " shot, the same overlay on another photo ...: --json's lookalike_reason says why)"
        )
    return "\n".join(lines)


def emit_hits(hits: Sequence[SearchHit], as_json: bool, **extra: Any) -> None:
    """Results as a table, or as JSON (each with ``file_missing`` / ``file_changed`` when
    its file is gone or of another size now: one stat)."""
    from search.query import file_flags

    if as_json:
        results = [hit.to_dict() | file_flags(hit.path, hit.size) for hit in hits]
        click.echo(json.dumps({**extra, "results": results}, indent=2))
    else:
        click.echo(hits_table(hits, label_column="label" in extra))


def lookup_table(matches: list[LookupMatch]) -> str:
    """The lookup's rows: the copy score and z the decision is made on, the evidence."""
    from search.query import cut

    rows = [("rank", "copy", "z", "id", "WxH", "path", "evidence")]
    marked = False  # a file gone or changed since it was indexed
    for m in matches:
        hit = m.hit
        copy = "-" if hit.copy_score is None else cut(hit.copy_score, 3)  # as the evidence
        z = "-" if hit.z is None else cut(hit.z, 1)
        dims = f"{hit.width}x{hit.height}" if hit.width and hit.height else "-"
        path, gone = marked_place(hit)
        marked = marked or gone
        rows.append((str(hit.rank), copy, z, str(hit.id), dims, path, m.evidence))
    widths = [max(text_width(row[i]) for row in rows) for i in range(6)]
    right = (True, True, True, True, False, False)
    lines = []
    for row in rows:
        cells = [pad(c, w, right=r) for c, w, r in zip(row, widths, right, strict=False)]
        lines.append("  ".join([*cells, row[6]]).rstrip())
    return "\n".join([*lines, FILE_MARKS_NOTE] if marked else lines)


def lookup_json(result: LookupResult) -> dict[str, Any]:
    """The lookup's JSON, each match with ``file_missing`` / ``file_changed`` when its file
    is gone or of another size now (one stat), as the API's."""
    from search.query import file_flags

    out = result.to_dict()
    for item in out["results"]:
        item.update(file_flags(item["path"], item.get("size")))
    return out


__all__ = ["FILE_MARKS", "emit_hits", "hit_place", "hits_table", "lookup_json", "lookup_table"]
