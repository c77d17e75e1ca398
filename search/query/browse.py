"""What needs no model: label searches and browsing the library, newest first."""

from __future__ import annotations

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
from search.store.labels import label_words


def label_hits(store: LibraryStore, q: str, k: int = 50, offset: int = 0) -> list[SearchHit]:
    """Images with a top class label that has the words of ``q`` as whole words, best label
    probability first (``k`` of them from position ``offset``: pages).

    A label's words are separated by ``_``, spaces or ``-`` (:mod:`search.store.labels`):
    "spider" finds "barn_spider", "ant" finds "ant" but not "tarantula", "golden retriever"
    (or "golden_retriever") the label with those words in that order. A hit's ``score`` is
    the matching label's probability and ``label`` names that label.
    """
    check_params(k, None)
    _check_offset(offset)
    words = _label_words(q)
    limit = max(4 * (offset + k), 500)
    ids = {image_id for image_id, _l, _s in store.reads.search_labels(q, limit=limit)}
    ranked = []
    for row in store.reads.hit_rows(sorted(ids)).values():
        match = label_match(row.labels, words)
        if match is not None:
            ranked.append((*match, row))
    ranked.sort(key=lambda m: (-m[1], m[2].id))
    return [
        replace(hit_from_row(rank, round(score, SCORE_DECIMALS), row, False), label=label)
        for rank, (label, score, row) in enumerate(ranked[offset : offset + k], start=offset + 1)
    ]


def label_count(store: LibraryStore, q: str) -> int:
    """How many images :func:`label_hits` finds for ``q`` in all (its pages' total)."""
    _label_words(q)
    return store.reads.count_labels(q)


def _label_words(q: str) -> list[str]:
    problem = label_query_problem(q or "")
    if problem is not None:
        raise QueryError(problem)
    return label_words(q)


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


def label_match(labels: Sequence[Label], words: list[str]) -> tuple[str, float] | None:
    """The most probable of ``labels`` that has ``words`` together as whole words (as the
    store's query matches them): (label, score), or None."""
    best: tuple[str, float] | None = None
    n = len(words)
    for label, score in labels:
        names = label_words(label)
        if not words or not any(names[i : i + n] == words for i in range(len(names) - n + 1)):
            continue
        if best is None or float(score) > best[1]:
            best = (label, float(score))
    return best


def _check_offset(offset: int) -> None:
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
        raise QueryError(f"offset must be a whole number from 0 to {MAX_OFFSET}, got {offset!r}")
