"""Video hits: the library's video frames matched against a query, one hit per video with its
best timestamp (refined around the best sampled frame by decoding the video there), and
queries by video (frames of the query clip aligned with each library video).

Frames live in the store (``video_frames``); their descriptor-space matrix is kept for one
(generation, descriptor) and rebuilt when either moves. A hit's ``copy_score`` is the best
cosine between a query view and a frame, in the same space as images' copy scores.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from models import (
    ImageAnalyzer,
    ImgsearchError,
    VideoInfo,
    is_video_data,
    is_video_file,
    open_image_file,
    open_video,
)
from search.dedup import VideoFacts, groups_to_json, shot_starts, video_groups, video_pairs
from search.descriptor import DUPLICATE_Z
from search.library import Searchable
from search.query.errors import QueryError
from search.query.guard import ServingGuard
from search.query.records import MAX_VIDEO_QUERY_BYTES, LibraryRecords, file_sha256
from search.query.results import SearchHit, hit_from_row, read_query_bytes
from search.store import FrameTable, LibraryStore

log = logging.getLogger(__name__)

REFINE_TOP = 10  # videos (of the k shown) whose moment is refined by decoding around it
REFINE_STEP_MS = 100  # stills every 0.1 s in the refinement window
REFINE_MARGIN_MS = 2000  # window: the best frame's span +- this, within its neighbours
QUERY_INTERVAL_S = 1.0  # a query clip is sampled this often
MAX_QUERY_FRAMES = 60


@dataclass(frozen=True)
class VideoMatch:
    """One library video's best match: score, timestamp, and the row of its best frame."""

    video_id: int
    score: float
    timestamp_ms: int
    row: int


class VideoFrames:
    """The library's video frames in the searched (descriptor) space, cached per state."""

    def __init__(self, store: LibraryStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._key: tuple[int, str] | None = None
        self._table: FrameTable | None = None
        self._matrix = np.zeros((0, 1), np.float32)

    def get(self, live: Searchable) -> tuple[FrameTable, np.ndarray]:
        key = (live.generation, live.descriptor.fingerprint)
        with self._lock:
            if key != self._key or self._table is None:
                table = self.store.videos.frames()
                matrix = (
                    live.descriptor.transform(table.vectors)
                    if len(table)
                    else np.zeros((0, 1), np.float32)
                )
                self._key, self._table, self._matrix = key, table, matrix
            return self._table, self._matrix

    def match(self, live: Searchable, query: np.ndarray) -> list[VideoMatch]:
        """Each video's best frame for the query views ``query`` [V, D'], best first."""
        table, matrix = self.get(live)
        if not len(table) or matrix.shape[1] != query.shape[1]:
            return []
        sims = (matrix @ np.asarray(query, np.float32).T).max(axis=1)
        out = []
        for video_id in np.unique(table.video_ids):
            rows = table.of(int(video_id))
            best = int(rows[np.argmax(sims[rows])])
            out.append(
                VideoMatch(int(video_id), float(sims[best]), int(table.timestamps_ms[best]), best)
            )
        out.sort(key=lambda m: (-m.score, m.video_id))
        return out

    def refine(
        self,
        live: Searchable,
        analyzer: ImageAnalyzer,
        query: np.ndarray,
        match: VideoMatch,
        path: Path,
    ) -> VideoMatch:
        """The match with its timestamp (and score) taken from the best still every 0.1 s
        around its best sampled frame; unchanged when the file cannot be read."""
        table, _matrix = self.get(live)
        rows = table.of(match.video_id)
        place = int(np.searchsorted(rows, match.row))
        start = int(table.timestamps_ms[match.row]) - REFINE_MARGIN_MS
        end = int(table.end_ms[match.row]) + REFINE_MARGIN_MS
        if place > 0:
            start = max(start, int(table.timestamps_ms[rows[place - 1]]))
        if place + 1 < len(rows):
            end = min(end, int(table.timestamps_ms[rows[place + 1]]))
        try:
            with open_video(path) as reader:
                stills = list(reader.stills_between(max(0, start), end, REFINE_STEP_MS))
        except (ImgsearchError, OSError) as error:
            log.info("timestamp of video %d not refined: %s", match.video_id, error)
            return match
        if not stills:
            return match
        found = [a for a in analyzer.analyze_iter([s.image for s in stills])]
        good = [(s, a) for s, a in zip(stills, found, strict=True) if hasattr(a, "embedding")]
        if not good:
            return match
        rows_ = live.descriptor.transform(np.stack([a.embedding for _s, a in good]))
        sims = (rows_ @ np.asarray(query, np.float32).T).max(axis=1)
        best = int(np.argmax(sims))
        if float(sims[best]) < match.score:
            return match
        return replace(match, score=float(sims[best]), timestamp_ms=good[best][0].timestamp_ms)


def with_video_hits(
    store: LibraryStore,
    live: Searchable,
    matches: Sequence[VideoMatch],
    hits: list[SearchHit],
    k: int,
    min_score: float | None,
) -> list[SearchHit]:
    """``hits`` (images) merged with one hit per matched video, best ``k`` by score; videos
    found through their stored summary vector are replaced by their frame match."""
    images = [h for h in hits if h.media != "video"]
    rows = store.reads.hit_rows([m.video_id for m in matches[:k]])
    calibration = live.descriptor.calibration
    videos = []
    for m in matches[:k]:
        row = rows.get(m.video_id)
        score = round(min(1.0, m.score), 6)
        if row is None or (min_score is not None and score < min_score):
            continue
        z = None if calibration is None else float(calibration.duplicate_z(m.score))
        videos.append(
            replace(
                hit_from_row(0, score, row, False),
                copy_score=score,
                z=None if z is None else round(z, 2),
                duplicate=z is not None and z >= DUPLICATE_Z,
                timestamp_ms=m.timestamp_ms,
            )
        )
    merged = sorted(images + videos, key=lambda h: (-h.score, h.id))[:k]
    return [replace(h, rank=n) for n, h in enumerate(merged, start=1)]


def align_clip(
    live: Searchable,
    frames: VideoFrames,
    query: np.ndarray,
    query_ms: np.ndarray,
    query_cuts: np.ndarray | None = None,
) -> list[tuple[int, float, int]]:
    """A query clip's frames (rows ``query`` [Q, D'] at ``query_ms``) against every library
    video: ``(video id, score, aligned start ms)``, best first. The score is the mean over the
    query's frames of their best cosine in that video; the start is where the clip begins in
    the library video: the median offset of the frames' matches, taken from the frames just
    after a cut matched to frames just after a cut when there are any (both are sampled at
    the cut itself, so their offset is exact; other frames are up to a sampling step off)."""
    table, matrix = frames.get(live)
    if not len(table) or not len(query) or matrix.shape[1] != query.shape[1]:
        return []
    if query_cuts is None:
        query_cuts = np.zeros(len(query), bool)
    sims = matrix @ query.T  # [frames, Q]
    out = []
    for video_id in np.unique(table.video_ids):
        rows = table.of(int(video_id))
        best = np.argmax(sims[rows], axis=0)
        scores = sims[rows][best, np.arange(len(query))]
        offsets = table.timestamps_ms[rows][best] - query_ms
        at_cuts = query_cuts & shot_starts(table.shots[rows])[best]
        start = np.median(offsets[at_cuts] if at_cuts.any() else offsets)
        out.append((int(video_id), float(scores.mean()), max(0, int(start))))
    out.sort(key=lambda m: (-m[1], m[0]))
    return out


@dataclass(frozen=True)
class ClipSample:
    """A query clip sampled every second (bounded): raw embeddings [Q, D], their times, which
    frames begin a shot after a cut, and the clip's facts."""

    vectors: np.ndarray
    times_ms: np.ndarray
    cuts: np.ndarray
    info: VideoInfo


def sample_clip(source: Any, analyzer: ImageAnalyzer, name: str = "query") -> ClipSample:
    """Sample and embed a query clip (a path or the clip's bytes; ``name``: what errors
    call it)."""
    stills = []
    with open_video(source, name=name) as reader:
        for still in reader.sample(QUERY_INTERVAL_S):
            stills.append(still)
            if len(stills) >= MAX_QUERY_FRAMES:
                break
        info = reader.info()
    found = list(analyzer.analyze_iter([s.image for s in stills]))
    good = [(s, a) for s, a in zip(stills, found, strict=True) if hasattr(a, "embedding")]
    if not good:
        return ClipSample(
            np.zeros((0, 1), np.float32), np.zeros(0, np.int64), np.zeros(0, bool), info
        )
    vectors = np.stack([a.embedding for _s, a in good]).astype(np.float32)
    times = np.array([s.timestamp_ms for s, _a in good], np.int64)
    cuts = shot_starts(np.array([s.shot for s, _a in good], np.int64))
    return ClipSample(vectors, times, cuts, info)


class SameFile:
    """A query clip (a path, or an upload's bytes), what errors call it, and its sha256: a
    path is hashed (streamed) only when asked, an upload is kept."""

    def __init__(self, source: Any) -> None:
        if isinstance(source, (str, os.PathLike)):
            self.source: Any = source
            self.name = str(source)
            with open_image_file(source, MAX_VIDEO_QUERY_BYTES) as handle:  # typed errors
                self.size = os.fstat(handle.fileno()).st_size
        else:  # an upload, already in memory (size-limited)
            data = read_query_bytes(source)
            if data is None:
                raise QueryError("a video query must be a file or its bytes")
            self.source, self.size, self.name = data, len(data), "query"
        self._sha256: str | None = None

    def sha256(self) -> str:
        """The query's sha256 (a file's read in chunks, once)."""
        if self._sha256 is None:
            data = self.source
            self._sha256 = (
                hashlib.sha256(data).hexdigest() if isinstance(data, bytes) else file_sha256(data)
            )
        return self._sha256

    def as_file(self, size: int, sha256: str | None) -> bool:
        """Has the file of ``size`` bytes and ``sha256`` the query's bytes?"""
        return size == self.size and sha256 is not None and self.sha256() == sha256


class VideoSearch:
    """The engine's video part (``engine.videos``): video hits for image queries, and
    queries by video clip."""

    def __init__(self, store: LibraryStore, guard: ServingGuard, records: LibraryRecords):
        self.store, self.guard, self.records = store, guard, records
        self.frames = VideoFrames(store)

    def merge(
        self,
        live: Searchable,
        query: np.ndarray,
        hits: list[SearchHit],
        k: int,
        min_score: float | None,
        exclude: int | None = None,
    ) -> list[SearchHit]:
        """Image hits merged with the best-matching videos, each at its best moment."""
        matches = [m for m in self.frames.match(live, query) if m.video_id != exclude]
        if not matches and not any(h.media == "video" for h in hits):
            return hits
        analyzer = self.guard.analyzer_for(live.model)
        for i, match in enumerate(matches[: min(k, REFINE_TOP)]):
            file = self.records.image_file(match.video_id)
            if file is not None and file.path.is_file():
                matches[i] = self.frames.refine(live, analyzer, query, match, file.path)
        return with_video_hits(self.store, live, matches, hits, k, min_score)

    def query_clip(
        self, source: Any, k: int = 10, min_score: float | None = None
    ) -> list[SearchHit]:
        """Library videos ranked by how well a query clip's frames (sampled every second)
        match theirs; ``timestamp_ms`` is where the clip starts in each."""
        state = self.store.health.serving_state()
        live = self.guard.live(state)
        analyzer = self.guard.analyzer_for(live.model)
        same = SameFile(source)  # a file is decoded streamed, never read whole
        clip = sample_clip(same.source, analyzer, same.name)
        rows = live.descriptor.transform(clip.vectors) if len(clip.vectors) else clip.vectors
        aligned = align_clip(live, self.frames, rows, clip.times_ms, clip.cuts)
        found = self.store.reads.hit_rows([video_id for video_id, _s, _t in aligned[:k]])
        hits: list[SearchHit] = []
        for video_id, score, start in aligned[:k]:
            rounded = round(min(1.0, score), 6)
            if video_id in found and (min_score is None or rounded >= min_score):
                same_file = same.as_file(found[video_id].file_size, found[video_id].sha256)
                hit = hit_from_row(len(hits) + 1, rounded, found[video_id], same_file)
                hits.append(replace(hit, copy_score=rounded, timestamp_ms=start))
        self.guard.check_unchanged(state)
        return hits

    def duplicates(self) -> list[dict[str, Any]]:
        """Groups of copies of a video (same frames in order), JSON-ready (``video_groups``
        of ``imgsearch dedup``)."""
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
        return groups_to_json(video_groups(pairs, facts), facts)


def is_video_query(source: Any) -> bool:
    """A query that is a video: a path with a video extension, video bytes, or an animated
    image of more than one frame (GIF, WebP, APNG: told by content)."""
    if isinstance(source, (str, os.PathLike)):
        return is_video_file(source)
    if isinstance(source, (bytes, bytearray)):
        return is_video_data(bytes(source))
    return False
