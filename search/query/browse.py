"""What needs no model: label searches and browsing the library, newest first."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from search.query.errors import QueryError
from search.query.limits import MAX_OFFSET, label_query_problem
from search.query.quality import QualityFilter
from search.query.results import (
    SCORE_DECIMALS,
    Label,
    SearchHit,
    check_params,
    hit_from_row,
)
from search.store import LibraryStore, mtime_from_ns


def label_hits(store: LibraryStore, q: str, k: int = 50, offset: int = 0) -> list[SearchHit]:
    """Images whose top class labels contain ``q``, best label probability first (``k``
    of them from position ``offset``: pages).

    Whole-word matches ("bee" in "bee") rank before mere substrings ("bee" in
    "beer_bottle"); spaces in ``q`` also match underscores ("golden retriever"). A hit's
    ``score`` is the matching label's probability and ``label`` names that label.
    """
    check_params(k, None)
    _check_offset(offset)
    problem = label_query_problem(q or "")
    if problem is not None:
        raise QueryError(problem)
    word = " ".join((q or "").lower().split())
    forms = {word, word.replace(" ", "_")}
    limit = max(4 * (offset + k), 500)
    ids = {
        image_id
        for form in forms
        for image_id, _l, _s in store.reads.search_labels(form, limit=limit)
    }
    ranked = []
    for row in store.reads.hit_rows(sorted(ids)).values():
        match = label_match(row.labels, forms)
        if match is not None:
            ranked.append((*match, row))
    ranked.sort(key=lambda m: (not m[0], -m[2], m[3].id))
    return [
        replace(hit_from_row(rank, round(score, SCORE_DECIMALS), row, False), label=label)
        for rank, (_whole, label, score, row) in enumerate(
            ranked[offset : offset + k], start=offset + 1
        )
    ]


def newest_hits(
    store: LibraryStore, offset: int = 0, limit: int = 60, flags: QualityFilter | None = None
) -> tuple[list[SearchHit], int]:
    """A page of the library, newest file first (``limit`` images from ``offset``), and
    the number of indexed images (that pass ``flags``). A hit's ``score`` is 0 (nothing
    was asked) and its ``mtime`` the file's modification time."""
    check_params(limit, None)
    _check_offset(offset)
    include, exclude = (flags.include, flags.exclude) if flags else (0, 0)
    ids, total = store.reads.newest(offset, limit, include=include, exclude=exclude)
    rows = store.reads.hit_rows(ids)
    found = [i for i in ids if i in rows]  # one removed meanwhile is left out
    return [
        replace(
            hit_from_row(offset + n, 0.0, rows[i], False),
            mtime=mtime_from_ns(rows[i].mtime_ns or 0),
        )
        for n, i in enumerate(found, start=1)
    ], total


def label_match(labels: Sequence[Label], forms: set[str]) -> tuple[bool, str, float] | None:
    """The best of ``labels`` matching one of ``forms``: (whole word?, label, score)."""
    best: tuple[bool, str, float] | None = None
    for label, score in labels:
        name = label.lower()
        if not any(form in name for form in forms):
            continue
        padded = "_" + re.sub(r"[\s_,/-]+", "_", name) + "_"
        whole = any("_" + re.sub(r"[\s_,/-]+", "_", f) + "_" in padded for f in forms)
        candidate = (whole, label, float(score))
        if best is None or (candidate[0], candidate[2]) > (best[0], best[2]):
            best = candidate
    return best


def _check_offset(offset: int) -> None:
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
        raise QueryError(f"offset must be a whole number from 0 to {MAX_OFFSET}, got {offset!r}")
