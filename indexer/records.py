"""The records an index run hands the writer: a file embedded, copied or failed."""

from __future__ import annotations

from indexer.plan import WorkItem, WorkKind
from indexer.reading import FileRead
from indexer.writer import Record, error_text
from models import Analysis, ImageError
from search.store import STATUS_FAILED, FrameVector, ImageUpsert

__all__ = ["embedded_record", "failed_record", "ok_outcome", "upsert_of"]


def ok_outcome(item: WorkItem) -> str:
    return "added" if item.kind is WorkKind.NEW else "updated"


def upsert_of(item: WorkItem, read: FileRead) -> ImageUpsert:
    return ImageUpsert(
        collection_id=item.collection_id,
        rel_path=item.found.rel_path,
        file_size=read.size,
        mtime_ns=read.mtime_ns,
        sha256=read.sha256,
    )


def failed_record(item: WorkItem, read: FileRead | None, exc: BaseException) -> Record:
    found = item.found
    upsert = ImageUpsert(
        collection_id=item.collection_id,
        rel_path=found.rel_path,
        file_size=read.size if read else found.size,
        mtime_ns=read.mtime_ns if read else found.mtime_ns,
        sha256=read.sha256 if read else None,
        status=STATUS_FAILED,
        error=error_text(exc),
    )
    return Record("failed", str(found.path), upsert=upsert, error=upsert.error)


def embedded_record(
    item: WorkItem, read: FileRead, result: Analysis | ImageError, copied: bool = False
) -> Record:
    if isinstance(result, ImageError):
        return failed_record(item, read, result)
    upsert = upsert_of(item, read)
    upsert.width, upsert.height = result.width, result.height
    upsert.format, upsert.exif_datetime = result.format, result.exif_datetime
    upsert.vector, upsert.labels = result.embedding, result.labels
    q = result.quality
    if q is not None:
        upsert.measured(q.flags, q.values)
    upsert.layout = result.layout
    upsert.crops = result.crop_embeddings
    box = result.frame_box
    if box is not None and result.frame_embedding is not None:
        upsert.frame = FrameVector(
            (box.left, box.top, box.right, box.bottom),
            box.fill,
            box.dominant,
            result.frame_embedding,
        )
    return Record(ok_outcome(item), item.found.rel_path, upsert=upsert, copied=copied)
