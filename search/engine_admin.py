"""The engine's library-level side: figures, failures, removals, index rebuilds.

Mixed into :class:`search.engine.SearchEngine` (which provides ``library``, ``store`` and
``settings``); kept apart so that each module stays small.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select

from search.library_descriptor import describe
from search.results import ImageInfo, database_bytes, database_text, info_from_row
from search.schema import Image
from search.store import ChangeSet

if TYPE_CHECKING:
    from search.library import Library
    from search.settings import Settings
    from search.store import Store

STATS_FAILURES = 20  # failed files listed by stats()


class LibraryAdmin:
    library: Library
    store: Store
    settings: Settings

    def failed(self, limit: int = 200) -> list[ImageInfo]:
        """Files that could not be indexed, with their error."""
        return [info_from_row(row, has_vector=False, with_labels=False)
                for row in self.store.failed_images(limit)]

    def stats(self) -> dict[str, Any]:
        """Library figures: collections, counts, model, index, generation, last run, sizes."""
        counts = self.store.counts()
        stamp = self.store.model_stamp()
        index = self.library.index()
        run = self.store.last_run()
        index_info = {k: v for k, v in index.info.items() if k != "recall_trace"}
        index_info["recall"] = index.recall  # measured recall@k when approximate, 1.0 flat
        return {
            "library": str(Path(self.settings.library).resolve()),
            "database": database_text(self.settings),
            "database_bytes": database_bytes(self.settings),
            "collections": [
                {**c, "added_at": _iso(c["added_at"]), "last_indexed_at": _iso(
                    c["last_indexed_at"])} for c in self.store.collections()
            ],
            **counts,
            "model": None if stamp is None else {
                "name": stamp.name, "sha256": stamp.sha256, "dimension": stamp.dimension,
            },
            "index": index_info,
            "descriptor": describe(self.library.searchable(), self.store),
            "generation": self.store.generation(),
            # the model an unfinished re-index switches to (searches are refused meanwhile)
            "reindex": self.store.serving_state().reindex,
            "failures": [  # the first few files that could not be indexed, and why
                {"id": info.id, "path": info.path, "error": info.error}
                for info in self.failed(STATS_FAILURES)
            ] if counts["failed"] else [],
            "last_run": None if run is None else {
                "id": run.id, "status": run.status, "started_at": _iso(run.started_at),
                "finished_at": _iso(run.finished_at), "added": run.added,
                "updated": run.updated, "moved": run.moved, "removed": run.removed,
                "failed": run.failed, "images_per_second": run.images_per_second,
            },
        }

    # -- maintenance ------------------------------------------------------------------------

    def refresh(self) -> bool:
        """Reload the FAISS cache if the store's generation moved; True when it did."""
        return bool(self.library.refresh())

    def remove_paths(self, paths: Iterable[str | os.PathLike[str]]) -> int:
        """Drop the images at ``paths`` (files, or folders: everything below) from the library.

        Files on disk are never touched. Returns the number of images removed.
        """
        with self.library.writer_lock():  # never interleaved with an index run
            ids = self.ids_for_paths(paths)
            if not ids:
                return 0
            applied = self.library.apply(ChangeSet(removals=ids))
            self.library.save_index()
        return len(applied.removed)

    def ids_for_paths(self, paths: Iterable[str | os.PathLike[str]]) -> list[int]:
        """Ids of the stored images at or below each path (paths need not exist any more)."""
        collections = self.store.collections()
        found: set[int] = set()
        for raw in paths:
            target = Path(os.path.abspath(os.fspath(raw)))
            resolved = target.resolve()
            for collection in collections:
                root = Path(str(collection["root"]))
                for candidate in {target, resolved}:
                    found.update(self._ids_below(int(collection["id"]), root, candidate))
        return sorted(found)

    def _ids_below(self, collection_id: int, root: Path, target: Path) -> list[int]:
        query = select(Image.id).where(Image.collection_id == collection_id)
        if target == root or root.is_relative_to(target):
            pass  # the whole collection
        elif target.is_relative_to(root):
            rel = target.relative_to(root).as_posix()
            query = query.where(
                or_(Image.rel_path == rel, Image.rel_path.startswith(rel + "/", autoescape=True))
            )
        else:
            return []
        with self.store.session() as session:
            return list(session.scalars(query))

    def rebuild_index(self, kind: str | None = None) -> dict[str, Any]:
        """Rebuild the FAISS cache from SQLite (``kind``: auto, flat, hnsw, ivf-sq8)."""
        with self.library.writer_lock():
            index = self.library.rebuild_index(kind)
        return {k: v for k, v in index.info.items() if k != "recall_trace"}




def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
