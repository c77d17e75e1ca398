"""The store: the library database (SQLAlchemy), the source of truth. Every SQL statement of
the project lives in this package, behind methods named for what they answer."""

from __future__ import annotations

from search.store.descriptor_state import DescriptorRows
from search.store.errors import (
    LibraryBusyError,
    LibraryError,
    LibraryNotFoundError,
    ModelMismatchError,
    ReindexingError,
    SchemaError,
)
from search.store.health import ServingState, check_database, recovery
from search.store.migrate import peek_meta
from search.store.protocol import LibraryStore
from search.store.records import (
    AppliedChanges,
    ChangeSet,
    FileState,
    FrameVector,
    ImageInfo,
    ImageMove,
    ImageUpsert,
    Label,
    ModelStamp,
    StoredImage,
    VideoFrameVector,
    labels_to_json,
    mtime_from_ns,
)
from search.store.removals import Removal, at_or_below, removed_tops
from search.store.schema import (
    STATUS_FAILED,
    STATUS_OK,
    Base,
    Embedding,
    Image,
    ImageFrame,
    IndexRun,
    VideoFrame,
)
from search.store.store import Store, make_engine, printable_url
from search.store.videos import FrameTable, VideoRecords

__all__ = [
    "STATUS_FAILED",
    "STATUS_OK",
    "AppliedChanges",
    "Base",
    "ChangeSet",
    "DescriptorRows",
    "Embedding",
    "FileState",
    "FrameTable",
    "FrameVector",
    "Image",
    "ImageFrame",
    "ImageInfo",
    "ImageMove",
    "ImageUpsert",
    "IndexRun",
    "Label",
    "LibraryBusyError",
    "LibraryError",
    "LibraryNotFoundError",
    "LibraryStore",
    "ModelMismatchError",
    "ModelStamp",
    "ReindexingError",
    "Removal",
    "SchemaError",
    "ServingState",
    "Store",
    "StoredImage",
    "VideoFrame",
    "VideoFrameVector",
    "VideoRecords",
    "at_or_below",
    "check_database",
    "labels_to_json",
    "make_engine",
    "mtime_from_ns",
    "peek_meta",
    "printable_url",
    "recovery",
    "removed_tops",
]
