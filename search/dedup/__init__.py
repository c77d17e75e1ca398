"""Deduplication: neighbour providers, duplicate groups, keepers, verification, reports."""

from __future__ import annotations

from search.dedup.errors import DedupError
from search.dedup.groups import DEFAULT_DEDUP_THRESHOLD, DedupResult, find_duplicates
from search.dedup.keeper import KEEPER_RULES, DedupImage, choose_keeper
from search.dedup.neighbours import FLAT_MAX, FlatNeighbours, IvfNeighbours, MultiRowNeighbours
from search.dedup.report import (
    CSV_COLUMNS,
    csv_rows,
    data_uri,
    file_thumbnails,
    render_html,
    to_json,
    write_csv,
    write_report,
)
from search.dedup.verify import VERIFY_Z, VerifiedNeighbours
from search.dedup.videos import VideoFacts, VideoPair, groups_to_json, video_groups, video_pairs

__all__ = [
    "CSV_COLUMNS",
    "DEFAULT_DEDUP_THRESHOLD",
    "FLAT_MAX",
    "KEEPER_RULES",
    "VERIFY_Z",
    "DedupError",
    "DedupImage",
    "DedupResult",
    "FlatNeighbours",
    "IvfNeighbours",
    "MultiRowNeighbours",
    "VerifiedNeighbours",
    "VideoFacts",
    "VideoPair",
    "choose_keeper",
    "csv_rows",
    "data_uri",
    "file_thumbnails",
    "find_duplicates",
    "groups_to_json",
    "render_html",
    "to_json",
    "video_groups",
    "video_pairs",
    "write_csv",
    "write_report",
]
