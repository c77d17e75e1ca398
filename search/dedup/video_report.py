"""Copies of a video in the CSV and HTML dedup reports (the JSON report has them as
``video_groups``, :func:`search.dedup.videos.groups_to_json`'s dicts, which are the input here).

CSV: one row per copy with its keeper, in the image rows' columns plus :data:`VIDEO_COLUMNS`
(``media`` is ``video``; ``coverage``: the share of the copy's frames found in the keeper in
order; ``offset_ms``: where the copy starts in the keeper). Group numbers go on after the
image groups'. HTML: one card per video (its first frame as thumbnail, duration, size) in
groups after the image groups.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import PurePath
from typing import Any

from models import format_timestamp
from search.units import human_size

VIDEO_COLUMNS = ("media", "coverage", "offset_ms", "keeper_duration_ms", "duplicate_duration_ms")

VideoGroupJson = Mapping[str, Any]


def _keeper(group: VideoGroupJson) -> Mapping[str, Any]:
    return next(m for m in group["members"] if m.get("keeper"))


def video_csv_rows(
    groups: Sequence[VideoGroupJson], first_number: int = 1
) -> Iterator[dict[str, object]]:
    """One row per copy of a video, with its keeper; groups numbered from ``first_number``."""
    for number, group in enumerate(groups, start=first_number):
        keeper = _keeper(group)
        for member in group["members"]:
            if member.get("keeper"):
                continue
            yield {
                "group": number,
                "keeper_path": keeper["path"],
                "keeper_id": keeper["id"],
                "duplicate_path": member["path"],
                "duplicate_id": member["id"],
                "score": f"{min(1.0, float(member['score'])):.4f}",
                "exact": "yes" if member.get("exact") else "no",
                "reason": group["reason"],
                "keeper_width": keeper["width"],
                "keeper_height": keeper["height"],
                "keeper_file_size": keeper["file_size"],
                "duplicate_width": member["width"],
                "duplicate_height": member["height"],
                "duplicate_file_size": member["file_size"],
                "media": "video",
                "coverage": f"{float(member['coverage']):.3f}",
                "offset_ms": member["offset_ms"],
                "keeper_duration_ms": keeper["duration_ms"],
                "duplicate_duration_ms": member["duration_ms"],
            }


def video_html_groups(
    groups: Sequence[VideoGroupJson],
    thumb: Callable[[int], str | None],
    href: Callable[[str], str | None],
    missing: Callable[[str], bool] = lambda _path: False,
) -> list[dict[str, object]]:
    """The video groups as the HTML template's cards (``thumb``: a ``data:`` URI by id;
    ``missing``: no file at the path now)."""
    out = []
    for number, group in enumerate(groups, start=1):
        cards = []
        for member in sorted(group["members"], key=lambda m: not m.get("keeper")):
            path = str(member["path"])
            keeper = bool(member.get("keeper"))
            cards.append(
                {
                    "path": path,
                    "name": PurePath(path).name or path,
                    "folder": str(PurePath(path).parent),
                    "href": href(path),
                    "missing": missing(path),
                    "thumb": thumb(int(member["id"])),
                    "size": f"{member['width']}x{member['height']}",
                    "bytes": human_size(int(member["file_size"] or 0)),
                    "duration": format_timestamp(int(member["duration_ms"] or 0)),
                    "keeper": keeper,
                    "exact": bool(member.get("exact")),
                    "score": None if keeper else f"{min(1.0, float(member['score'])):.3f}",
                    "coverage": None if keeper else f"{100 * float(member['coverage']):.0f} %",
                    "offset": None if keeper else format_timestamp(int(member["offset_ms"])),
                    "id": member["id"],
                }
            )
        out.append(
            {"number": number, "reason": group["reason"], "count": len(cards), "cards": cards}
        )
    return out


__all__ = ["VIDEO_COLUMNS", "video_csv_rows", "video_html_groups"]
