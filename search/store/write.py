"""The store's write path: one change set, one transaction, a handful of set-based statements."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy import delete, func, insert, select, tuple_, update
from sqlalchemy.orm import Session

from search.store.dialect import next_generation, set_meta
from search.store.errors import ModelMismatchError
from search.store.records import (
    MEASURE_COLUMNS,
    MODEL_KEYS,
    AppliedChanges,
    ChangeSet,
    FrameVector,
    ImageUpsert,
    ModelStamp,
    decode_vector,
    encode_vector,
    utcnow,
)
from search.store.schema import (
    STATUS_OK,
    DescriptorState,
    Embedding,
    Image,
    ImageCrops,
    ImageFrame,
    ImageLabel,
    IndexRun,
    LibraryMeta,
    VideoFrame,
)

_IMAGE_FIELDS = (
    "file_size",
    "mtime_ns",
    "sha256",
    "pixel_sha256",
    "width",
    "height",
    "format",
    "exif_datetime",
    "status",
    "error",
    "duration_ms",
    "quality_flags",
    *MEASURE_COLUMNS,
    "layout",
)


def _check_vector(vector: np.ndarray, stamp: ModelStamp | None) -> None:
    if stamp is None:
        raise ModelMismatchError("the library has no model recorded; bind a model first")
    if vector.shape != (stamp.dimension,):
        raise ModelMismatchError(
            f"vector of shape {vector.shape} does not fit the library's {stamp.name} "
            f"({stamp.dimension} dimensions)"
        )


def model_stamp_in(session: Session) -> ModelStamp | None:
    rows = {
        r.key: r.value
        for r in session.scalars(select(LibraryMeta).where(LibraryMeta.key.in_(MODEL_KEYS)))
    }
    if "model_name" not in rows:
        return None
    return ModelStamp(rows["model_name"], rows["model_sha256"], int(rows["model_dimension"]))


def record_model_in(session: Session, stamp: ModelStamp) -> None:
    """Record ``stamp`` as the library's model (what :func:`model_stamp_in` reads)."""
    set_meta(session, "model_name", stamp.name)
    set_meta(session, "model_sha256", stamp.sha256)
    set_meta(session, "model_dimension", str(stamp.dimension))


def clear_embeddings_in(session: Session) -> int:
    """Drop every vector and what was learned from them (a model switch:
    :meth:`HealthRecords.begin_reindex`); the number of vectors dropped."""
    count = session.scalar(select(func.count()).select_from(Embedding)) or 0
    for table in (Embedding, ImageFrame, ImageCrops, VideoFrame, DescriptorState, ImageLabel):
        session.execute(delete(table))
    session.execute(delete(LibraryMeta).where(LibraryMeta.key.in_(MODEL_KEYS)))
    next_generation(session)
    return count


def apply_changes(session: Session, changes: ChangeSet) -> AppliedChanges:
    """Write a batch in one transaction and move the generation; return the index delta.

    Set-based: a handful of statements per batch, not several per image, so the writer
    keeps up with the embedder. Order matters: removals free paths that moves may take.
    """
    stamp = model_stamp_in(session)
    result = AppliedChanges(generation=0)
    if changes.removals:
        present = set(session.scalars(select(Image.id).where(Image.id.in_(changes.removals))))
        if present:
            session.execute(delete(Image).where(Image.id.in_(present)))  # FK cascades
        result.removed += [i for i in changes.removals if i in present]
    if changes.moves:
        session.execute(
            update(Image),
            [
                {
                    "id": m.image_id,
                    "collection_id": m.collection_id,
                    "rel_path": m.rel_path,
                    "file_size": m.file_size,
                    "mtime_ns": m.mtime_ns,
                }
                for m in changes.moves
            ],
        )
    if changes.upserts:
        _upsert_all(session, changes.upserts, stamp, result)
    if changes.run is not None:
        run_id, figures = changes.run
        session.execute(update(IndexRun).where(IndexRun.id == run_id).values(**figures))
    result.generation = next_generation(session)
    return result


def _upsert_all(
    session: Session,
    upserts: Sequence[ImageUpsert],
    stamp: ModelStamp | None,
    result: AppliedChanges,
) -> None:
    keys = [(u.collection_id, u.rel_path) for u in upserts]
    ids = dict(
        ((c, r), i)
        for i, c, r in session.execute(
            select(Image.id, Image.collection_id, Image.rel_path).where(
                tuple_(Image.collection_id, Image.rel_path).in_(keys)
            )
        )
    )
    now = utcnow()
    layouts = _source_layouts(session, upserts)
    rows = [
        {name: getattr(u, name) for name in _IMAGE_FIELDS}
        | {"indexed_at": now, "collection_id": u.collection_id, "rel_path": u.rel_path}
        | ({"layout": layouts.get(u.copy_vector_from)} if u.layout is None else {})
        | ({"error": u.error.replace("\x00", "\\x00")} if u.error else {})  # PostgreSQL text
        for u in upserts
    ]
    updates = [{"id": ids[k], **row} for k, row in zip(keys, rows, strict=True) if k in ids]
    if updates:
        session.execute(update(Image), updates)
    inserts = [row for k, row in zip(keys, rows, strict=True) if k not in ids]
    if inserts:
        table = Image.__table__
        returning = insert(table).returning(
            table.c.id, table.c.collection_id, table.c.rel_path, sort_by_parameter_order=True
        )
        for i, c, r in session.execute(returning, inserts):
            ids[(c, r)] = i
    image_ids = [ids[k] for k in keys]
    session.execute(delete(ImageLabel).where(ImageLabel.image_id.in_(image_ids)))
    session.execute(delete(Embedding).where(Embedding.image_id.in_(image_ids)))
    session.execute(delete(ImageFrame).where(ImageFrame.image_id.in_(image_ids)))
    session.execute(delete(ImageCrops).where(ImageCrops.image_id.in_(image_ids)))
    session.execute(delete(VideoFrame).where(VideoFrame.image_id.in_(image_ids)))
    source_vectors, source_labels, source_frames = _copy_sources(session, upserts)
    embeddings: list[dict[str, object]] = []
    labels: list[dict[str, object]] = []
    frames: list[dict[str, object]] = []
    crops: list[dict[str, object]] = []
    source_crops = _source_crops(session, upserts)
    for image_id, upsert in zip(image_ids, upserts, strict=True):
        result.upserted_ids.append(image_id)
        vector, image_labels, frame = upsert.vector, list(upsert.labels), upsert.frame
        if upsert.copy_vector_from is not None and vector is None:
            blob = source_vectors.get(upsert.copy_vector_from)
            vector = decode_vector(blob).copy() if blob is not None else None
            image_labels = image_labels or source_labels.get(upsert.copy_vector_from, [])
            frame = frame or source_frames.get(upsert.copy_vector_from)
        if upsert.status != STATUS_OK or vector is None:
            result.removed.append(image_id)
            continue
        _check_vector(vector, stamp)
        assert stamp is not None
        if frame is not None:
            _check_vector(frame.vector, stamp)
            frames.append(frame_row(image_id, frame))
            result.frames[image_id] = frame
        if upsert.crops is not None:
            _check_vector(upsert.crops[0], stamp)
            crops.append({"image_id": image_id, "vectors": encode_vector(upsert.crops.ravel())})
        elif (blob := source_crops.get(upsert.copy_vector_from or 0)) is not None:
            crops.append({"image_id": image_id, "vectors": blob})
        embeddings.append(
            {
                "image_id": image_id,
                "model_name": stamp.name,
                "model_sha256": stamp.sha256,
                "dimension": stamp.dimension,
                "vector": encode_vector(vector),
                "created_at": now,
            }
        )
        labels += [
            {"image_id": image_id, "rank": rank, "label": label, "score": float(score)}
            for rank, (label, score) in enumerate(image_labels)
        ]
        result.vectors[image_id] = np.asarray(vector, dtype=np.float32)
    if embeddings:
        session.execute(insert(Embedding.__table__), embeddings)
    if labels:
        session.execute(insert(ImageLabel.__table__), labels)
    if frames:
        session.execute(insert(ImageFrame.__table__), frames)
    if crops:
        session.execute(insert(ImageCrops.__table__), crops)
    video_rows = [
        {
            "image_id": image_id,
            "timestamp_ms": int(f.timestamp_ms),
            "end_ms": int(f.end_ms),
            "shot": int(f.shot),
            "vector": encode_vector(f.vector),
        }
        for image_id, upsert in zip(image_ids, upserts, strict=True)
        if upsert.status == STATUS_OK
        for f in upsert.video_frames
    ]
    if video_rows:
        session.execute(insert(VideoFrame.__table__), video_rows)


def frame_row(image_id: int, frame: FrameVector) -> dict[str, object]:
    left, top, right, bottom = (float(v) for v in frame.box)
    return {
        "image_id": image_id,
        "left": left,
        "top": top,
        "right": right,
        "bottom": bottom,
        "fill": float(frame.fill),
        "dominant": bool(frame.dominant),
        "vector": encode_vector(frame.vector),
    }


def frame_from_row(row: ImageFrame | tuple) -> FrameVector:  # type: ignore[type-arg]
    """A :class:`FrameVector` from an ``image_frames`` row (ORM object or column tuple
    ``left, top, right, bottom, fill, dominant, vector``)."""
    if isinstance(row, ImageFrame):
        row = (row.left, row.top, row.right, row.bottom, row.fill, row.dominant, row.vector)
    left, top, right, bottom, fill, dominant, blob = row
    return FrameVector((left, top, right, bottom), fill, bool(dominant), decode_vector(blob).copy())


FRAME_COLUMNS = (
    ImageFrame.left,
    ImageFrame.top,
    ImageFrame.right,
    ImageFrame.bottom,
    ImageFrame.fill,
    ImageFrame.dominant,
    ImageFrame.vector,
)


def _source_layouts(session: Session, upserts: Sequence[ImageUpsert]) -> dict[int, bytes]:
    """The grey-level layouts of the images that byte-identical copies reuse."""
    sources = {u.copy_vector_from for u in upserts if u.copy_vector_from and u.layout is None}
    if not sources:
        return {}
    query = select(Image.id, Image.layout).where(Image.id.in_(sources), Image.layout.is_not(None))
    return {int(i): bytes(b) for i, b in session.execute(query)}


def _source_crops(session: Session, upserts: Sequence[ImageUpsert]) -> dict[int, bytes]:
    """The crops' vectors of the images that byte-identical copies reuse."""
    sources = {u.copy_vector_from for u in upserts if u.copy_vector_from and u.crops is None}
    if not sources:
        return {}
    query = select(ImageCrops.image_id, ImageCrops.vectors).where(ImageCrops.image_id.in_(sources))
    return {int(i): bytes(b) for i, b in session.execute(query)}


def _copy_sources(
    session: Session, upserts: Sequence[ImageUpsert]
) -> tuple[dict[int, bytes], dict[int, list[tuple[str, float]]], dict[int, FrameVector]]:
    """Vectors, labels and framed photos of the images that byte-identical copies reuse."""
    sources = {u.copy_vector_from for u in upserts if u.copy_vector_from is not None}
    if not sources:
        return {}, {}, {}
    vectors = dict(
        session.execute(
            select(Embedding.image_id, Embedding.vector).where(Embedding.image_id.in_(sources))
        ).all()
    )
    labels: dict[int, list[tuple[str, float]]] = {}
    for image_id, label, score in session.execute(
        select(ImageLabel.image_id, ImageLabel.label, ImageLabel.score)
        .where(ImageLabel.image_id.in_(sources))
        .order_by(ImageLabel.image_id, ImageLabel.rank)
    ):
        labels.setdefault(image_id, []).append((label, score))
    frames = {
        row[0]: frame_from_row(row[1:])
        for row in session.execute(
            select(ImageFrame.image_id, *FRAME_COLUMNS).where(ImageFrame.image_id.in_(sources))
        )
    }
    return vectors, labels, frames
