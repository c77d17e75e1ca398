"""Reverse lookup with a video clip: where is this video in the library, re-encoded, resized
or trimmed? Exact copies by sha256; copies by the rule of the video dedup (the frames of the
shorter one found in the other's in order, :func:`search.dedup.clip_pairs`), each at the
moment the clip starts in it; then the best-matching other videos."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from models import format_timestamp
from search.dedup import clip_pairs
from search.descriptor import DUPLICATE_Z
from search.query.results import ImageQuery, hit_from_row
from search.query.video import SameFile, align_clip, sample_clip

if TYPE_CHECKING:
    from search.query.engine import SearchEngine
    from search.query.reverse_lookup import LookupResult


def lookup_video(
    engine: SearchEngine, source: ImageQuery, *, threshold: float | None = None, others: int = 5
) -> LookupResult:
    """Find the video ``source`` (a path or its bytes) in the library. With ``threshold``
    (or a configured dedup threshold) a copy's matched frames must average that cosine
    instead of the calibrated decision."""
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
    query_clip = SameFile(source)  # a file: hashed and decoded streamed, never read whole
    sha = query_clip.sha256()
    clip = sample_clip(query_clip.source, engine.guard.analyzer_for(live.model), query_clip.name)
    calibration = live.descriptor.calibration
    calibrated = (
        threshold is None and engine.settings.dedup_threshold is None and calibration is not None
    )
    shown = default_threshold(engine) if threshold is None else float(threshold)
    table, rows = engine.videos.frames.get(live)
    query = live.descriptor.transform(clip.vectors) if len(clip.vectors) else clip.vectors
    to_z = calibration.duplicate_z if calibrated and calibration is not None else None
    pairs = clip_pairs(query, clip.times_ms, clip.cuts, table, rows, to_z, pair_cosine=shown)
    aligned = align_clip(live, engine.videos.frames, query, clip.times_ms, clip.cuts)
    same = list(engine.store.ids_by_sha256(sha))
    wanted = set(same) | {p.b for p in pairs}
    wanted |= {video_id for video_id, _s, _t in aligned[: len(wanted) + others]}
    found = engine.store.reads.hit_rows(sorted(wanted))

    def z_of(score: float) -> float | None:
        return None if calibration is None else round(float(calibration.duplicate_z(score)), 2)

    matches = []
    for video_id in same:
        if video_id in found:
            hit = hit_from_row(0, 1.0, found[video_id], True)
            hit = replace(hit, copy_score=1.0, z=z_of(1.0), duplicate=True, timestamp_ms=0)
            matches.append(LookupMatch(hit, EXACT, "same bytes (sha256)"))
    seen = set(same)
    for pair in pairs:
        if pair.b in seen or pair.b not in found:
            continue
        seen.add(pair.b)
        score, start = round(min(1.0, pair.score), 6), max(0, pair.offset_ms)
        hit = replace(
            hit_from_row(0, score, found[pair.b], False),
            copy_score=score,
            z=z_of(pair.score),
            duplicate=True,
            timestamp_ms=start,
        )
        where = (
            f"the clip starts at {format_timestamp(start)}"
            if pair.offset_ms >= 0
            else f"it starts at {format_timestamp(-pair.offset_ms)} of the clip"
        )
        evidence = f"{pair.coverage:.0%} of the shorter video's frames found in order; {where}"
        matches.append(LookupMatch(hit, NEAR, evidence))
    for video_id, score, start in aligned:
        if len(matches) >= len(seen) + others:
            break
        if video_id in seen or video_id not in found:
            continue
        score = round(min(1.0, score), 6)
        hit = replace(
            hit_from_row(0, score, found[video_id], False),
            copy_score=score,
            z=z_of(score),
            duplicate=False,
            timestamp_ms=start,
        )
        matches.append(LookupMatch(hit, SIMILAR, f"frames match at {score:.3f} on average"))
    ranked = [replace(m, hit=replace(m.hit, rank=n)) for n, m in enumerate(matches, start=1)]
    engine.guard.check_unchanged(state)
    info = clip.info
    facts = {"sha256": sha, "width": info.width, "height": info.height}
    facts |= {"format": info.codec.upper(), "media": "video", "duration_ms": info.duration_ms}
    return LookupResult(
        threshold=shown,
        query=facts,
        matches=ranked,
        z_threshold=DUPLICATE_Z if calibrated else None,
    )


__all__ = ["lookup_video"]
