"""Plain records that go in and out of the store: change sets, file states, stamps, the image
records it answers with (no ORM object leaves the store), and :class:`LibraryStore`, the
Protocol the rest of the code depends on (a PostgreSQL-specific or remote store implements it)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from search.store.descriptor_state import DescriptorRecords
    from search.store.health import HealthRecords
    from search.store.locks import DatabaseLocks
    from search.store.quality import QualityRecords
    from search.store.reads import ImageReads
    from search.store.removals import ExcludeRecords, RemovalRecords
    from search.store.runs import RunRecords
    from search.store.videos import VideoRecords

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from models.labels import merge_labels
from models.quality import flag_names
from search.store.schema import STATUS_OK, Image

VECTOR_DTYPE = np.dtype("<f4")

#: what the store's parts are given: ``with session() as s:`` is one transaction
SessionFactory = Callable[[], AbstractContextManager[Session]]
#: and for the query's hot reads (plain column statements): ``with reading() as c:``, one
#: connection without an ORM session (a session cost ~0.3 ms more than the statement)
ReadFactory = Callable[[], AbstractContextManager[Connection]]


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def encode_vector(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=VECTOR_DTYPE).tobytes()


def decode_vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=VECTOR_DTYPE)


MODEL_KEYS = ("model_name", "model_sha256", "model_dimension")
"""The library_meta keys of a :class:`ModelStamp`."""
MEASURE_COLUMNS = ("brightness", "contrast", "luma_p5", "luma_p95", "sharpness")
"""The images columns of the quality measures behind the flags (models.quality), in order."""


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
class VideoFrameVector:
    """A sampled frame of a video: its time, the end of the span of look-alike frames of its
    shot it stands for, its shot number and its vector."""

    timestamp_ms: int
    end_ms: int
    shot: int
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
    duration_ms: int | None = None  # videos only
    video_frames: Sequence[VideoFrameVector] = ()  # videos only: replaces the stored ones
    quality_flags: int | None = None  # models.quality bits; None = not measured
    brightness: float | None = None
    contrast: float | None = None
    luma_p5: float | None = None
    luma_p95: float | None = None
    sharpness: float | None = None
    layout: bytes | None = None  # models.image_layout; None = not read
    crops: np.ndarray | None = None  # [5, D] unit vectors of models.CROP_REGIONS (crops=on)

    def measured(self, flags: int | None, values: Sequence[float] | None) -> None:
        """Set the quality flags and their measures (brightness, contrast, luma_p5, luma_p95,
        sharpness); None leaves the image unmeasured."""
        self.quality_flags = flags
        known = values is not None and flags is not None
        self.brightness, self.contrast, self.luma_p5, self.luma_p95, self.sharpness = (
            (float(v) for v in values) if known else (None,) * 5  # type: ignore[union-attr]
        )


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
    #: (index run id, its figures with this batch): committed with it, so that a killed
    #: run's record counts what it wrote
    run: tuple[int, dict[str, int]] | None = None

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


Label = tuple[str, float]


def abs_path(root: str, rel_path: str) -> str:
    """A stored image's absolute path: its collection root joined with the POSIX rel_path."""
    return str(Path(root) / Path(*rel_path.split("/")))


def mtime_from_ns(mtime_ns: int) -> datetime:
    return datetime.fromtimestamp(mtime_ns / 1e9, tz=UTC)


def labels_to_json(labels: list[Label]) -> list[dict[str, Any]]:
    """``[(name, score)]`` -> ``[{"name": ..., "score": ...}]`` (the JSON form of labels)."""
    return [{"name": name, "score": round(float(score), 6)} for name, score in labels]


@dataclass(frozen=True)
class ImageInfo:
    """Everything the library knows about one image (indexed or failed)."""

    id: int
    path: str  # absolute: collection root + rel_path
    collection: str  # the collection's root directory
    collection_id: int
    rel_path: str
    file_size: int
    width: int | None
    height: int | None
    format: str | None
    mtime: datetime  # UTC, from the file's mtime when it was indexed
    sha256: str | None
    exif_datetime: datetime | None
    labels: list[Label]
    status: str
    error: str | None
    has_vector: bool = True
    pixel_sha256: str | None = None  # the decoded pixels' digest (not in the JSON form)
    duration_ms: int | None = None  # videos only
    quality_flags: int | None = None  # None = not measured
    #: brightness, contrast, luma_p5, luma_p95, sharpness (models.quality); None = not measured
    quality: tuple[float, ...] | None = None

    @property
    def media(self) -> str:
        return "image" if self.duration_ms is None else "video"

    @property
    def file_path(self) -> Path:
        return Path(self.path)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": self.path,
            "collection": self.collection,
            "collection_id": self.collection_id,
            "rel_path": self.rel_path,
            "file_size": self.file_size,
            "width": self.width,
            "height": self.height,
            "format": self.format,
            "mtime": self.mtime.isoformat(),
            "sha256": self.sha256,
            "exif_datetime": self.exif_datetime.isoformat() if self.exif_datetime else None,
            "labels": labels_to_json(self.labels),
            "status": self.status,
            "error": self.error,
            "media": self.media,
            "duration_ms": self.duration_ms,
            "flags": quality_flags_json(self.quality_flags),
            "quality": quality_json(self.quality),
        }


def quality_flags_json(bits: int | None) -> list[str] | None:
    """The flag names of a stored bit-set; None when the image was never measured."""
    return None if bits is None else flag_names(bits)


def quality_json(values: tuple[float, ...] | None) -> dict[str, float] | None:
    """The measures behind the flags (JSON form), or None when not measured."""
    if values is None:
        return None
    return {name: round(float(v), 4) for name, v in zip(MEASURE_COLUMNS, values, strict=True)}


@dataclass
class StoredImage:
    """The columns of an indexed image a hit needs (read in one query, no ORM objects)."""

    id: int
    collection_id: int
    root: str
    rel_path: str
    file_size: int
    width: int | None
    height: int | None
    format: str | None
    sha256: str | None
    pixel_sha256: str | None
    mtime_ns: int | None = None
    labels: list[Label] = field(default_factory=list)
    vector: np.ndarray | None = None
    duration_ms: int | None = None  # videos only
    quality_flags: int | None = None  # None = not measured
    exif_datetime: datetime | None = None  # its EXIF capture time

    @property
    def path(self) -> str:
        return abs_path(self.root, self.rel_path)


def info_from_row(row: Image, *, has_vector: bool, with_labels: bool = True) -> ImageInfo:
    """An :class:`ImageInfo` from an ORM row (``with_labels``: the row has them loaded)."""
    labels = (
        merge_labels((item.label, float(item.score)) for item in row.labels) if with_labels else []
    )
    return ImageInfo(
        id=row.id,
        path=abs_path(row.collection.root, row.rel_path),
        collection=row.collection.root,
        collection_id=row.collection_id,
        rel_path=row.rel_path,
        file_size=int(row.file_size),
        width=row.width,
        height=row.height,
        format=row.format,
        mtime=mtime_from_ns(row.mtime_ns),
        sha256=row.sha256,
        exif_datetime=row.exif_datetime,
        labels=labels,
        status=row.status,
        error=row.error,
        has_vector=has_vector,
        pixel_sha256=row.pixel_sha256,
        duration_ms=row.duration_ms,
        quality_flags=row.quality_flags,
        quality=None
        if row.quality_flags is None
        else tuple(float(getattr(row, name) or 0.0) for name in MEASURE_COLUMNS),
    )


class LibraryStore(Protocol):
    """A library database: the truth the FAISS cache is rebuilt from. Every write is one
    :meth:`apply` (one transaction, which moves :meth:`generation`); the reads are grouped
    by what they are about."""

    reads: ImageReads
    descriptors: DescriptorRecords
    removals: RemovalRecords
    excludes: ExcludeRecords
    runs: RunRecords
    health: HealthRecords
    videos: VideoRecords
    quality: QualityRecords
    locks: DatabaseLocks | None  # writers' locks in the database (PostgreSQL), else None
    read_only: bool  # opened read-only: nothing is written, caches stay in memory

    @property
    def library_id(self) -> str: ...
    def generation(self) -> int: ...
    def generation_token(self) -> tuple[int, str]: ...
    def searched_state(self, meta_keys: Sequence[str]) -> tuple[tuple[str, str | None], ...]: ...
    def model_stamp(self) -> ModelStamp | None: ...
    def bind_model(self, stamp: ModelStamp, *, replace: bool = False) -> None: ...
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...
    def set_meta_unless_busy(self, key: str, value: str) -> bool: ...
    def ensure_collection(self, root: Path) -> int: ...
    def collections(self) -> list[dict[str, object]]: ...
    def touch_collection(self, collection_id: int) -> None: ...
    def file_states(self, collection_id: int) -> dict[str, FileState]: ...
    def ids_by_sha256(self, sha256: str, *, indexed_only: bool = True) -> list[int]: ...
    def ids_by_pixel_sha256(self, pixel_sha256: str) -> list[int]: ...
    def apply(self, changes: ChangeSet) -> AppliedChanges: ...
    def vector_count(self) -> int: ...
    def iter_vectors(self, chunk: int = 20_000) -> Iterator[tuple[np.ndarray, np.ndarray]]: ...
    def counts(self) -> dict[str, int]: ...
    def close(self) -> None: ...
