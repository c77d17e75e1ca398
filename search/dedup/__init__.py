"""Deduplication: neighbour providers, duplicate groups, keepers, verification, reports.

Names load on first use (PEP 562): importing the package costs nothing until a name
is used."""

from __future__ import annotations

from typing import TYPE_CHECKING

from search.lazy import lazy_names

_SOURCES: dict[str, str] = {
    "DedupError": "search.dedup.errors",
    "CollageKeepers": "search.dedup.collages",
    "CropKeepers": "search.dedup.cropped",
    "UpscaledKeepers": "search.dedup.upscaled",
    "PaddedKeepers": "search.dedup.padded",
    "attach_free": "search.dedup.confirmed",
    "DEFAULT_DEDUP_THRESHOLD": "search.dedup.groups",
    "DedupResult": "search.dedup.groups_result",
    "find_duplicates": "search.dedup.groups",
    "DedupImage": "search.dedup.keeper",
    "KEEPER_RULES": "search.dedup.keeper",
    "check_keeper_rules": "search.dedup.keeper",
    "choose_keeper": "search.dedup.keeper",
    "taken_apart": "search.dedup.keeper",
    "capture_text": "search.dedup.keeper",
    "keep_present": "search.dedup.present",
    "leave_out_changed": "search.dedup.present",
    "leave_out_moved": "search.dedup.present",
    "one_entry_per_file": "search.dedup.present",
    "FLAT_MAX": "search.dedup.neighbours",
    "FlatNeighbours": "search.dedup.neighbours",
    "IvfNeighbours": "search.dedup.neighbours",
    "MultiRowNeighbours": "search.dedup.neighbours",
    "CSV_COLUMNS": "search.dedup.report",
    "csv_rows": "search.dedup.report",
    "atomic_write": "search.dedup.report_files",
    "file_href": "search.dedup.report_files",
    "data_uri": "search.dedup.report_html",
    "file_thumbnails": "search.dedup.file_thumbnails",
    "render_html": "search.dedup.report_html",
    "to_json": "search.dedup.report",
    "write_csv": "search.dedup.report",
    "write_report": "search.dedup.report",
    "VERIFY_Z": "search.dedup.verify",
    "VerifiedNeighbours": "search.dedup.verify",
    "VideoFacts": "search.dedup.videos",
    "VideoPair": "search.dedup.videos",
    "clip_pairs": "search.dedup.videos",
    "groups_to_json": "search.dedup.videos",
    "keep_present_videos": "search.dedup.videos",
    "shot_starts": "search.dedup.videos",
    "video_groups": "search.dedup.videos",
    "video_pairs": "search.dedup.videos",
}

__all__ = [
    "CSV_COLUMNS",
    "DEFAULT_DEDUP_THRESHOLD",
    "FLAT_MAX",
    "KEEPER_RULES",
    "VERIFY_Z",
    "CollageKeepers",
    "CropKeepers",
    "DedupError",
    "DedupImage",
    "DedupResult",
    "FlatNeighbours",
    "IvfNeighbours",
    "MultiRowNeighbours",
    "PaddedKeepers",
    "UpscaledKeepers",
    "VerifiedNeighbours",
    "VideoFacts",
    "VideoPair",
    "atomic_write",
    "attach_free",
    "capture_text",
    "check_keeper_rules",
    "choose_keeper",
    "clip_pairs",
    "csv_rows",
    "data_uri",
    "file_href",
    "file_thumbnails",
    "find_duplicates",
    "groups_to_json",
    "keep_present",
    "keep_present_videos",
    "leave_out_changed",
    "leave_out_moved",
    "one_entry_per_file",
    "render_html",
    "shot_starts",
    "taken_apart",
    "to_json",
    "video_groups",
    "video_pairs",
    "write_csv",
    "write_report",
]


__getattr__, __dir__ = lazy_names(__name__, _SOURCES, globals())

if TYPE_CHECKING:  # type checkers and IDEs see the names eagerly
    from search.dedup.collages import CollageKeepers
    from search.dedup.confirmed import attach_free
    from search.dedup.cropped import CropKeepers
    from search.dedup.errors import DedupError
    from search.dedup.file_thumbnails import file_thumbnails
    from search.dedup.groups import DEFAULT_DEDUP_THRESHOLD, find_duplicates
    from search.dedup.groups_result import DedupResult
    from search.dedup.keeper import (
        KEEPER_RULES,
        DedupImage,
        capture_text,
        check_keeper_rules,
        choose_keeper,
        taken_apart,
    )
    from search.dedup.neighbours import FLAT_MAX, FlatNeighbours, IvfNeighbours, MultiRowNeighbours
    from search.dedup.padded import PaddedKeepers
    from search.dedup.present import (
        keep_present,
        leave_out_changed,
        leave_out_moved,
        one_entry_per_file,
    )
    from search.dedup.report import CSV_COLUMNS, csv_rows, to_json, write_csv, write_report
    from search.dedup.report_files import atomic_write, file_href
    from search.dedup.report_html import data_uri, render_html
    from search.dedup.upscaled import UpscaledKeepers
    from search.dedup.verify import VERIFY_Z, VerifiedNeighbours
    from search.dedup.videos import (
        VideoFacts,
        VideoPair,
        clip_pairs,
        groups_to_json,
        keep_present_videos,
        shot_starts,
        video_groups,
        video_pairs,
    )
