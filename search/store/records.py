"""Plain records that go in and out of the store: change sets, file states, stamps."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from sqlalchemy.orm import Session

from search.store.schema import STATUS_OK

VECTOR_DTYPE = np.dtype("<f4")

#: what the store's parts are given: ``with session() as s:`` is one transaction
SessionFactory = Callable[[], AbstractContextManager[Session]]


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def encode_vector(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=VECTOR_DTYPE).tobytes()


def decode_vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=VECTOR_DTYPE)


@dataclass(frozen=True)
class ModelStamp:
    name: str
    sha256: str
    dimension: int


@dataclass(frozen=True)
class FrameVector:
    """The photo inside a frame: box (left, top, right, bottom as fractions of the image),
    how solidly the photo fills it, whether the frame dominates the canvas, its vector."""

    box: tuple[float, float, float, float]
    fill: float
    dominant: bool
    vector: np.ndarray


@dataclass(frozen=True)
class FileState:
    """What the store knows of a file, enough to decide whether it changed."""

    id: int
    rel_path: str
    file_size: int
    mtime_ns: int
    sha256: str | None
    status: str


@dataclass
class ImageUpsert:
    """A file to insert or update; ``vector`` None with ``copy_vector_from`` reuses a vector."""

    collection_id: int
    rel_path: str
    file_size: int
    mtime_ns: int
    sha256: str | None
    status: str = STATUS_OK
    error: str | None = None
    pixel_sha256: str | None = None
    width: int | None = None
    height: int | None = None
    format: str | None = None
    exif_datetime: datetime | None = None
    vector: np.ndarray | None = None
    labels: Sequence[tuple[str, float]] = ()
    frame: FrameVector | None = None
    copy_vector_from: int | None = None


@dataclass(frozen=True)
class ImageMove:
    """A file that moved or was renamed: same bytes, new place, same id and vector."""

    image_id: int
    collection_id: int
    rel_path: str
    file_size: int
    mtime_ns: int


@dataclass
class ChangeSet:
    upserts: list[ImageUpsert] = field(default_factory=list)
    moves: list[ImageMove] = field(default_factory=list)
    removals: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.upserts or self.moves or self.removals)


@dataclass
class AppliedChanges:
    """What a committed change set means for the vector index."""

    generation: int
    vectors: dict[int, np.ndarray] = field(default_factory=dict)  # ids to add or replace
    frames: dict[int, FrameVector] = field(default_factory=dict)  # framed ones among them
    removed: list[int] = field(default_factory=list)  # ids to drop from the index
    upserted_ids: list[int] = field(default_factory=list)
