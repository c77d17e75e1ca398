"""What index runs leave out of the library, as the store records it: removals (files and
folders that `imgsearch remove` took out, honoured until `imgsearch remove --undo`), each
collection's remembered ``--exclude`` patterns (applied until replaced or dropped), and
collections that leave: forgotten when empty, or recorded at their folder's real path when the
old one became a link to it (folded into the collection already there, their removals with
them).

Parts of :class:`search.store.store.Store`, reached as its ``removals`` and ``excludes``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path, PurePosixPath

from sqlalchemy import delete, func, or_, select, update

from search.store.records import SessionFactory, utcnow
from search.store.schema import (
    STATUS_FAILED,
    Collection,
    CollectionExclude,
    Image,
    LibraryMeta,
    RemovedPath,
)


@dataclass(frozen=True)
class Removal:
    """One recorded removal: ``rel_path`` of collection ``root`` ("" = all of it)."""

    collection_id: int
    root: str
    rel_path: str
    images: int
    removed_at: datetime

    @property
    def path(self) -> str:
        """The absolute path the user removed."""
        return str(PurePosixPath(self.root, self.rel_path)) if self.rel_path else self.root

    def covers(self, rel_path: str) -> bool:
        """Is the collection file ``rel_path`` at or below this removal?"""
        return at_or_below(rel_path, self.rel_path)

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "images": self.images, "removed_at": self.removed_at.isoformat()}


def at_or_below(rel_path: str, top: str) -> bool:
    """Is the collection path ``rel_path`` at or below ``top`` ("" = the whole collection)?"""
    return top == "" or rel_path == top or rel_path.startswith(top + "/")


def _below(column, top: str):  # type: ignore[no-untyped-def]
    """SQL: ``column`` at or below the collection path ``top``."""
    if top == "":
        return column.is_not(None)
    # not LIKE: SQLite's is blind to ASCII case (Trip/ would take trip/ too), PostgreSQL's not
    prefix = top + "/"
    return or_(column == top, func.substr(column, 1, len(prefix)) == prefix)


class RemovalRecords:
    """Removals of files and folders (``store.removals``), honoured by later index runs."""

    def __init__(self, session: SessionFactory) -> None:
        self._session = session

    def image_ids_below(
        self, collection_id: int, rel_path: str, *, failed_only: bool = False
    ) -> list[int]:
        """Ids of the collection's images (indexed or failed; ``failed_only``: the files that
        could not be indexed) at or below ``rel_path``."""
        query = select(Image.id).where(
            Image.collection_id == collection_id, _below(Image.rel_path, rel_path)
        )
        if failed_only:
            query = query.where(Image.status == STATUS_FAILED)
        with self._session() as session:
            return list(session.scalars(query.order_by(Image.id)))

    def record(self, collection_id: int, rel_path: str, images: int) -> Removal:
        """Remember that ``rel_path`` was removed (records below it are folded into it);
        returns the removal recorded."""
        with self._session() as session:
            session.execute(
                delete(RemovedPath).where(
                    RemovedPath.collection_id == collection_id,
                    _below(RemovedPath.rel_path, rel_path),
                )
            )
            row = RemovedPath(
                collection_id=collection_id, rel_path=rel_path, images=images, removed_at=utcnow()
            )
            session.add(row)
            root = session.scalar(select(Collection.root).where(Collection.id == collection_id))
            return Removal(collection_id, str(root), rel_path, images, row.removed_at)

    def forget_empty_collection(self, collection_id: int) -> bool:
        """Delete a collection that holds no file and no removal (a typo'd folder, one emptied
        on disk): ``remove`` could not take it out, and it stayed in `stats` for good. False
        when it holds something (nothing is deleted)."""
        with self._session() as session:
            held = session.scalar(
                select(func.count(Image.id)).where(Image.collection_id == collection_id)
            ) or session.scalar(
                select(func.count(RemovedPath.id)).where(RemovedPath.collection_id == collection_id)
            )
            if held:
                return False
            session.execute(delete(Collection).where(Collection.id == collection_id))
            return True

    def move_collection(self, collection_id: int, root: str) -> None:
        """Record the collection at ``root`` (its folder's real path: the old one is a link to
        it now); its images and removals keep their ids."""
        with self._session() as session:
            session.execute(
                update(Collection).where(Collection.id == collection_id).values(root=root)
            )

    def fold_collection(self, source_id: int, target_id: int, forget: Sequence[str]) -> None:
        """Delete collection ``source_id`` once its images are in ``target_id`` (one folder,
        reached through a link): its removals go to ``target_id`` (but where it has one at the
        same path); the meta keys ``forget`` are deleted."""
        with self._session() as session:
            taken = select(RemovedPath.rel_path).where(RemovedPath.collection_id == target_id)
            session.execute(
                update(RemovedPath)
                .where(RemovedPath.collection_id == source_id, RemovedPath.rel_path.not_in(taken))
                .values(collection_id=target_id)
            )
            session.execute(delete(Collection).where(Collection.id == source_id))
            session.execute(delete(LibraryMeta).where(LibraryMeta.key.in_(list(forget))))

    def listed(self, collection_id: int | None = None) -> list[Removal]:
        """Recorded removals (of one collection, or all), by path."""
        query = select(RemovedPath, Collection.root).join(Collection)
        if collection_id is not None:
            query = query.where(RemovedPath.collection_id == collection_id)
        with self._session() as session:
            rows = session.execute(query.order_by(Collection.root, RemovedPath.rel_path)).all()
            return [
                Removal(r.collection_id, root, r.rel_path, r.images, r.removed_at)
                for r, root in rows
            ]

    def undo(self, collection_id: int, rel_path: str) -> list[Removal]:
        """Forget the removals at or below ``rel_path``; returns them (none: nothing to undo)."""
        found = [r for r in self.listed(collection_id) if at_or_below(r.rel_path, rel_path)]
        if found:
            with self._session() as session:
                session.execute(
                    delete(RemovedPath).where(
                        RemovedPath.collection_id == collection_id,
                        RemovedPath.rel_path.in_([r.rel_path for r in found]),
                    )
                )
        return found


class ExcludeRecords:
    """Remembered ``--exclude`` patterns of the collections (``store.excludes``)."""

    def __init__(self, session: SessionFactory) -> None:
        self._session = session

    def by_collection(self) -> dict[int, list[str]]:
        """Every collection's patterns, in the order given, by collection id (a collection
        without patterns is not listed)."""
        query = select(CollectionExclude).order_by(
            CollectionExclude.collection_id, CollectionExclude.position
        )
        found: dict[int, list[str]] = {}
        with self._session() as session:
            for row in session.scalars(query):
                found.setdefault(row.collection_id, []).append(row.pattern)
        return found

    def by_root(self) -> dict[str, list[str]]:
        """Every collection's patterns, by its root (as stored)."""
        query = (
            select(Collection.root, CollectionExclude.pattern)
            .join(Collection, Collection.id == CollectionExclude.collection_id)
            .order_by(CollectionExclude.collection_id, CollectionExclude.position)
        )
        found: dict[str, list[str]] = {}
        with self._session() as session:
            for root, pattern in session.execute(query):
                found.setdefault(root, []).append(pattern)
        return found

    def replace(self, collection_id: int, patterns: Sequence[str]) -> list[str]:
        """Make ``patterns`` the collection's (none: it has none any more), in one
        transaction; returns those it had."""
        with self._session() as session:
            before = list(
                session.scalars(
                    select(CollectionExclude.pattern)
                    .where(CollectionExclude.collection_id == collection_id)
                    .order_by(CollectionExclude.position)
                )
            )
            if before != list(patterns):
                session.execute(
                    delete(CollectionExclude).where(
                        CollectionExclude.collection_id == collection_id
                    )
                )
                session.add_all(
                    CollectionExclude(collection_id=collection_id, position=n, pattern=p)
                    for n, p in enumerate(patterns)
                )
        return before


def by_path(removals: Iterable[Removal]) -> list[Removal]:
    """``removals`` with each path once, by path: a path inside nested collections (``index
    DIR``, then ``index DIR/sub``) is recorded by each of them; its images are summed and its
    latest time kept."""
    merged: dict[str, Removal] = {}
    for removal in removals:
        seen = merged.get(removal.path)
        merged[removal.path] = (
            removal
            if seen is None
            else replace(
                seen,
                images=seen.images + removal.images,
                removed_at=max(seen.removed_at, removal.removed_at),
            )
        )
    return sorted(merged.values(), key=lambda removal: removal.path)


def removed_tops(root: Path, removals: Sequence[Removal]) -> list[str]:
    """The paths below ``root`` (relative to it; "" = all of it) that ``removals`` cover,
    whichever collection recorded them (collections may overlap)."""
    tops = []
    for removal in removals:
        removed = Path(removal.path)
        if root == removed or root.is_relative_to(removed):
            tops.append("")
        elif removed.is_relative_to(root):
            tops.append(removed.relative_to(root).as_posix())
    return tops
