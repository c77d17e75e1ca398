"""Queries: the engine the web and the CLI call (by image, region, id, label), reverse
lookup, result types and query errors.

Names load on first use (PEP 562): importing the package costs nothing until a name
is used."""

from __future__ import annotations

from typing import TYPE_CHECKING

from search.lazy import lazy_names

_SOURCES: dict[str, str] = {
    "SearchEngine": "search.query.engine",
    "LibraryAdmin": "search.query.admin",
    "ImageNotFoundError": "search.query.errors",
    "NoLabelsError": "search.query.errors",
    "PathEscapeError": "search.query.errors",
    "QueryError": "search.query.errors",
    "ImageFile": "search.query.records",
    "disk_change": "search.query.records",
    "bytes_as_indexed": "search.query.records",
    "file_state_of": "search.query.records",
    "gone_file_note": "search.query.records",
    "changed_file_note": "search.query.records",
    "update_hint": "search.query.records",
    "stored_answer_note": "search.query.records",
    "STATE_FLAGS": "search.query.records",
    "file_flags": "search.query.records",
    "listed_state": "search.query.records",
    "UNREADABLE_FIX": "search.query.disk_trouble",
    "file_trouble": "search.query.disk_trouble",
    "UPDATE_CHANGED": "search.query.records",
    "turns_for": "search.query.stored_turns",
    "MODEL_UNAVAILABLE_NOTE": "search.query.guard",
    "API_NAMES": "search.query.clip_notes",
    "CLI_NAMES": "search.query.clip_notes",
    "empty_clip_note": "search.query.clip_notes",
    "QualityFilter": "search.query.quality",
    "flag_name_list": "search.query.quality",
    "MAX_LABEL_QUERY": "search.query.limits",
    "MAX_OFFSET": "search.query.limits",
    "label_query_problem": "search.query.limits",
    "singular_forms": "search.query.limits",
    "singular_suggestion": "search.query.limits",
    "MAX_IMAGE_ID": "search.query.limits",
    "MAX_K": "search.query.limits",
    "SearchHit": "search.query.results",
    "MIN_COPY_SIDE": "search.query.results",
    "too_small_for_copies": "search.query.results",
    "decision_edges": "search.query.scored_hits",
    "hits_from_scores": "search.query.scored_hits",
    "EXACT": "search.query.reverse_lookup",
    "LookupMatch": "search.query.reverse_lookup",
    "LookupResult": "search.query.reverse_lookup",
    "NEAR": "search.query.reverse_lookup",
    "SIMILAR": "search.query.reverse_lookup",
    "cut": "search.query.results",
    "default_threshold": "search.query.reverse_lookup",
    "library_duplicates": "search.query.library_dedup",
    "changed_since_index": "search.query.library_dedup",
    "lookup": "search.query.reverse_lookup",
    "lookup_image": "search.query.reverse_lookup",
    "ImageInfo": "search.store.records",
}

__all__ = [
    "API_NAMES",
    "CLI_NAMES",
    "EXACT",
    "MAX_IMAGE_ID",
    "MAX_K",
    "MAX_LABEL_QUERY",
    "MAX_OFFSET",
    "MIN_COPY_SIDE",
    "MODEL_UNAVAILABLE_NOTE",
    "NEAR",
    "SIMILAR",
    "STATE_FLAGS",
    "UNREADABLE_FIX",
    "UPDATE_CHANGED",
    "ImageFile",
    "ImageInfo",
    "ImageNotFoundError",
    "LibraryAdmin",
    "LookupMatch",
    "LookupResult",
    "NoLabelsError",
    "PathEscapeError",
    "QualityFilter",
    "QueryError",
    "SearchEngine",
    "SearchHit",
    "bytes_as_indexed",
    "changed_file_note",
    "changed_since_index",
    "cut",
    "decision_edges",
    "default_threshold",
    "disk_change",
    "empty_clip_note",
    "file_flags",
    "file_state_of",
    "file_trouble",
    "flag_name_list",
    "gone_file_note",
    "hits_from_scores",
    "label_query_problem",
    "library_duplicates",
    "listed_state",
    "lookup",
    "lookup_image",
    "singular_forms",
    "singular_suggestion",
    "stored_answer_note",
    "too_small_for_copies",
    "turns_for",
    "update_hint",
]


__getattr__, __dir__ = lazy_names(__name__, _SOURCES, globals())

if TYPE_CHECKING:  # type checkers and IDEs see the names eagerly
    from search.query.admin import LibraryAdmin
    from search.query.clip_notes import API_NAMES, CLI_NAMES, empty_clip_note
    from search.query.disk_trouble import UNREADABLE_FIX, file_trouble
    from search.query.engine import SearchEngine
    from search.query.errors import ImageNotFoundError, NoLabelsError, PathEscapeError, QueryError
    from search.query.guard import MODEL_UNAVAILABLE_NOTE
    from search.query.library_dedup import changed_since_index, library_duplicates
    from search.query.limits import (
        MAX_IMAGE_ID,
        MAX_K,
        MAX_LABEL_QUERY,
        MAX_OFFSET,
        label_query_problem,
        singular_forms,
        singular_suggestion,
    )
    from search.query.quality import QualityFilter, flag_name_list
    from search.query.records import (
        STATE_FLAGS,
        UPDATE_CHANGED,
        ImageFile,
        bytes_as_indexed,
        changed_file_note,
        disk_change,
        file_flags,
        file_state_of,
        gone_file_note,
        listed_state,
        stored_answer_note,
        update_hint,
    )
    from search.query.results import MIN_COPY_SIDE, SearchHit, too_small_for_copies
    from search.query.reverse_lookup import (
        EXACT,
        NEAR,
        SIMILAR,
        LookupMatch,
        LookupResult,
        cut,
        default_threshold,
        lookup,
        lookup_image,
    )
    from search.query.scored_hits import decision_edges, hits_from_scores
    from search.query.stored_turns import turns_for
    from search.store.records import ImageInfo
