"""The columns search hits need, read for many images in one transaction (the hot path)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select

from models.labels import merge_labels
from search.query.results import StoredImage
from search.store.schema import STATUS_OK, Collection, Image, ImageLabel
from search.store.store import Store


def hit_rows(store: Store, ids: Sequence[int]) -> dict[int, StoredImage]:
    """Indexed images (status ok) by id with their labels: plain column queries in one read
    transaction, no ORM objects."""
    if not len(ids):
        return {}
    ids = [int(i) for i in ids]
    columns = [
        Image.id,
        Image.collection_id,
        Collection.root,
        Image.rel_path,
        Image.file_size,
        Image.width,
        Image.height,
        Image.format,
        Image.sha256,
        Image.pixel_sha256,
        Image.mtime_ns,
    ]
    out: dict[int, StoredImage] = {}
    with store.session() as session:
        for start in range(0, len(ids), 900):  # SQLite's bound-parameter limit
            part = ids[start : start + 900]
            query = (
                select(*columns)
                .join(Collection, Collection.id == Image.collection_id)
                .where(Image.id.in_(part), Image.status == STATUS_OK)
            )
            for row in session.execute(query):
                out[row[0]] = StoredImage(*row)
            labels = (
                select(ImageLabel.image_id, ImageLabel.label, ImageLabel.score)
                .where(ImageLabel.image_id.in_(part))
                .order_by(ImageLabel.image_id, ImageLabel.rank)
            )
            for image_id, label, score in session.execute(labels):
                if image_id in out:
                    out[image_id].labels.append((label, float(score)))
    for row in out.values():  # libraries indexed before names were merged may list one twice
        row.labels = merge_labels(row.labels)
    return out


def newest_ids(store: Store, offset: int, limit: int) -> tuple[list[int], int]:
    """A page of the indexed images, newest file first (modification time, then id), and
    how many there are in all."""
    query = (
        select(Image.id)
        .where(Image.status == STATUS_OK)
        .order_by(Image.mtime_ns.desc(), Image.id.desc())
        .offset(int(offset))
        .limit(int(limit))
    )
    with store.session() as session:
        total = session.scalar(
            select(func.count()).select_from(Image).where(Image.status == STATUS_OK)
        )
        return [int(i) for i in session.scalars(query)], int(total or 0)
