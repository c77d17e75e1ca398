"""The store's reads and writes for descriptors: framed photos, learned state, samples.

One part of :class:`search.store.store.Store`, reached as an attribute of it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.exc import SQLAlchemyError

from models import CROP_REGIONS
from models.labels import merge_labels
from models.quality import FLAGS
from search.store.dialect import upsert
from search.store.records import FrameVector, ReadFactory, SessionFactory, decode_vector, utcnow
from search.store.schema import (
    DescriptorState,
    Embedding,
    Image,
    ImageCrops,
    ImageFrame,
    ImageLabel,
)
from search.store.write import FRAME_COLUMNS, frame_from_row

log = logging.getLogger(__name__)

# The candidates' reads of every image query: built once, with one expanding parameter, so
# that SQLAlchemy compiles each once and binds the ids as a list (a literal ``in_(ids)`` made
# a bound parameter per id on every call; 200 ids: 4.3-5.9 -> 3.6-4.0 ms CPU, bench/README.md).
_IDS = bindparam("ids", expanding=True)
_VECTORS = (
    select(Embedding.image_id, Embedding.vector, Image.quality_flags)
    .join(Image, Image.id == Embedding.image_id)
    .where(Embedding.image_id.in_(_IDS))
)
UNIFORM = FLAGS["uniform"]
_FRAMES = select(ImageFrame.image_id, *FRAME_COLUMNS).where(ImageFrame.image_id.in_(_IDS))
_LABELS = (
    select(ImageLabel.image_id, ImageLabel.label, ImageLabel.score)
    .where(ImageLabel.image_id.in_(_IDS))
    .order_by(ImageLabel.image_id, ImageLabel.rank)
)


class DescriptorRows:
    """One image's raw vector, framed photo (or None) and top labels, from the database;
    ``uniform``: its quality flags say it is almost one flat tone (models.quality)."""

    __slots__ = ("frame", "labels", "uniform", "vector")

    def __init__(
        self,
        vector: np.ndarray,
        frame: FrameVector | None = None,
        labels: list[tuple[str, float]] | None = None,
        uniform: bool = False,
    ) -> None:
        self.vector = vector
        self.uniform = uniform
        self.frame = frame
        self.labels = labels if labels is not None else []


class DescriptorRecords:
    """What the descriptor keeps (``store.descriptors``): learned state, framed photos, rows."""

    def __init__(self, session: SessionFactory, reading: ReadFactory) -> None:
        self._session, self._reading = session, reading

    # -- learned state ----------------------------------------------------------------------

    def get_state(self, key: str) -> tuple[str, bytes] | None:
        """``(fingerprint, data)`` stored under ``key``, or None."""
        with self._session() as session:
            row = session.get(DescriptorState, key)
            return (row.fingerprint, bytes(row.data)) if row is not None else None

    def set_state(self, key: str, fingerprint: str, data: bytes, *, optional: bool = False) -> None:
        """Store ``data`` under ``key``; ``optional``: a database that cannot be written (a
        read-only library) logs it instead of raising."""
        try:
            with self._session() as session:
                row = {"key": key, "fingerprint": fingerprint, "data": data}
                upsert(session, DescriptorState, row | {"created_at": utcnow()}, "key")
        except SQLAlchemyError as error:
            if not optional:
                raise
            log.info("%s not stored: %s", key, error)

    def delete_state(self, *keys: str) -> None:
        with self._session() as session:
            session.execute(delete(DescriptorState).where(DescriptorState.key.in_(keys)))

    # -- framed photos ----------------------------------------------------------------------

    def frame_count(self) -> int:
        with self._session() as session:
            return session.scalar(select(func.count()).select_from(ImageFrame)) or 0

    def frames(self, chunk: int = 20_000) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """``(ids, vectors [n, d], dominant bool[n])`` of the framed photos, in id order."""
        for rows in pages(
            self._session, ImageFrame.image_id, (ImageFrame.vector, ImageFrame.dominant), chunk
        ):
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vectors = np.stack([decode_vector(r[1]) for r in rows]).astype(np.float32)
            dominant = np.fromiter((bool(r[2]) for r in rows), dtype=bool, count=len(rows))
            yield ids, vectors, dominant

    def crop_count(self) -> int:
        with self._session() as session:
            return session.scalar(select(func.count()).select_from(ImageCrops)) or 0

    def crops(self, chunk: int = 20_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(ids, vectors [n, c, d])`` of the images' stored crops (``crops=on``), in id
        order."""
        for rows in pages(self._session, ImageCrops.image_id, (ImageCrops.vectors,), chunk):
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vectors = np.stack([decode_vector(r[1]) for r in rows]).astype(np.float32)
            yield ids, vectors.reshape(len(rows), len(CROP_REGIONS), -1)

    def rows(self, ids: Sequence[int], *, labels: bool = True) -> dict[int, DescriptorRows]:
        """Raw vectors, framed photos and labels of the images ``ids`` that have a vector."""
        if not len(ids):
            return {}
        ids = [int(i) for i in ids]
        out: dict[int, DescriptorRows] = {}
        with self._reading() as connection:
            for start in range(0, len(ids), 900):  # SQLite's bound-parameter limit
                part = {"ids": ids[start : start + 900]}
                for image_id, blob, flags in connection.execute(_VECTORS, part):
                    uniform = bool((flags or 0) & UNIFORM)
                    out[image_id] = DescriptorRows(decode_vector(blob), uniform=uniform)
                for row in connection.execute(_FRAMES, part):
                    if row[0] in out:
                        out[row[0]].frame = frame_from_row(row[1:])
                if labels:
                    for image_id, label, score in connection.execute(_LABELS, part):
                        if image_id in out:
                            out[image_id].labels.append((label, float(score)))
        if labels:  # libraries indexed before names were merged may list one twice
            for rows in out.values():
                rows.labels = merge_labels(rows.labels)
        return out

    def sample_ids(self, count: int, seed: int = 0) -> list[int]:
        """A seeded random sample of ``count`` ids of images with a vector (all when fewer)."""
        with self._session() as session:
            ids = np.fromiter(
                session.scalars(select(Embedding.image_id).order_by(Embedding.image_id)),
                dtype=np.int64,
            )
        if len(ids) <= count:
            return [int(i) for i in ids]
        rng = np.random.default_rng([seed, 0x5A3])
        return sorted(int(i) for i in rng.choice(ids, count, replace=False))


def pages(
    session_factory: SessionFactory, key: Any, columns: Sequence[Any], chunk: int
) -> Iterator[Sequence[Any]]:
    """Rows ``(key, *columns)`` in key order, ``chunk`` at a time (keyset pagination:
    each page is its own short read transaction)."""
    last = -1
    while True:
        with session_factory() as session:
            rows = session.execute(
                select(key, *columns).where(key > last).order_by(key).limit(chunk)
            ).all()
        if not rows:
            return
        last = rows[-1][0]
        yield rows
