"""The store: the library database (SQLAlchemy), the source of truth. Every SQL statement of
the project lives in this package, behind methods named for what they answer.

Names load on first use (PEP 562): importing the package costs nothing until a name
is used."""

from __future__ import annotations

from typing import TYPE_CHECKING

from search.lazy import lazy_names

_SOURCES: dict[str, str] = {
    "DescriptorRows": "search.store.descriptor_state",
    "backup_name": "search.store.backups",
    "backup_sqlite": "search.store.backups",
    "LibraryBusyError": "search.store.errors",
    "LibraryError": "search.store.errors",
    "LibraryNotFoundError": "search.store.errors",
    "require_database": "search.store.errors",
    "sqlite_file": "search.store.errors",
    "LibraryReadOnlyError": "search.store.errors",
    "ModelMismatchError": "search.store.errors",
    "ReindexingError": "search.store.errors",
    "SchemaError": "search.store.errors",
    "ServingState": "search.store.health",
    "check_database": "search.store.health",
    "checked_sqlite": "search.store.health",
    "is_schema_mismatch": "search.store.health",
    "recovery": "search.store.health",
    "peek_meta": "search.store.migrate",
    "DatabaseLocks": "search.store.locks",
    "database_locks": "search.store.locks",
    "LibraryStore": "search.store.records",
    "AppliedChanges": "search.store.records",
    "ChangeSet": "search.store.records",
    "FileState": "search.store.records",
    "FrameVector": "search.store.records",
    "ImageInfo": "search.store.records",
    "ImageMove": "search.store.records",
    "ImageUpsert": "search.store.records",
    "Label": "search.store.records",
    "ModelStamp": "search.store.records",
    "StoredImage": "search.store.records",
    "labels_to_json": "search.store.records",
    "quality_flags_json": "search.store.records",
    "quality_json": "search.store.records",
    "QualityRecords": "search.store.quality",
    "UnmeasuredImage": "search.store.quality",
    "mtime_from_ns": "search.store.records",
    "Removal": "search.store.removals",
    "at_or_below": "search.store.removals",
    "by_path": "search.store.removals",
    "removed_tops": "search.store.removals",
    "RUNNING": "search.store.runs",
    "INTERRUPTED": "search.store.runs",
    "RunRecord": "search.store.runs",
    "RunRecords": "search.store.runs",
    "Base": "search.store.schema",
    "Embedding": "search.store.schema",
    "Image": "search.store.schema",
    "ImageFrame": "search.store.schema",
    "IndexRun": "search.store.schema",
    "STATUS_FAILED": "search.store.schema",
    "STATUS_OK": "search.store.schema",
    "Store": "search.store.store",
    "cached_summary": "search.store.summary",
    "save_summary": "search.store.summary",
    "summary_stamp": "search.store.summary",
    "make_engine": "search.store.connect",
    "read_only_engine": "search.store.read_only",
    "read_only_file": "search.store.read_only",
    "printable_url": "search.store.connect",
    "VideoFrameVector": "search.store.records",
    "VideoFrame": "search.store.schema",
    "FrameTable": "search.store.videos",
    "VideoRecords": "search.store.videos",
}

__all__ = [
    "INTERRUPTED",
    "RUNNING",
    "STATUS_FAILED",
    "STATUS_OK",
    "AppliedChanges",
    "Base",
    "ChangeSet",
    "DatabaseLocks",
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
    "LibraryReadOnlyError",
    "LibraryStore",
    "ModelMismatchError",
    "ModelStamp",
    "QualityRecords",
    "ReindexingError",
    "Removal",
    "RunRecord",
    "RunRecords",
    "SchemaError",
    "ServingState",
    "Store",
    "StoredImage",
    "UnmeasuredImage",
    "VideoFrame",
    "VideoFrameVector",
    "VideoRecords",
    "at_or_below",
    "backup_name",
    "backup_sqlite",
    "by_path",
    "cached_summary",
    "check_database",
    "checked_sqlite",
    "database_locks",
    "is_schema_mismatch",
    "labels_to_json",
    "make_engine",
    "mtime_from_ns",
    "peek_meta",
    "printable_url",
    "quality_flags_json",
    "quality_json",
    "read_only_engine",
    "read_only_file",
    "recovery",
    "removed_tops",
    "require_database",
    "save_summary",
    "sqlite_file",
    "summary_stamp",
]


__getattr__, __dir__ = lazy_names(__name__, _SOURCES, globals())

if TYPE_CHECKING:  # type checkers and IDEs see the names eagerly
    from search.store.backups import backup_name, backup_sqlite
    from search.store.connect import make_engine, printable_url
    from search.store.descriptor_state import DescriptorRows
    from search.store.errors import (
        LibraryBusyError,
        LibraryError,
        LibraryNotFoundError,
        LibraryReadOnlyError,
        ModelMismatchError,
        ReindexingError,
        SchemaError,
        require_database,
        sqlite_file,
    )
    from search.store.health import (
        ServingState,
        check_database,
        checked_sqlite,
        is_schema_mismatch,
        recovery,
    )
    from search.store.locks import DatabaseLocks, database_locks
    from search.store.migrate import peek_meta
    from search.store.read_only import read_only_engine, read_only_file
    from search.store.records import (
        AppliedChanges,
        ChangeSet,
        FileState,
        FrameVector,
        ImageInfo,
        ImageMove,
        ImageUpsert,
        Label,
        LibraryStore,
        ModelStamp,
        StoredImage,
        VideoFrameVector,
        labels_to_json,
        mtime_from_ns,
        quality_flags_json,
        quality_json,
    )
    from search.store.removals import Removal, at_or_below, by_path, removed_tops
    from search.store.runs import INTERRUPTED, RUNNING, RunRecord, RunRecords
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
    from search.store.store import Store
    from search.store.summary import cached_summary, save_summary, summary_stamp
    from search.store.videos import FrameTable, VideoRecords
