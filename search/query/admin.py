"""The engine's library-level side: figures, failures, removals (recorded, undoable), index
rebuilds.

Held by :class:`search.query.engine.SearchEngine` as ``engine.admin``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.explore import ResultCache
from search.index import IndexCacheError
from search.library import (
    MODEL_DIR_KEY,
    KeyPointCache,
    Pruned,
    ThumbnailCache,
    describe,
    has_labels,
    prune_folder,
    with_model_dir,
)
from search.query.errors import NoLabelsError
from search.store import (
    INTERRUPTED,
    RUNNING,
    ChangeSet,
    ImageInfo,
    LibraryBusyError,
    Removal,
    by_path,
    printable_url,
)

if TYPE_CHECKING:
    from search.library import Library
    from search.settings import Settings
    from search.store import LibraryStore

STATS_FAILURES = 20  # failed files listed by stats()


class LibraryAdmin:
    """Library-level figures and changes: stats, failures, removals, index rebuilds."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self.store: LibraryStore = library.store
        self.settings: Settings = library.settings

    def failed(self, limit: int = 200) -> list[ImageInfo]:
        """Files that could not be indexed, with their error."""
        return self.store.reads.failed(limit)

    def stats(self) -> dict[str, Any]:
        """Library figures: collections, counts, model, index, generation, last run, sizes."""
        counts = self.store.counts()
        stamp = self.store.model_stamp()
        index = self.library.index()
        run = self.store.runs.last()
        if run is not None and run.status == RUNNING and not self.library.locks.live_runs([run.id]):
            run = replace(run, status=INTERRUPTED)  # killed: nobody holds its liveness lock
        index_info = {k: v for k, v in index.info.items() if k != "recall_trace"}
        index_info["recall"] = index.recall  # measured recall@k when approximate, 1.0 flat
        excludes = self.store.excludes.by_collection()  # remembered --exclude patterns
        return {
            "library": str(Path(self.settings.library).resolve()),
            "database": database_text(self.settings),
            "database_bytes": self.store.health.database_bytes(),
            "collections": [
                {
                    **c,
                    "added_at": _iso(c["added_at"]),
                    "last_indexed_at": _iso(c["last_indexed_at"]),
                    "excludes": excludes.get(int(c["id"]), []),
                }
                for c in self.store.collections()
            ],
            **counts,
            "model": None
            if stamp is None
            else {
                "name": stamp.name,
                "sha256": stamp.sha256,
                "dimension": stamp.dimension,
            },
            "index": index_info,
            "descriptor": describe(self.library.searchable(), self.store),
            "generation": self.store.generation(),
            "removed_paths": [removal.to_dict() for removal in self.removals()],
            # the model an unfinished re-index switches to (searches are refused meanwhile)
            "reindex": self.store.health.serving_state().reindex,
            "failures": [  # the first few files that could not be indexed, and why
                {"id": info.id, "path": info.path, "error": info.error}
                for info in self.failed(STATS_FAILURES)
            ]
            if counts["failed"]
            else [],
            "last_run": None
            if run is None
            else {
                "id": run.id,
                "status": run.status,
                "started_at": _iso(run.started_at),
                "finished_at": _iso(run.finished_at),
                "added": run.added,
                "updated": run.updated,
                "moved": run.moved,
                "removed": run.removed,
                "failed": run.failed,
                "images_per_second": run.images_per_second,
            },
        }

    def check_labels(self) -> None:
        """Raise :class:`NoLabelsError` when the library's model has no class labels."""
        stamp = self.store.model_stamp()
        if stamp is None:
            return
        search_path = with_model_dir(self.settings, self.store.get_meta(MODEL_DIR_KEY))
        if not has_labels(stamp.name, search_path):
            raise NoLabelsError(stamp.name)

    # -- maintenance ------------------------------------------------------------------------

    def remove_paths(self, paths: Iterable[str | os.PathLike[str]]) -> int:
        """Drop the images at ``paths`` (files, or folders: everything below) from the library
        and remember it, so later index runs leave them out. Returns the number removed."""
        return sum(int(entry["images"]) for entry in self.remove(paths))

    def remove(
        self,
        paths: Iterable[str | os.PathLike[str]],
        confirm_whole: Callable[[list[tuple[str, int, int]]], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Remove and record each path of a collection that holds images: ``[{"path",
        "images", "failed"}]`` per path (once, by :func:`search.store.by_path`, when nested
        collections hold it): its indexed images, and its files that could not be indexed
        (removed too: `stats` lists them no more). Files on disk are never touched.
        ``confirm_whole`` is called with the ``(root, images, failed)`` of the collections
        about to go whole, under the writer lock, and stops the removal by raising. A whole
        collection that holds nothing is forgotten (``"collection_forgotten": true``)."""
        removals = self.store.removals
        with self.library.writer_lock():  # never interleaved with an index run
            targets = self._targets(paths)
            found = {key: removals.image_ids_below(*key) for key in targets}
            failed = {
                key: len(removals.image_ids_below(*key, failed_only=True)) if ids else 0
                for key, ids in found.items()
            }
            whole = [
                (targets[key], len(ids) - failed[key], failed[key])
                for key, ids in found.items()
                if ids and not key[1]
            ]
            if whole and confirm_whole is not None:
                confirm_whole(whole)
            forgotten = [  # whole collections with nothing in them: forgotten, not recorded
                targets[key]
                for key, ids in found.items()
                if not ids and not key[1] and removals.forget_empty_collection(key[0])
            ]
            recorded = {  # recorded first: a crash before the images go still keeps them out
                key: removals.record(key[0], key[1], len(ids) - failed[key])
                for key, ids in found.items()
                if ids
            }
            ids = sorted({i for ids in found.values() for i in ids})
            if ids:
                self.library.apply(ChangeSet(removals=ids))
                self.library.save_index()
                self.library.finish_reindex()  # they may be the last ones it waited for
        failed_at: Counter[str] = Counter()  # by path, summed as by_path sums the images
        for key, removal in recorded.items():
            failed_at[removal.path] += failed[key]
        return [
            {"path": r.path, "images": r.images, "failed": failed_at[r.path]}
            for r in by_path(recorded.values())
        ] + [
            {"path": root, "images": 0, "failed": 0, "collection_forgotten": True}
            for root in forgotten
        ]

    def prune_caches(self, *, dry_run: bool = False) -> list[Pruned]:
        """Delete the thumbnails and key points that no image of the library needs any more,
        and the explore results' temporary files (``dry_run``: count them); under the writer
        lock, so that no index run adds images meanwhile. The database and the FAISS file are
        not touched."""
        with self.library.writer_lock():
            contents = self.store.reads.contents()
            shas = set(contents.values())
            return [
                prune_folder(
                    "thumbnails",
                    self.settings.thumbnail_dir,
                    ThumbnailCache.needed_by(contents),
                    dry_run=dry_run,
                ),
                prune_folder(
                    "key points",
                    self.settings.key_point_dir,
                    KeyPointCache.needed_by(shas),
                    dry_run=dry_run,
                ),
                ResultCache(self.settings.library).prune(dry_run=dry_run),
            ]

    def prune_after_changes(self) -> tuple[int, int]:
        """:meth:`prune_caches` at the end of a command that removed or replaced images:
        ``(files, bytes)`` deleted; nothing while another process writes the library (the
        next such command, or ``imgsearch prune``, does it)."""
        try:
            pruned = self.prune_caches()
        except LibraryBusyError:
            return 0, 0
        return sum(p.removed for p in pruned), sum(p.removed_bytes for p in pruned)

    def undo_remove(self, paths: Iterable[str | os.PathLike[str]]) -> list[Removal]:
        """Forget the removals at or below ``paths``: the next index run adds those files
        back. Returns the removals forgotten."""
        with self.library.writer_lock():
            return by_path(
                removal
                for (collection_id, rel) in self._targets(paths)
                for removal in self.store.removals.undo(collection_id, rel)
            )

    def removals(self) -> list[Removal]:
        """What `imgsearch remove` took out, and later index runs leave out (a path once)."""
        return by_path(self.store.removals.listed())

    def ids_for_paths(self, paths: Iterable[str | os.PathLike[str]]) -> list[int]:
        """Ids of the stored images at or below each path (paths need not exist any more)."""
        ids = {i for key in self._targets(paths) for i in self.store.removals.image_ids_below(*key)}
        return sorted(ids)

    def _targets(self, paths: Iterable[str | os.PathLike[str]]) -> dict[tuple[int, str], str]:
        """``{(collection id, rel path): absolute path}`` for each path at or below a
        collection root, or above one (then the whole collection, rel path "")."""
        collections = self.store.collections()
        found: dict[tuple[int, str], str] = {}
        for raw in paths:
            target = Path(os.path.abspath(os.fspath(raw)))
            for candidate in dict.fromkeys([target, target.resolve()]):
                for collection in collections:
                    root = Path(str(collection["root"]))
                    if candidate == root or root.is_relative_to(candidate):
                        found.setdefault((int(collection["id"]), ""), str(root))
                    elif candidate.is_relative_to(root):
                        rel = candidate.relative_to(root).as_posix()
                        found.setdefault((int(collection["id"]), rel), str(candidate))
        return found

    def rebuild_index(self, kind: str | None = None) -> dict[str, Any]:
        """Rebuild the FAISS cache from SQLite (``kind``: auto, flat, hnsw, ivf-sq8); raises
        :class:`search.index.IndexCacheError` when the rebuilt index cannot be saved (its
        whole point: it was logged only, and the command said "rebuilt")."""
        with self.library.writer_lock():
            index = self.library.rebuild_index(kind)
        if self.library.cache.save_error is not None:
            raise IndexCacheError(
                f"rebuilt the index but {self.library.cache.save_error}; nothing is lost (the "
                "database is the truth, and searches rebuild the index in memory meanwhile): "
                "make room or fix the permissions, then run `imgsearch rebuild-index` again"
            )
        return {k: v for k, v in index.info.items() if k != "recall_trace"}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def database_text(settings: Settings) -> str:
    return printable_url(settings.resolved_database_url)
