"""Which of a query's copies keep the duplicate decision: copies of one picture are copies of
each other, so a grey-band copy needs a witness among the query's better copies.

A hit past the decision (``duplicate_z >= DUPLICATE_Z``) but below :data:`WITNESS_Z` (where
look-alikes of one kind of scene end in a learned space: a photo of the same species at z
6-8.5, ranked under the query's true original) keeps the decision only if its stored image
is itself a copy of a better copy that kept it, when the best copy is itself past the
look-alikes (z >= WITNESS_Z: a firm witness; in a library whose copies all score in the
grey band, as a whitening learned from few photos can make them, z alone decides) and not
the query's own file or its exact copy (the query's evidence is then that file's own);
otherwise it is a look-alike of them. Stored rows are upright, so they compare pictures of
one orientation: a hit they do not witness is compared again by its own turned views (a
quarter, a half, three quarters: every other orientation), its file embedded on demand by
``turns`` (the engine's callback; kept per image, so an image that many queries meet is
embedded once); a turned match witnesses only when it is firm (z >= WITNESS_Z). Without
them nothing can tell, and it keeps the decision; so does a copy whose score has other
evidence (a tile, the local check, a chain of copies). Measured in bench/README.md ("A
grey-band copy needs a witness").

Vectors alone cannot tell two photos of one scene that the library's space puts close (two
bee-on-salvia photos of one photographer: pair z 8.9) from copies. With ``local`` on (the
default), every copy below the query's best one and under :data:`LOCAL_WITNESS_Z` must also
match by key points (ORB + RANSAC, :func:`search.descriptor.verify.key_points_match`) the
query or a better copy that kept the decision - at most :data:`WITNESS_BETTER` of those, the
ones its stored image is most like, one of each picture, matched before the query when more
like it than the query is - unless its stored image is a firm copy of one of them (past the
same z); a copy the grey-band check confirmed holds the query's key points and is not asked
again (the engine's witness knows them); ``local`` (the engine's callback, bounded per
query) says None when it cannot tell (a file gone or changed, no OpenCV, the budget spent),
and the copy keeps the decision - unless a better-scoring copy's key points matched nothing:
below a look-alike the vectors alone are not believed (a library of different photos put
through one filter - halftones - flags many of them, and the budget ran out after three or
four). When every copy asked was refuted by the whole query's key points and none kept it,
one of them past the decision with the best copy too, the best copy - trusted by its
vectors so far, and not raised by a part of the query - is asked of the query's key points
too, past the witness's budget of pairs (:data:`BEST_UNMATCHED`): one filter over different
photos (sepia, sepia + noise) puts them past the decision with the query and with each
other, and their best was the one look-alike left flagged (the engine's witness cannot tell
where the best copy's layout holds the query's places: noise or stripes blind the key points
of a true copy). In a whitened space the best copy under WITNESS_Z is asked of the query's
key points in any case (:func:`search.descriptor.best_copy.best_in_lookalike_band`): a photo
no library image copies had another photo of its kind first there, by vectors alone. A copy
that loses it is a look-alike, and says why (:class:`Decisions`).
Measured in bench/README.md ("Lesser copies must match by key points", "Different photos
through one filter", "A query that only look-alikes settled").
A witness that :class:`ReadsAhead` is told first which copies it will likely be asked about
(its reads can then overlap the matching; the questions are the same). Then the other way
round: a hit under the decision that two of the kept copies hold is asked whether it is a copy
of theirs (:mod:`search.descriptor.vouched`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from search.descriptor.best_copy import (
    NOT_IN_ITS_PART,
    UNMATCHED_UNDER,
    best_asked_too,
    best_in_lookalike_band,
    best_parts_asked,
)
from search.descriptor.config import (
    DUPLICATE_Z,
    LOCAL_WITNESS_Z,
    VOUCH_Z,
    WITNESS_BETTER,
    WITNESS_Z,
)
from search.descriptor.descriptors import Descriptor
from search.descriptor.expansion import SELF_SCORE
from search.descriptor.vouched import RowsOf, vouched_copies

StoredTurns = Callable[[int], "np.ndarray | None"]  # image id -> its turned views' rows
# (image id, better copies' ids[, part=the query's part that raised it][, after=n: the query's
# matched after the first n of them]) -> do its key points match the query's (that part's
# instead, with a part) or one of theirs? (None: cannot tell)
LocalWitness = Callable[..., "bool | None"]


@runtime_checkable
class ReadsAhead(Protocol):
    """A :data:`LocalWitness` that can start reading the images it will be asked about."""

    def ahead(self, image_ids: Sequence[int]) -> None:
        """Those images, in the order they will be asked."""

    def finish(self) -> None:
        """No more questions for this query."""


NO_COPY_OF_BETTER = "no copy of the better copies above it"
NO_KEY_POINT_MATCH = "its key points match neither the query's nor a better copy's"


@dataclass
class Decisions:
    """The duplicate decision of each candidate, and why a candidate past the decision's z
    is not a copy after all (position -> the reason: a look-alike)."""

    duplicate: np.ndarray
    lookalike: dict[int, str] = field(default_factory=dict)
    #: positions flagged as copies of the query's copies -> those copies' image ids
    #: (:mod:`search.descriptor.vouched`)
    vouched: dict[int, tuple[int, ...]] = field(default_factory=dict)


def witnessed(
    pairs: np.ndarray,
    needs: np.ndarray,
    decision: float,
    more: Callable[[int], np.ndarray | None] | None = None,
    more_decision: float | None = None,
) -> np.ndarray:
    """Which copies (best first) keep the decision, given the copy scores ``pairs`` [n, n]
    of their images among themselves and which of them ``needs`` a witness: one that does
    keeps it when it is a copy (``>= decision``) of a better one that kept it, by ``pairs``
    or else by ``more(n)`` (its scores [n] with the others by further evidence: its turned
    views; they must reach ``more_decision``, default ``decision``); when ``more`` has none,
    nothing can tell, and it keeps it."""
    more_decision = decision if more_decision is None else more_decision
    keep = np.zeros(len(needs), bool)
    for n in range(len(needs)):
        better = keep[:n]
        if n == 0 or not needs[n] or (pairs[n, :n][better] >= decision).any():
            keep[n] = True
            continue
        extra = more(n) if more is not None else None
        keep[n] = extra is None or bool((extra[:n][better] >= more_decision).any())
    return keep


def duplicate_decisions(
    descriptor: Descriptor,
    query: np.ndarray,
    copy: np.ndarray,
    ids: Sequence[int],
    rows_of: RowsOf,
    turns: StoredTurns | None = None,
    cap: float | None = None,
    local: LocalWitness | None = None,
    shown: Sequence[int] | None = None,
    evidenced: Mapping[int, int] | None = None,
    refuted: Mapping[int, str] | None = None,
) -> Decisions | None:
    """The duplicate decision of each candidate ``ids`` of the query rows ``query`` with copy
    scores ``copy`` (module doc); None uncalibrated. ``rows_of``: the candidates' prepared
    stored rows; ``cap``: the query's cap on weak turned matches, as ``copy`` was scored
    (:meth:`Descriptor.upright_cap`); ``local``: the key-point witness (asked only with the
    descriptor's ``local`` on); ``shown``: the positions whose decision the caller reads (None:
    all) - a copy's witnesses are better copies, so the copies below the last one shown are
    left to z alone, their rows unread and their key points unasked (exact for the shown:
    a synthetic 100 k library put ~80 copies past the decision under each query, one file
    read each); with the duplicate graph off (``expand=0``, as ``plain``) z alone decides.
    ``evidenced``: ids whose copy score a part of the query raised (a collage's picture:
    :mod:`search.descriptor.regional`) -> that part, whose key points they are asked of
    instead (the whole query's hold too few of a collage's picture). ``refuted``: ids that an
    earlier look at this query found to be look-alikes (id -> why): they stay so, and witness
    nothing."""
    cal = descriptor.calibration
    if cal is None:
        return None
    decision = cal.duplicate_threshold()
    out = Decisions(np.asarray(copy) >= decision)
    for p, image_id in enumerate(ids) if refuted else ():
        if image_id in refuted and out.duplicate[p]:
            out.duplicate[p] = False
            out.lookalike[p] = refuted[image_id]
    by_key_points = local is not None and descriptor.config.local
    sure = cal.duplicate_threshold(LOCAL_WITNESS_Z)  # key points decide the copies under it
    firm = cal.duplicate_threshold(WITNESS_Z)  # where look-alikes of one kind of scene end
    if by_key_points and evidenced:
        best_parts_asked(out, copy, ids, evidenced, local)
    if by_key_points:  # (a whitened space's look-alike band: none unwhitened)
        band = cal.duplicate_threshold(max(DUPLICATE_Z, cal.confirmed_z))
        best_in_lookalike_band(out, copy, ids, evidenced or {}, local, band)
    flagged = np.flatnonzero(out.duplicate)
    if not descriptor.config.expand or len(flagged) < 2:
        return out
    flagged = flagged[np.argsort(-copy[flagged], kind="stable")]
    if shown is not None:
        read = np.flatnonzero(np.isin(flagged, np.asarray(shown, np.int64)))
        flagged = flagged[: read[-1] + 1] if len(read) else flagged[:0]
        if len(flagged) < 2:
            return out
    by_vectors = firm <= copy[flagged[0]] < SELF_SCORE  # a firm witness, not the query's file
    if not (by_vectors or by_key_points):
        return out  # no witness to ask: the stored rows are not read
    rows, owner = rows_of([ids[i] for i in flagged])
    n = len(flagged)
    pairs = np.full((n, n), -np.inf, np.float32)  # the flagged images' own copy scores
    for a in range(n):
        np.maximum.at(pairs[a], owner, (rows[owner == a] @ rows.T).max(axis=0))
    if by_vectors:
        own = descriptor.copy_scores(query, rows, owner, n, cap)  # the views' evidence alone
        grey = (own >= copy[flagged] - 1e-6) & (copy[flagged] < firm)
        kept = witnessed(
            pairs, grey, decision, _by_its_turns(turns, ids, flagged, rows, owner), firm
        )
        out.duplicate[flagged] = kept
        out.lookalike.update({int(p): NO_COPY_OF_BETTER for p in flagged[~kept]})
    if by_key_points:
        _witnessed_by_key_points(out, copy, ids, flagged, pairs, sure, local, evidenced, decision)
        shown_at = range(len(copy)) if shown is None else shown
        grey = cal.duplicate_threshold(VOUCH_Z)
        out.vouched = vouched_copies(
            copy, ids, out.duplicate, list(out.lookalike), shown_at, rows_of, grey, local
        )
        out.duplicate[list(out.vouched)] = True
    return out


def _by_its_turns(
    turns: StoredTurns | None,
    ids: Sequence[int],
    flagged: np.ndarray,
    rows: np.ndarray,
    owner: np.ndarray,
) -> Callable[[int], np.ndarray | None]:
    """The ``more`` of :func:`witnessed`: the scores of the ``a``-th flagged image's own
    turned views (embedded from its file by ``turns``) with the flagged images' rows."""

    def by_its_turns(a: int) -> np.ndarray | None:
        its_turns = turns(ids[flagged[a]]) if turns is not None else None
        if its_turns is None or not len(its_turns):
            return None
        scores = np.full(len(flagged), -np.inf, np.float32)
        np.maximum.at(scores, owner, (its_turns @ rows.T).max(axis=0))
        return scores

    # A turned witness must be firm (the caller's ``more_decision``): a look-alike found by
    # the query's turned views at z 6-8 is matched by its own turned views at z 6-8 too (the
    # same evidence, nothing independent), while a turned copy of a firm copy matches it as
    # firmly.
    return by_its_turns


def _witnessed_by_key_points(
    out: Decisions,
    copy: np.ndarray,
    ids: Sequence[int],
    flagged: np.ndarray,
    pairs: np.ndarray,
    sure: float,
    local: LocalWitness,
    evidenced: Mapping[int, int] | None = None,
    decision: float | None = None,
) -> None:
    """Withdraw the decision from the lesser copies (``flagged`` after the first, under ``sure``,
    or raised by a part of the query) that ``local`` finds matching neither the query's key
    points nor those of a better copy that kept it (two crops of one photo may share no pixels
    with each other, but both hold the original's); a copy whose stored image is a copy of a
    better kept one past ``sure`` needs no key points (the library's own look-alike pairs end
    below it). A copy that a part of the query raised (``evidenced``: id -> part) is asked of
    that part's key points, once a part: when they match one, the part's picture is in the
    query, and its lesser copies keep the decision as they did unasked (the witness's 12
    pairs). When every copy asked was refuted by the whole query's key points, one of them past
    ``decision`` with the best copy too (alike among themselves as with the query: one filter),
    the best copy is asked as well (:func:`search.descriptor.best_copy.best_asked_too`) -
    unless a part of the query raised it or them (a collage's pictures: their parts' evidence
    is their own)."""
    dup = np.asarray(out.duplicate)[flagged]
    evidenced = evidenced or {}

    def asked(a: int, better: Sequence[int]) -> bool:  # (a part's copy at any score: a
        # crop's vector, a few lines of text on a light page matched a placeholder at z 11)
        p = int(flagged[a])
        under = bool(copy[p] < sure) or ids[p] in evidenced
        return under and not bool((pairs[a, better] >= sure).any())

    reads = local if isinstance(local, ReadsAhead) else None
    if reads is not None:  # those it will be asked about if every copy asked keeps it (most
        # do: a part's first copy asked, then, matched, none of the others it raised)
        ahead, parts = [], set()
        for a in [a for a in range(1, len(flagged)) if dup[a]]:
            part = evidenced.get(ids[int(flagged[a])])
            if asked(a, np.flatnonzero(dup[:a])) and (part is None or part not in parts):
                ahead.append(ids[int(flagged[a])])
                parts.add(part)
        reads.ahead(ahead)
    try:
        better = [0]  # positions in ``flagged`` of the copies that kept the decision
        refuted = False  # a better-scoring copy's key points matched none
        alike = False  # a copy refuted is past the decision with the best too (one filter?)
        by_parts = evidenced.get(ids[int(flagged[0])]) is not None  # (or a refuted copy) raised
        # by a part of the query
        matched: set[int] = set()  # parts whose key points matched a copy they raised
        for a in range(1, len(flagged)):
            p = int(flagged[a])
            if not out.duplicate[p]:
                continue
            part = evidenced.get(ids[p])
            if not asked(a, better) or part in matched:
                answer: bool | None = True  # (or its part matched a better copy it raised)
            elif part is not None:  # a collage's other picture is no copy of the better ones
                answer = local(ids[p], (), part=part)
                if answer:
                    matched.add(part)
            else:  # those more like it than the query is are matched before the query
                witnesses = _witnesses(a, better, pairs, sure, copy, flagged)
                first = sum(float(pairs[a, b]) > float(copy[p]) for b in witnesses)
                answer = local(ids[p], [ids[flagged[b]] for b in witnesses], after=first)
            if answer is False or (answer is None and refuted):
                out.duplicate[p] = False
                refuting = NO_KEY_POINT_MATCH if part is None else NOT_IN_ITS_PART
                out.lookalike[p] = refuting if answer is False else UNMATCHED_UNDER
                refuted = True
                by_parts = by_parts or part is not None
                alike = alike or (decision is not None and float(pairs[a, 0]) >= decision)
                continue
            better.append(a)
        if refuted and alike and not by_parts and better == [0]:
            best_asked_too(out, copy, ids, flagged, local)
    finally:
        if reads is not None:
            reads.finish()


def _witnesses(
    a: int,
    better: Sequence[int],
    pairs: np.ndarray,
    sure: float,
    copy: np.ndarray,
    flagged: np.ndarray,
) -> list[int]:
    """The kept copies ``better`` (positions in ``flagged``) the ``a``-th copy's key points are
    matched with besides the query's: at most :data:`WITNESS_BETTER`, those its stored image is
    most like first (the picture it would be a copy of), one of each picture (a copy whose
    stored image is a copy past ``sure`` of one already listed holds the same key points), not
    the query's own file. Three edits of one photo would otherwise spend three of the witness's
    pairs on one question, and a look-alike of another picture keep its flag unasked."""
    out: list[int] = []
    for b in sorted(better, key=lambda b: -float(pairs[a, b])):
        if len(out) == WITNESS_BETTER:
            break
        if copy[flagged[b]] < SELF_SCORE and not any(pairs[b, c] >= sure for c in out):
            out.append(b)
    return out
