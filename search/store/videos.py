"""Reads about videos: their sampled frames (time, span, shot, vector), for the frame matcher
of the query engine and the video duplicate finder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select

from search.store.records import VECTOR_DTYPE, SessionFactory
from search.store.schema import STATUS_OK, Image, VideoFrame


@dataclass(frozen=True)
class FrameTable:
    """Every sampled frame of the library's videos, in (video, time) order: the video's id,
    the frame's time and the end of its span, its shot, and its vector (raw, float32)."""

    video_ids: np.ndarray  # int64
    timestamps_ms: np.ndarray  # int64
    end_ms: np.ndarray  # int64
    shots: np.ndarray  # int32
    vectors: np.ndarray  # float32, (n, dimension)

    def __len__(self) -> int:
        return len(self.video_ids)

    def of(self, video_id: int) -> np.ndarray:
        """Row numbers of one video's frames."""
        return np.flatnonzero(self.video_ids == video_id)


class VideoRecords:
    """The ``video_frames`` table, read as a whole or per video."""

    def __init__(self, session: SessionFactory) -> None:
        self._session = session

    def frame_count(self) -> int:
        with self._session() as session:
            return session.scalar(select(func.count()).select_from(VideoFrame)) or 0

    def frames(self, video_ids: Sequence[int] | None = None) -> FrameTable:
        """The frames of indexed videos (all of them, or of ``video_ids``)."""
        query = (
            select(
                VideoFrame.image_id,
                VideoFrame.timestamp_ms,
                VideoFrame.end_ms,
                VideoFrame.shot,
                VideoFrame.vector,
            )
            .join(Image, Image.id == VideoFrame.image_id)
            .where(Image.status == STATUS_OK)
            .order_by(VideoFrame.image_id, VideoFrame.timestamp_ms)
        )
        if video_ids is not None:
            query = query.where(VideoFrame.image_id.in_([int(i) for i in video_ids]))
        with self._session() as session:
            rows = session.execute(query).all()
        if not rows:
            return FrameTable(*(np.zeros(0, np.int64) for _ in range(4)), np.zeros((0, 0), "f4"))
        vectors = np.stack([np.frombuffer(r[4], VECTOR_DTYPE) for r in rows]).astype(np.float32)
        return FrameTable(
            np.array([r[0] for r in rows], np.int64),
            np.array([r[1] for r in rows], np.int64),
            np.array([r[2] for r in rows], np.int64),
            np.array([r[3] for r in rows], np.int32),
            vectors,
        )

    def durations(self) -> dict[int, int]:
        """Indexed videos' durations in ms, by id."""
        query = select(Image.id, Image.duration_ms).where(
            Image.status == STATUS_OK, Image.duration_ms.is_not(None)
        )
        with self._session() as session:
            return {int(i): int(d) for i, d in session.execute(query)}
