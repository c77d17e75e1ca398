"""Video hits: the library's video frames matched against a query, one hit per video with its
best timestamp (refined around the best sampled frame by decoding the video there), and
queries by video (frames of the query clip aligned with each library video).

The frames and their refined moments come from :class:`search.query.video_frames.VideoFrames`.
A hit's ``copy_score`` is the best cosine between a query view and a frame, in the same space
as images' copy scores.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from models import (
    is_video_data,
    is_video_file,
)
from search.dedup import (
    VideoFacts,
    groups_to_json,
    keep_present_videos,
    shot_starts,
    video_groups,
    video_pairs,
)
from search.descriptor import DUPLICATE_Z
from search.library import Searchable
from search.query.clip_match import ClipRows, SameFile, clip_decision, match_clip, sample_clip
from search.query.guard import ServingGuard
from search.query.quality import QualityFilter
from search.query.records import LibraryRecords
from search.query.results import SearchHit, hit_from_row
from search.query.scored_hits import as_lookalike
from search.query.video_frames import REFINE_TOP, VideoFrames, VideoMatch
from search.store import LibraryStore

log = logging.getLogger(__name__)


def with_video_hits(
    store: LibraryStore,
    live: Searchable,
    matches: Sequence[VideoMatch],
    hits: list[SearchHit],
    k: int,
    min_score: float | None,
    no_copies: str | None = None,
) -> list[SearchHit]:
    """``hits`` (images) merged with one hit per matched video, best ``k`` by score; videos
    found through their stored summary vector are replaced by their frame match. Past the
    decision, a query that can have none (``no_copies``: why) has look-alikes, as photos."""
    images = [h for h in hits if h.media != "video"]
    matches = sorted(matches, key=lambda m: (-m.score, m.video_id))[:k]
    rows = store.reads.hit_rows([m.video_id for m in matches])
    calibration = live.descriptor.calibration
    videos = []
    for m in matches:
        row = rows.get(m.video_id)
        score = round(min(1.0, m.score), 6)
        if row is None or (min_score is not None and score < min_score):
            continue
        z = None if calibration is None else float(calibration.duplicate_z(m.score))
        hit = replace(
            hit_from_row(0, score, row, False),
            copy_score=score,
            z=None if z is None else round(z, 2),
            duplicate=z is not None and z >= DUPLICATE_Z,
            timestamp_ms=m.timestamp_ms,
        )
        if hit.duplicate and no_copies and calibration is not None:
            hit = as_lookalike(hit, no_copies, calibration)
        videos.append(hit)
    merged = sorted(images + videos, key=lambda h: (-h.score, h.id))[:k]
    return [replace(h, rank=n) for n, h in enumerate(merged, start=1)]


class VideoSearch:
    """The engine's video part (``engine.videos``): video hits for image queries, and
    queries by video clip."""

    def __init__(self, store: LibraryStore, guard: ServingGuard, records: LibraryRecords):
        self.store, self.guard, self.records = store, guard, records
        self.frames = VideoFrames(store)

    def count(self, exclude: int | None = None) -> int:
        """How many videos and animations the library holds, ``exclude`` not counted."""
        live = self.guard.live(self.store.health.serving_state())
        return sum(int(i) != exclude for i in self.frames.video_ids(live))

    def merge(
        self,
        live: Searchable,
        query: np.ndarray,
        hits: list[SearchHit],
        k: int,
        min_score: float | None,
        exclude: int | None = None,
        flags: QualityFilter | None = None,
        no_copies: str | None = None,
    ) -> list[SearchHit]:
        """Image hits merged with the best-matching videos, each at its best moment (none a
        copy of a query that can have none: ``no_copies``): the ``REFINE_TOP`` best by their
        sampled frames are refined whatever ``k``, so that a smaller ``k`` shows the first of
        a larger one's hits (refining only the first ``k`` let a video refined at a larger
        ``k`` rise over one shown at a smaller). A filter that keeps no unflagged image
        (``flags`` asking for a flag) keeps no video: none takes a photo's place."""
        if flags is not None and not flags.keeps(None):
            return [h for h in hits if h.media != "video"]
        matches = [m for m in self.frames.match(live, query) if m.video_id != exclude]
        if not matches and not any(h.media == "video" for h in hits):
            return hits
        analyzer = self.guard.analyzer_for(live.model)
        for i, match in enumerate(matches[:REFINE_TOP]):
            file = self.records.image_file(match.video_id)
            if file is not None and file.path.is_file():
                matches[i] = self.frames.refine(live, analyzer, query, match, file.path)
        return with_video_hits(self.store, live, matches, hits, k, min_score, no_copies)

    def query_clip(
        self,
        source: Any,
        k: int = 10,
        min_score: float | None = None,
        exclude: int | None = None,
    ) -> list[SearchHit]:
        """Library videos ranked by how well a query clip's frames match theirs
        (:func:`search.query.clip_match.match_clip`: copies first); ``timestamp_ms`` is where
        the clip starts in each; a video of the clip's bytes scores 1.0. ``exclude``: a
        library video left out."""
        state = self.store.health.serving_state()
        live = self.guard.live(state)
        same = SameFile(source)  # a file is decoded streamed, never read whole
        query, _facts = self.clip(live, same)
        hits = self._clip_hits(live, query, same.as_file, k, min_score, exclude)
        self.guard.check_unchanged(state)
        return hits

    def clip(self, live: Searchable, same: SameFile) -> tuple[ClipRows, dict[str, Any]]:
        """A query clip's frames (searched space, times, cuts) and facts: those stored for a
        library video of its bytes (nothing decoded; what ``similar`` of that video asks
        with), else sampled every second from the clip."""
        for video_id in self.store.ids_by_sha256(same.sha256()):
            stored = self.stored_clip(live, video_id)
            row = self.store.reads.hit_rows([video_id], labels=False).get(video_id)
            if stored is not None and row is not None:
                facts = {"width": row.width, "height": row.height, "format": row.format}
                return stored, facts | {"duration_ms": row.duration_ms}
        sampled = sample_clip(same.source, self.guard.analyzer_for(live.model), same.name)
        vectors = sampled.vectors
        rows = live.descriptor.transform(vectors) if len(vectors) else vectors
        info = sampled.info
        facts = {"width": info.width, "height": info.height, "format": info.codec.upper()}
        return (rows, sampled.times_ms, sampled.cuts), facts | {"duration_ms": info.duration_ms}

    def stored_clip(self, live: Searchable, video_id: int) -> ClipRows | None:
        """Library video ``video_id``'s stored frames as a query clip; None: not a video."""
        table, matrix = self.frames.get(live)
        own = table.of(video_id)
        if not len(own):
            return None
        return matrix[own], table.timestamps_ms[own], shot_starts(table.shots[own])

    def similar(
        self, video_id: int, sha256: str | None, k: int, min_score: float | None
    ) -> list[SearchHit] | None:
        """``similar`` of library video ``video_id`` (None when it is not one): asked with
        its stored frames, as a search with its file (of ``sha256``) is, so that a pair
        scores the same either way; nothing is decoded."""
        state = self.store.health.serving_state()
        live = self.guard.live(state)
        query = self.stored_clip(live, video_id)
        if query is None:
            return None
        same = lambda _size, other: sha256 is not None and other == sha256  # noqa: E731
        hits = self._clip_hits(live, query, same, k, min_score, video_id)
        self.guard.check_unchanged(state)
        return hits

    def _clip_hits(
        self,
        live: Searchable,
        query: ClipRows,
        is_same_file: Callable[[int, str | None], bool],
        k: int,
        min_score: float | None,
        exclude: int | None,
    ) -> list[SearchHit]:
        """Hits for a clip's frames (searched space, times, cuts): copies marked
        ``duplicate``, a byte copy of the clip exact at 1.0 and first."""
        decision = clip_decision(live, self.guard.settings.dedup_threshold)
        matches = [
            m for m in match_clip(live, self.frames, *query, *decision) if m.video_id != exclude
        ]
        found = self.store.reads.hit_rows([m.video_id for m in matches[:k]])
        calibration = live.descriptor.calibration
        hits: list[SearchHit] = []
        for m in matches[:k]:
            row = found.get(m.video_id)
            if row is None:
                continue
            exact = is_same_file(row.file_size, row.sha256)
            score = 1.0 if exact else round(min(1.0, m.score), 6)
            if min_score is not None and score < min_score:
                continue
            z = None if calibration is None else round(float(calibration.duplicate_z(score)), 2)
            hit = hit_from_row(0, score, row, exact)
            duplicate = exact or m.copy is not None
            start = 0 if exact else max(0, m.start_ms)
            hits.append(
                replace(hit, copy_score=score, z=z, duplicate=duplicate, timestamp_ms=start)
            )
        hits.sort(key=lambda h: not h.exact)  # stable: the copies' order is kept
        return [replace(h, rank=n) for n, h in enumerate(hits, start=1)]

    def duplicates(self) -> list[dict[str, Any]]:
        """Groups of copies of a video (same frames in order), JSON-ready (``video_groups``
        of ``imgsearch dedup``); a group whose keeper's file is gone since indexing is kept by
        its best file still there."""
        live = self.guard.live(self.store.health.serving_state())
        table, rows = self.frames.get(live)
        calibration = live.descriptor.calibration
        to_z = calibration.duplicate_z if calibration is not None else None
        pairs = video_pairs(table, rows, to_z)
        found = self.store.reads.hit_rows(sorted({p.a for p in pairs} | {p.b for p in pairs}))
        facts = {
            i: VideoFacts(
                r.path, r.duration_ms or 0, r.width or 0, r.height or 0, r.file_size, r.sha256
            )
            for i, r in found.items()
        }
        groups = video_groups(pairs, facts)  # a keeper gone since indexing: its best copy there
        groups = keep_present_videos(groups, facts)
        return groups_to_json(groups, facts)


def is_video_query(source: Any, name: str | None = None) -> bool:
    """A query that is a video: a path with a video extension, video bytes (or bytes that are
    no still image's under a video's ``name``: an upload's), or an animated image of more
    than one frame (GIF, WebP, APNG: told by content)."""
    if isinstance(source, (str, os.PathLike)):
        return is_video_file(source)
    if isinstance(source, (bytes, bytearray)):
        return is_video_data(bytes(source), name)
    return False
