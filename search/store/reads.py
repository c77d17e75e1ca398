"""The store's reads about images: hit columns (the hot path), records, pages, lookups.

One part of :class:`search.store.store.Store`, reached as ``store.reads``. Every answer is a
plain record (:mod:`search.store.records`) or plain values; no ORM object leaves the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import selectinload

from models.labels import merge_labels
from search.store import labels as label_queries
from search.store.quality import flag_condition
from search.store.records import (
    ImageInfo,
    ReadFactory,
    SessionFactory,
    StoredImage,
    info_from_row,
)
from search.store.schema import (
    STATUS_FAILED,
    STATUS_OK,
    Collection,
    Embedding,
    Image,
    ImageFrame,
    ImageLabel,
)

BOUND_PARAMETERS = 900  # ids per IN (...): below SQLite's bound-parameter limit
# Every image query's reads, built once (ids bound as one expanding list, as
# search.store.descriptor_state's): building a statement on each call cost as much as running
# it (file_of, asked per candidate by the key-point witness: 370 -> 150 us a call).
_IDS = bindparam("ids", expanding=True)
_FILE_OF = (
    select(
        Collection.root, Image.rel_path, Image.sha256, Image.format, Image.file_size, Image.mtime_ns
    )
    .join(Collection, Collection.id == Image.collection_id)
    .where(Image.id == bindparam("image_id"))
)
_HIT_ROWS = (
    select(
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
        Image.duration_ms,  # videos only
        Image.quality_flags,
        Image.exif_datetime,
    )
    .join(Collection, Collection.id == Image.collection_id)
    .where(Image.id.in_(_IDS), Image.status == STATUS_OK)
)
_HIT_LABELS = (
    select(ImageLabel.image_id, ImageLabel.label, ImageLabel.score)
    .where(ImageLabel.image_id.in_(_IDS))
    .order_by(ImageLabel.image_id, ImageLabel.rank)
)
_SHAPED_LAYOUTS = select(Image.id, Image.layout, Image.width, Image.height).where(
    Image.id.in_(_IDS), Image.layout.is_not(None)
)


def _parts(ids: Sequence[int]) -> list[list[int]]:
    ids = [int(i) for i in ids]
    return [ids[i : i + BOUND_PARAMETERS] for i in range(0, len(ids), BOUND_PARAMETERS)]


class ImageReads:
    """Reads about images (``store.reads``)."""

    def __init__(self, session: SessionFactory, reading: ReadFactory) -> None:
        self._session, self._reading = session, reading

    # -- the query hot path -----------------------------------------------------------------

    def hit_rows(self, ids: Sequence[int], *, labels: bool = True) -> dict[int, StoredImage]:
        """Indexed images (status ok) by id with their labels (``labels=False``: without, for
        a caller that read them already): plain column queries in one read transaction, no
        ORM objects."""
        out: dict[int, StoredImage] = {}
        with self._reading() as connection:
            for part in _parts(ids):
                for row in connection.execute(_HIT_ROWS, {"ids": part}):
                    *columns, duration, flags, taken = row
                    out[row[0]] = StoredImage(
                        *columns, duration_ms=duration, quality_flags=flags, exif_datetime=taken
                    )
                if not labels:
                    continue
                for image_id, label, score in connection.execute(_HIT_LABELS, {"ids": part}):
                    if image_id in out:
                        out[image_id].labels.append((label, float(score)))
        for row in out.values():  # libraries indexed before names were merged may list one twice
            row.labels = merge_labels(row.labels)
        return out

    def newest(
        self, offset: int, limit: int, *, include: int = 0, exclude: int = 0
    ) -> tuple[list[int], int]:
        """A page of the indexed images, newest file first (modification time, then id), and
        how many there are in all; ``include`` / ``exclude``: quality flag bits (at least one
        of, none of; :func:`search.store.quality.flag_condition`)."""
        where = [Image.status == STATUS_OK]
        flags = flag_condition(include, exclude)
        if flags is not None:
            where.append(flags)
        query = (
            select(Image.id)
            .where(*where)
            .order_by(Image.mtime_ns.desc(), Image.id.desc())
            .offset(int(offset))
            .limit(int(limit))
        )
        with self._session() as session:
            total = session.scalar(select(func.count()).select_from(Image).where(*where))
            return [int(i) for i in session.scalars(query)], int(total or 0)

    def search_labels(self, word: str, limit: int = 50) -> list[tuple[int, str, float]]:
        """Images with a top label that has the words of ``word`` as whole words (see
        :mod:`search.store.labels`): (image id, best matching label, its score)."""
        with self._session() as session:
            return label_queries.search_labels(session, word, limit)

    def count_labels(self, word: str) -> int:
        """How many indexed images :meth:`search_labels` finds in all."""
        with self._session() as session:
            return label_queries.count_labels(session, word)

    # -- records ----------------------------------------------------------------------------

    def images(self, ids: Sequence[int]) -> dict[int, ImageInfo]:
        """Everything known about the images ``ids`` (indexed or failed), by id."""
        out: dict[int, ImageInfo] = {}
        with self._session() as session:
            for part in _parts(ids):
                with_vector = set(
                    session.scalars(select(Embedding.image_id).where(Embedding.image_id.in_(part)))
                )
                rows = session.scalars(
                    select(Image)
                    .where(Image.id.in_(part))
                    .options(selectinload(Image.collection), selectinload(Image.labels))
                )
                for row in rows:
                    out[row.id] = info_from_row(row, has_vector=row.id in with_vector)
        return out

    def image(self, image_id: int) -> ImageInfo | None:
        return self.images([image_id]).get(int(image_id))

    def layouts(self, ids: Sequence[int]) -> dict[int, bytes]:
        """The grey-level layouts (``models.image_layout``) of the images ``ids`` that have
        one, by id."""
        return {i: layout for i, (layout, _) in self.shaped_layouts(ids).items()}

    def shaped_layouts(self, ids: Sequence[int]) -> dict[int, tuple[bytes, float]]:
        """The layouts of the images ``ids`` that have one with their images' width / height
        (0.0 where unknown), by id."""
        out: dict[int, tuple[bytes, float]] = {}
        with self._session() as session:
            for part in _parts(ids):
                out.update(
                    (int(i), (bytes(b), w / h if w and h else 0.0))
                    for i, b, w, h in session.execute(_SHAPED_LAYOUTS, {"ids": part})
                )
        return out

    def all_layouts(self, limit: int) -> tuple[list[int], list[bytes]] | None:
        """Ids and grey-level layouts of every indexed still image that has one, by id; None
        when there are more than ``limit`` (nothing more is read)."""
        where = (Image.layout.is_not(None), Image.status == STATUS_OK)
        with self._session() as session:
            if int(session.scalar(select(func.count()).where(*where)) or 0) > limit:
                return None
            rows = session.execute(select(Image.id, Image.layout).where(*where).order_by(Image.id))
            found = [(int(i), bytes(b)) for i, b in rows]
        return [i for i, _ in found], [b for _, b in found]

    def image_id_at(self, path: Path) -> int | None:
        """The id of the image stored for an absolute file path, if a collection holds it."""
        target = Path(path).resolve()
        with self._session() as session:
            for collection_id, root in session.execute(
                select(Collection.id, Collection.root).order_by(Collection.id)
            ):
                if not target.is_relative_to(root):
                    continue
                found = session.scalar(
                    select(Image.id).where(
                        Image.collection_id == collection_id,
                        Image.rel_path == target.relative_to(root).as_posix(),
                    )
                )
                if found is not None:
                    return int(found)
        return None

    def failed(self, limit: int = 200) -> list[ImageInfo]:
        """Files that could not be indexed, with their error (labels not read)."""
        with self._session() as session:
            rows = session.scalars(
                select(Image)
                .where(Image.status == STATUS_FAILED)
                .options(selectinload(Image.collection))
                .order_by(Image.id)
                .limit(limit)
            )
            return [info_from_row(row, has_vector=False, with_labels=False) for row in rows]

    def unreadable_in(self, collection_id: int, fixed: Sequence[str] = ()) -> set[int]:
        """Ids of the collection's files that failed because they could not be read (a
        permission, an I/O error): worth another try at every run, unlike a bad image; and
        those whose failure's message holds any of ``fixed`` (a package missing then, installed
        now: :func:`models.fixed_by_installed`)."""
        reasons = [Image.error.like("unreadable:%")]
        reasons += [Image.error.contains(words, autoescape=True) for words in fixed]
        query = select(Image.id).where(
            Image.collection_id == collection_id,
            Image.status == STATUS_FAILED,
            or_(*reasons),
        )
        with self._session() as session:
            return set(session.scalars(query))

    def has_vector(self, image_id: int) -> bool:
        """Whether the image has an embedding: an existence query, no vector is read."""
        query = select(Embedding.image_id).where(Embedding.image_id == int(image_id)).limit(1)
        with self._session() as session:
            return session.scalar(query) is not None

    def file_of(self, image_id: int) -> tuple[str, str, str | None, str | None, int, int] | None:
        """``(collection root, rel_path, sha256, format, file_size, mtime_ns)`` of an image
        (one column query)."""
        with self._reading() as connection:
            row = connection.execute(_FILE_OF, {"image_id": int(image_id)}).first()
        return None if row is None else tuple(row)  # type: ignore[return-value]

    def dedup_rows(self) -> dict[int, tuple[Any, ...]]:
        """Every indexed image's file facts for duplicate reports, by id: ``(id, root,
        rel_path, file_size, width, height, sha256, exif_datetime, mtime_ns, format,
        frame width, frame height)`` (the frame's as fractions; None without a frame)."""
        query = (
            select(
                Image.id,
                Collection.root,
                Image.rel_path,
                Image.file_size,
                Image.width,
                Image.height,
                Image.sha256,
                Image.exif_datetime,
                Image.mtime_ns,
                Image.format,
                ImageFrame.right - ImageFrame.left,
                ImageFrame.bottom - ImageFrame.top,
            )
            .join(Collection, Collection.id == Image.collection_id)
            .outerjoin(ImageFrame, ImageFrame.image_id == Image.id)
            .where(Image.status == STATUS_OK, Image.duration_ms.is_(None))  # videos: apart
            .order_by(Image.id)
        )
        with self._session() as session:
            return {row[0]: tuple(row) for row in session.execute(query)}

    # -- what an index run's planning asks ---------------------------------------------------

    def embedded_in(self, collection_id: int) -> set[int]:
        """Ids of the collection's images with status ok that have a vector."""
        query = (
            select(Image.id)
            .join(Embedding, Embedding.image_id == Image.id)
            .where(Image.status == STATUS_OK, Image.collection_id == collection_id)
        )
        with self._session() as session:
            return set(session.scalars(query))

    def animation_candidates(self, collection_id: int) -> set[int]:
        """Ids of the collection's still images (status ok, no duration) stored as GIF, WebP
        or PNG: what an older imgsearch indexed as a still may be an animation."""
        query = select(Image.id).where(
            Image.collection_id == collection_id,
            Image.status == STATUS_OK,
            Image.duration_ms.is_(None),
            func.upper(Image.format).in_(("GIF", "WEBP", "PNG")),
        )
        with self._session() as session:
            return set(session.scalars(query))

    def embedded_with_sha256(self, sha256: str) -> list[int]:
        """Ids (ascending) of images with these bytes, status ok and a vector (indexed)."""
        query = (
            select(Image.id)
            .join(Embedding, Embedding.image_id == Image.id)
            .where(Image.sha256 == sha256, Image.status == STATUS_OK)
            .order_by(Image.id)
        )
        with self._session() as session:
            return list(session.scalars(query))

    def contents(self) -> dict[int, str | None]:
        """Every image row's file content (sha256; None where none was read), by id: what
        the library's caches (thumbnails, key points) may still be needed for."""
        with self._reading() as connection:
            return {row[0]: row[1] for row in connection.execute(select(Image.id, Image.sha256))}

    def any_vector(self) -> bool:
        """Whether any image has a vector yet."""
        with self._session() as session:
            return session.scalar(select(Embedding.image_id).limit(1)) is not None

    # -- what the explore stage shows --------------------------------------------------------

    def paths_and_labels(
        self, max_rank: int = 3
    ) -> dict[int, tuple[str, list[str], str | None, int | None]]:
        """Every indexed image's path, its top ``max_rank`` labels (merged names), the sha256
        of its indexed content (the version in its URLs) and its indexed size, by id."""
        paths = select(
            Image.id, Collection.root, Image.rel_path, Image.sha256, Image.file_size
        ).join(Collection, Collection.id == Image.collection_id)
        labels = (
            select(ImageLabel.image_id, ImageLabel.label, ImageLabel.score)
            .join(Image, Image.id == ImageLabel.image_id)
            .where(Image.status == STATUS_OK, ImageLabel.rank < max_rank)
            .order_by(ImageLabel.image_id, ImageLabel.rank)
        )
        with self._session() as session:
            out: dict[int, tuple[str, list[str], str | None, int | None]] = {
                row[0]: (f"{row[1].rstrip('/')}/{row[2]}", [], row[3], row[4])
                for row in session.execute(paths.where(Image.status == STATUS_OK))
            }
            for image_id, label, _ in session.execute(labels):
                if image_id in out and label not in out[image_id][1]:
                    out[image_id][1].append(label)
        return out
