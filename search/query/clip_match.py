"""One score for a (query clip, library video) pair, whichever way it is asked: ``search``
with a clip, ``similar`` of a library video, ``lookup`` and the API all rank videos with
:func:`match_clip`.

A video the clip is a copy of (or that is a copy of the clip: the frames of the shorter one
found in the other in order, :func:`search.dedup.clip_pairs`, by the library's copy
decision) scores the mean cosine of its matched frames; any other video scores the mean over
the clip's frames of their best cosine in it (:func:`align_clip`). Copies come first.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from models import ImageAnalyzer, Still, VideoInfo, open_image_file, open_video
from search.dedup import DEFAULT_DEDUP_THRESHOLD, VideoPair, clip_pairs, shot_starts
from search.library import Searchable
from search.query.errors import QueryError
from search.query.records import MAX_VIDEO_QUERY_BYTES, file_sha256
from search.query.results import read_query_bytes

if TYPE_CHECKING:
    from search.query.video_frames import VideoFrames


QUERY_INTERVAL_S = 1.0  # a query clip is sampled this often (and at its cuts) ...
MAX_QUERY_FRAMES = 60  # ... and a longer one's samples thinned to this many over its length


@dataclass(frozen=True)
class ClipMatch:
    """A library video against a query clip: its score, where the clip starts in it (negative:
    it starts that far into the clip) and, when the two are copies, the copy pair."""

    video_id: int
    score: float
    start_ms: int
    copy: VideoPair | None


ToZ = Callable[[np.ndarray], np.ndarray]
ClipRows = tuple[np.ndarray, np.ndarray, np.ndarray]  # frames (searched space), times, cuts


def clip_decision(live: Searchable, threshold: float | None) -> tuple[ToZ | None, float]:
    """The copy decision for videos, as ``(to_z, pair_cosine)`` of :func:`match_clip`: the
    library's calibration, unless a ``threshold`` (given, or configured) replaces it or
    there is none (then :data:`search.dedup.DEFAULT_DEDUP_THRESHOLD`)."""
    calibration = live.descriptor.calibration
    if threshold is None and calibration is not None:
        return calibration.duplicate_z, DEFAULT_DEDUP_THRESHOLD
    return None, DEFAULT_DEDUP_THRESHOLD if threshold is None else float(threshold)


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


def match_clip(
    live: Searchable,
    frames: VideoFrames,
    query: np.ndarray,
    query_ms: np.ndarray,
    query_cuts: np.ndarray,
    to_z: ToZ | None,
    pair_cosine: float,
) -> list[ClipMatch]:
    """Every library video against the clip (rows ``query`` in the searched space), copies
    first, each group best first. ``to_z``: the library's calibrated copy decision, or None
    for the plain one at ``pair_cosine``."""
    table, matrix = frames.get(live)
    if not len(table) or not len(query) or matrix.shape[1] != query.shape[1]:
        return []
    pairs = clip_pairs(query, query_ms, query_cuts, table, matrix, to_z, pair_cosine)
    copies = {pair.b: pair for pair in pairs}
    out = []
    for video_id, score, start in align_clip(live, frames, query, query_ms, query_cuts):
        pair = copies.get(video_id)
        if pair is None:
            out.append(ClipMatch(video_id, score, start, None))
        else:
            out.append(ClipMatch(video_id, pair.score, pair.offset_ms, pair))
    out.sort(key=lambda m: (m.copy is None, -m.score, m.video_id))
    return out


def spread_stills(stills: Iterable[Still], limit: int = MAX_QUERY_FRAMES) -> list[Still]:
    """At most ``limit`` of a clip's ``stills`` (time order), spread evenly over its whole
    length, each with ``shot`` 1 where it begins a shot after a cut, else 0 (a thinned
    shot's first kept still is not at its cut). At most ``2 * limit`` are held: while more
    come, every other one held is let go and half as many taken."""
    held: list[Still] = []
    every, previous = 1, None
    for n, still in enumerate(stills):
        cut, previous = previous is not None and still.shot != previous, still.shot
        if n % every:
            continue
        held.append(replace(still, shot=int(cut)))
        if len(held) > 2 * limit:
            held, every = held[::2], every * 2
    if len(held) > limit:
        held = [held[int(i)] for i in np.unique(np.linspace(0, len(held) - 1, limit).round())]
    return held


def in_order(live: Searchable, frames: VideoFrames, query: ClipRows) -> dict[int, VideoPair]:
    """The library videos whose frames match a clip's (``query``: rows, times, cuts) in order
    by the plain copy rule whatever their matched frames' mean (the pairs a threshold decides
    on), by id: those a threshold alone keeps from being copies are among them."""
    table, matrix = frames.get(live)
    if not len(table) or not len(query[0]) or matrix.shape[1] != query[0].shape[1]:
        return {}
    return {p.b: p for p in clip_pairs(*query, table, matrix, None, -np.inf)}


@dataclass(frozen=True)
class ClipSample:
    """A query clip sampled every second and at its cuts, at most ``MAX_QUERY_FRAMES`` over
    its whole length (:func:`spread_stills`): raw embeddings [Q, D], their times, which
    frames begin a shot after a cut, and the clip's facts."""

    vectors: np.ndarray
    times_ms: np.ndarray
    cuts: np.ndarray
    info: VideoInfo


def sample_clip(source: Any, analyzer: ImageAnalyzer, name: str = "query") -> ClipSample:
    """Sample and embed a query clip (a path or the clip's bytes; ``name``: what errors
    call it)."""
    with open_video(source, name=name) as reader:  # decoded to its end, streamed
        stills = spread_stills(reader.sample(QUERY_INTERVAL_S))
        info = reader.info()
    found = list(analyzer.analyze_iter([s.image for s in stills]))
    good = [(s, a) for s, a in zip(stills, found, strict=True) if hasattr(a, "embedding")]
    if not good:
        return ClipSample(
            np.zeros((0, 1), np.float32), np.zeros(0, np.int64), np.zeros(0, bool), info
        )
    vectors = np.stack([a.embedding for _s, a in good]).astype(np.float32)
    times = np.array([s.timestamp_ms for s, _a in good], np.int64)
    cuts = np.array([s.shot == 1 for s, _a in good], bool)  # spread_stills' marks
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

    @classmethod
    def stored(cls, sha256: str | None, size: int, name: str) -> SameFile:
        """A library video whose file is gone, by its stored sha256 and size: its stored
        frames are the query (nothing is opened)."""
        clip = cls.__new__(cls)
        clip.source, clip.size, clip.name = None, size, name
        clip._sha256 = sha256 or ""
        return clip

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
