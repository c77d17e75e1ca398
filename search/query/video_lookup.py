"""Reverse lookup with a video clip: where is this video in the library, re-encoded, resized
or trimmed? Exact copies by sha256; copies by the rule of the video dedup (the frames of the
shorter one found in the other's in order, :func:`search.dedup.clip_pairs`), each at the
moment the clip starts in it; then the best-matching other videos."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from models import format_timestamp
from search.descriptor import DUPLICATE_Z
from search.query.clip_match import SameFile, clip_decision, in_order, match_clip
from search.query.results import ImageQuery, hit_from_row

if TYPE_CHECKING:
    from search.query.engine import SearchEngine
    from search.query.reverse_lookup import LookupResult


def lookup_video(
    engine: SearchEngine,
    source: ImageQuery | SameFile,
    *,
    threshold: float | None = None,
    others: int = 5,
    exclude: int | None = None,
) -> LookupResult:
    """Find the video ``source`` (a path, its bytes, or :meth:`SameFile.stored`) in the
    library, ``exclude`` (an image id) left out. With ``threshold`` (or a configured dedup
    threshold) a copy's matched frames must average that cosine instead of the calibrated
    decision."""
    from search.query.reverse_lookup import (
        EXACT,
        NEAR,
        SIMILAR,
        LookupMatch,
        LookupResult,
        default_threshold,
    )

    state = engine.store.health.serving_state()
    live = engine.guard.live(state)
    # a file: hashed and decoded streamed, never read whole
    query_clip = source if isinstance(source, SameFile) else SameFile(source)
    sha = query_clip.sha256()
    clip, facts = engine.videos.clip(live, query_clip)
    calibration = live.descriptor.calibration
    configured = engine.settings.dedup_threshold if threshold is None else threshold
    calibrated = configured is None and calibration is not None
    shown = default_threshold(engine) if threshold is None else float(threshold)
    decision = clip_decision(live, configured)
    found_matches = match_clip(live, engine.videos.frames, *clip, *decision)
    # with a threshold: which others match in order, but under it (they were said not to)
    ordered = in_order(live, engine.videos.frames, clip) if decision[0] is None else {}
    same = [i for i in engine.store.ids_by_sha256(sha) if i != exclude]
    found_matches = [m for m in found_matches if m.video_id != exclude]
    copies = [m for m in found_matches if m.copy is not None]
    wanted = set(same) | {m.video_id for m in found_matches[: len(copies) + len(same) + others]}
    found = engine.store.reads.hit_rows(sorted(wanted))

    def z_of(score: float) -> float | None:
        return None if calibration is None else round(float(calibration.duplicate_z(score)), 2)

    matches = []
    for video_id in same:
        if video_id in found:
            hit = hit_from_row(0, 1.0, found[video_id], True)
            hit = replace(hit, copy_score=1.0, z=z_of(1.0), duplicate=True, timestamp_ms=0)
            matches.append(LookupMatch(hit, EXACT, "same bytes (sha256)"))
    shown_others = 0
    for match in found_matches:  # copies first
        if match.copy is None and shown_others >= others:
            break
        if match.video_id in same or match.video_id not in found:
            continue
        shown_others += match.copy is None
        score, start = round(min(1.0, match.score), 6), max(0, match.start_ms)
        hit = replace(
            hit_from_row(0, score, found[match.video_id], False),
            copy_score=score,
            z=z_of(score),
            duplicate=match.copy is not None,
            timestamp_ms=start,
        )
        if match.copy is None:
            evidence = f"frames match at {score:.3f} on average"
            if (pair := ordered.get(match.video_id)) is not None:
                evidence = (
                    f"{pair.coverage:.0%} of the shorter video's frames found in order, at "
                    f"{pair.score:.3f} on average: under the threshold {shown:g}"
                )
            matches.append(LookupMatch(hit, SIMILAR, evidence))
            continue
        where = (
            f"the clip starts at {format_timestamp(start)}"
            if match.start_ms >= 0
            else f"it starts at {format_timestamp(-match.start_ms)} of the clip"
        )
        evidence = (
            f"{match.copy.coverage:.0%} of the shorter video's frames found in order · {where}"
        )
        matches.append(LookupMatch(hit, NEAR, evidence))
    ranked = [replace(m, hit=replace(m.hit, rank=n)) for n, m in enumerate(matches, start=1)]
    engine.guard.check_unchanged(state)
    facts = {"sha256": sha, **facts, "media": "video"}
    return LookupResult(
        threshold=shown,
        query=facts,
        matches=ranked,
        z_threshold=DUPLICATE_Z if calibrated else None,
    )


__all__ = ["lookup_video"]
