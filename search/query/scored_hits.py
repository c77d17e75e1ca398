"""Scored rows become search hits: the copy score, its calibrated ``z`` and the duplicate
decision as the witnesses left them, moved across the decision by their evidence (a look-alike
just under it, a confirmed copy at it at least: :func:`decision_edges`), and the part of the
query that found a hit."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from search.dedup import capture_text, taken_apart
from search.descriptor import (
    DUPLICATE_Z,
    TIE_SCORE,
    UNDER_COPIES,
    WITNESS_Z,
    Calibration,
    ScoredHit,
)
from search.query.results import SCORE_DECIMALS, SearchHit, hit_from_row
from search.store import StoredImage


def hits_from_scores(
    scored: list[tuple[ScoredHit, StoredImage]],
    calibration: Calibration | None,
    exact: Callable[[StoredImage, float], bool],
    no_copies: str | None = None,
    taken: datetime | None = None,
    min_score: float | None = None,
) -> list[SearchHit]:
    """Ranked hits from scored rows: the copy score (rounded for display; decided unrounded),
    its calibrated ``z`` and the duplicate decision (the scorer's: past the decision's ``z``
    but a ``lookalike`` when the witnesses of :mod:`search.descriptor.witness` say it is no
    copy, and why), and whether the row is an exact copy. ``no_copies``: why this query can
    have no copies but exact ones (:func:`no_copies_reason`); its hits past the decision
    are look-alikes with that reason. ``taken``: the query's EXIF capture time; a hit taken
    at another time is another shot (:func:`another_shot`), a look-alike however alike.
    Look-alikes rank under every copy (:func:`under_the_copies`; ``min_score``: the rank
    score asked for, which a look-alike so ranked may no longer reach)."""
    out, told = [], set()  # told: the ids found look-alikes here, after the scorer's ranking
    at = 0.0 if calibration is None else decision_edges(calibration)[1]
    photo = None if taken is not None else query_photo(scored, calibration, exact)
    led = led_by_photo(scored, calibration, photo) if photo and calibration else set()
    for n, (hit, row) in enumerate(scored, start=1):
        copy = round(min(1.0, hit.copy), SCORE_DECIMALS)
        z = None if calibration is None else float(calibration.duplicate_z(hit.copy))
        past = z is not None and z >= DUPLICATE_Z
        found = hit_from_row(n, hit.rank, row, bool(exact(row, copy)))
        duplicate = past if hit.duplicate is None else hit.duplicate
        reason = hit.lookalike if past and hit.duplicate is False else None
        if duplicate and no_copies and not found.exact:
            duplicate, reason = False, no_copies
            told.add(row.id)
        elif duplicate and not found.exact and (shot := other_shot(taken, photo, row, led)):
            duplicate, reason = False, shot
            told.add(row.id)
        if duplicate and calibration is not None:  # a copy raised to the decision stays at it
            copy = min(1.0, max(copy, at))
            z = max(float(calibration.duplicate_z(copy)), DUPLICATE_Z)
        found = replace(
            found,
            copy_score=copy,
            z=None if z is None else shown_z(z, duplicate),
            duplicate=duplicate,
            copy_of=list(hit.copy_of) if duplicate and hit.copy_of else None,
        )
        if past and not duplicate:  # the witnesses' "no" (or the query's) puts it under
            assert calibration is not None  # (past)
            found = as_lookalike(found, reason, calibration)
        out.append(found)
    return under_the_copies(out, told, min_score)


def shown_z(z: float, duplicate: bool) -> float:
    """``z`` to two decimals, rounded down where rounding would carry a hit that is no copy to
    the decision (a hit at z 5.996 read "z 6.0" and was not flagged)."""
    shown = round(z, 2)
    if not duplicate and z < DUPLICATE_Z <= shown:
        return math.floor(100 * z) / 100
    return shown


def under_the_copies(
    hits: list[SearchHit], told: set[int], min_score: float | None = None
) -> list[SearchHit]:
    """``hits`` with the rank scores of the look-alikes ``told`` (ids) under every copy's
    (exact or past the decision), ranked again. The scorer puts those its witnesses refute
    there; a hit found another shot, or a copy of a query that can have none
    (:func:`hits_from_scores`), is told after the ranking: the auditor's burst shot at 0.98
    stood above the query's copy at 0.957, and ``--min-score 0.958`` kept the shot and
    dropped the copy. Then the hits scoring under ``min_score`` are left out."""
    copies = [h.score for h in hits if h.duplicate or h.exact]
    placed = hits
    if copies and told:
        least = min(copies) - UNDER_COPIES
        placed = [replace(h, score=min(h.score, least)) if h.id in told else h for h in hits]
        placed.sort(key=lambda h: -h.score)  # stable: ties keep the scorer's order
    kept = [h for h in placed if min_score is None or h.score >= min_score]
    if kept == hits:
        return hits
    return [replace(h, rank=n) for n, h in enumerate(kept, start=1)]


def as_lookalike(hit: SearchHit, reason: str | None, calibration: Calibration) -> SearchHit:
    """``hit`` (past the decision) as a look-alike saying ``reason``: its copy score just
    under the decision (:func:`decision_edges`), what its vectors gave kept beside it."""
    copy = min(float(hit.copy_score or 0.0), decision_edges(calibration)[0])
    return replace(
        hit,
        duplicate=False,
        lookalike=True,
        lookalike_reason=reason,
        copy_score=copy,
        z=math.floor(100 * float(calibration.duplicate_z(copy))) / 100,
        vector_score=hit.copy_score,
        vector_z=hit.z,
        copy_of=None,
    )


def another_shot(query: datetime | None, hit: datetime | None) -> str | None:
    """Why a hit is no copy of the query: taken at another time (:func:`search.dedup.taken_apart`,
    as dedup rules). None otherwise."""
    if query is None or hit is None or not taken_apart(query, hit):
        return None
    return f"another shot (taken {capture_text(hit, query)}, the query {capture_text(query, hit)})"


def query_photo(
    scored: Sequence[tuple[ScoredHit, StoredImage]],
    calibration: Calibration | None,
    exact: Callable[[StoredImage, float], bool],
) -> StoredImage | None:
    """The library photo a query without a capture time of its own (a copy saved without
    EXIF: resized, re-sent, screenshotted) is a copy of, when it has one: its best copy, if
    that is an exact copy or a firm one (z >= WITNESS_Z) of the whole query and has a capture
    time. None otherwise, and when a part of the query is a copy of its own (a collage, photos
    side by side: a 2 x 2 collage of two views made the second view "another shot" of the
    first). A copy tied with the best (:data:`search.descriptor.TIE_SCORE`) that is shown
    before it is the photo: the key points put it first (the query holds its pixels)."""
    if calibration is None or not scored:
        return None
    if any(hit.part is not None and hit.duplicate is not False for hit, _ in scored):
        return None
    hit, row = max(scored, key=lambda pair: pair[0].copy)
    first = next(((h, r) for h, r in scored if h.duplicate), None)
    if first is not None and first[0].copy >= hit.copy - TIE_SCORE:
        hit, row = first
    if row.exif_datetime is None or hit.part is not None or hit.duplicate is False:
        return None
    firm = float(calibration.duplicate_z(hit.copy)) >= WITNESS_Z
    return row if firm or exact(row, round(min(1.0, hit.copy), SCORE_DECIMALS)) else None


#: how far (in z) a query's photo must score above another shot of its scene for the query to
#: be that photo's copy and not the other's: shots of one scene that the graph expansion left
#: within it are tied (a UKBench object's four views at 0.9318 / 0.9315 / 0.9306 for one
#: crop), and which of them comes first tells nothing
SHOT_LEAD_Z = 0.1


def led_by_photo(
    scored: Sequence[tuple[ScoredHit, StoredImage]], calibration: Calibration, photo: StoredImage
) -> set[int]:
    """The ids of the rows whose z the ``photo``'s (:func:`query_photo`) leads by
    :data:`SHOT_LEAD_Z` or more."""
    z = {row.id: float(calibration.duplicate_z(hit.copy)) for hit, row in scored}
    best = z[photo.id]
    return {image_id for image_id, row_z in z.items() if best - row_z >= SHOT_LEAD_Z}


def other_shot(
    taken: datetime | None, photo: StoredImage | None, row: StoredImage, led: set[int]
) -> str | None:
    """Why ``row`` is another shot than the query (taken at ``taken``) or than the photo the
    query is a copy of (``photo``: :func:`query_photo`; only a row that photo leads: ``led``),
    None when it is neither."""
    if taken is not None:
        return another_shot(taken, row.exif_datetime)
    if photo is None or row.id not in led:
        return None
    return shot_of_another(photo, row)


def shot_of_another(photo: StoredImage, row: StoredImage) -> str | None:
    """Why ``row`` is no copy of a query that is a copy of ``photo`` (:func:`query_photo`):
    taken at another time than that photo, it is another shot of the scene (the library's
    own rule between the two: :func:`search.dedup.taken_apart`). A resized copy of a photo
    without its EXIF made the photographer's other shots of that scene copies of it (z 6-8,
    a UKBench object's other views) where the photo itself made them look-alikes."""
    if row.id == photo.id or not taken_apart(photo.exif_datetime, row.exif_datetime):
        return None
    assert photo.exif_datetime is not None and row.exif_datetime is not None  # (taken apart)
    return (
        f"another shot (taken {capture_text(row.exif_datetime, photo.exif_datetime)}; the "
        f"query is a copy of {Path(photo.rel_path).name}, taken "
        f"{capture_text(photo.exif_datetime, row.exif_datetime)})"
    )


def decision_edges(calibration: Calibration) -> tuple[float, float]:
    """The copy scores (at :data:`SCORE_DECIMALS`) either side of the duplicate decision: the
    highest under it, where a look-alike's goes, and the lowest at it, which a copy scores at
    least (one its key points or its copies confirmed, raised to the decision). So one global
    threshold on ``copy_score`` at the decision keeps exactly the copies."""
    step = 10.0**-SCORE_DECIMALS
    at = round(math.ceil(calibration.duplicate_threshold() / step) * step, SCORE_DECIMALS)
    while calibration.duplicate_z(at) < DUPLICATE_Z:
        at = round(at + step, SCORE_DECIMALS)
    under = round(at - step, SCORE_DECIMALS)
    while calibration.duplicate_z(under) >= DUPLICATE_Z:
        under = round(under - step, SCORE_DECIMALS)
    return under, at


def with_parts(
    hits: list[SearchHit],
    part_of: Mapping[int, int],
    boxes: Sequence[tuple[float, float, float, float]],
) -> list[SearchHit]:
    """``hits`` with ``part`` set where a part of the query found them: ``part_of`` maps an
    image id to its index among ``boxes`` (:attr:`models.views.ViewSet.pieces`)."""
    out = []
    for hit in hits:
        piece = part_of.get(hit.id)
        if piece is not None and 0 <= piece < len(boxes) and hit.media == "image":
            box = tuple(round(float(x), 4) for x in boxes[piece])
            hit = replace(hit, part=box)  # type: ignore[arg-type]
        out.append(hit)
    return out


__all__ = ["as_lookalike", "decision_edges", "hits_from_scores", "under_the_copies", "with_parts"]
