"""The library's video frames in the searched space, matched against a query's views: each
video's best sampled frame, and its moment refined by decoding the video around it
(:class:`VideoFrames`, used by :mod:`search.query.video`).

Frames live in the store (``video_frames``); their descriptor-space matrix is kept for one
(generation, descriptor) and rebuilt when either moves; refined windows are kept too.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from models import ImageAnalyzer, ImgsearchError, open_video
from search.library import Searchable
from search.store import FrameTable, LibraryStore

log = logging.getLogger(__name__)

REFINE_TOP = 10  # best videos (whatever k) whose moment is refined by decoding around it
REFINE_STEP_MS = 100  # stills every 0.1 s in the refinement window
REFINE_MARGIN_MS = 2000  # window: the best frame's span +- this, within its neighbours
#: refined windows kept (one sampled frame's stills, in the searched space): a query whose
#: best frame of a video is one met before scores its stills without decoding them again (an
#: audit's image pages took 0.6-0.9 s at every view: 5 videos, ~120 stills decoded and
#: embedded each time); ~60 stills x 128-1024 floats a window
REFINED_WINDOWS = 64


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
        # (state, video, sampled row, file) -> the window's stills: timestamps, searched rows
        self._windows: OrderedDict[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] = OrderedDict()

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

    def video_ids(self, live: Searchable) -> np.ndarray:
        """The ids of the library's videos (those with frames)."""
        return np.unique(self.get(live)[0].video_ids)

    def match(self, live: Searchable, query: np.ndarray) -> list[VideoMatch]:
        """Each video's best frame for the query views ``query`` [V, D'], best first."""
        table, matrix = self.get(live)
        if not len(table) or matrix.shape[1] != query.shape[1]:
            return []
        sims = live.descriptor.view_scores(query, matrix).max(axis=0)  # as images score
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
        around its best sampled frame; unchanged when the file cannot be read. The window's
        stills are kept (:data:`REFINED_WINDOWS`) for the next query that meets that frame."""
        try:
            st = path.stat()
        except OSError as error:
            log.info("timestamp of video %d not refined: %s", match.video_id, error)
            return match
        key = (live.generation, live.descriptor.fingerprint, match.video_id, match.row)
        key += (st.st_size, st.st_mtime_ns)
        with self._lock:
            window = self._windows.get(key)
            if window is not None:
                self._windows.move_to_end(key)
        if window is None:
            window = self._window(live, analyzer, match, path)
            if window is None:
                return match
            with self._lock:
                self._windows[key] = window
                while len(self._windows) > REFINED_WINDOWS:
                    self._windows.popitem(last=False)
        timestamps, rows_ = window
        if not len(timestamps):
            return match
        sims = live.descriptor.view_scores(query, rows_).max(axis=0)
        best = int(np.argmax(sims))
        if float(sims[best]) < match.score:
            return match
        return replace(match, score=float(sims[best]), timestamp_ms=int(timestamps[best]))

    def _window(
        self, live: Searchable, analyzer: ImageAnalyzer, match: VideoMatch, path: Path
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The stills every 0.1 s around ``match``'s sampled frame: their timestamps and rows
        in the searched space (none: no still there); None when the file cannot be read."""
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
            return None
        found = [a for a in analyzer.analyze_iter([s.image for s in stills])]
        good = [(s, a) for s, a in zip(stills, found, strict=True) if hasattr(a, "embedding")]
        if not good:
            return np.zeros(0, np.int64), np.zeros((0, 1), np.float32)
        timestamps = np.array([s.timestamp_ms for s, _a in good], np.int64)
        return timestamps, live.descriptor.transform(np.stack([a.embedding for _s, a in good]))


__all__ = ["REFINE_TOP", "VideoFrames", "VideoMatch"]
