"""Plain records the store answers with: no ORM object leaves the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from models.labels import merge_labels
from search.store.schema import Image

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
        }


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
    )
