"""Collections whose folder is not there, or holds nothing now: their images are kept (a
drive not mounted, an empty mount point) and the run says what to do about them."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from indexer.scan import CollectionError, ScanReport
from search.library import Library, folder_state, unreached, way_out

#: a collection as the store lists it (``LibraryStore.collections``): root, images, ...
Collections = Sequence[dict[str, Any]]


def absent(collections: Collections) -> list[str]:
    """The roots of the collections with images whose folder is not there."""
    return [
        str(c["root"]) for c in collections if c["images"] and not os.path.isdir(str(c["root"]))
    ]


def check_collections_there(library: Library) -> None:
    """Before a re-index drops every vector: each collection with images must be there and
    hold files (:func:`search.library.folder_state`, as a re-index that cannot finish says
    it: an empty mount point is a drive not mounted, whose images an index run keeps). Else
    `reindex` dropped every vector, embedded the others and left the library refusing every
    search (those images unembedded), `index` unable to finish it."""
    states = {
        str(c["root"]): folder_state(str(c["root"]))
        for c in library.store.collections()
        if c["images"]
    }
    gone = [root for root, state in states.items() if state == "missing"]
    if gone:
        raise CollectionError(
            f"the folder of the collection {', '.join(gone)} is not there (renamed, deleted or "
            "not mounted): a re-index embeds every image again, so mount it first, or "
            f"`imgsearch remove {gone[0]}` to leave its images out; nothing was changed"
        )
    emptied = [root for root, state in states.items() if state == "empty"]
    if emptied:
        raise CollectionError(
            f"the folder of the collection {', '.join(emptied)} holds no image or video files "
            "now (a drive not mounted?): a re-index embeds every image again, so mount it "
            f"first, or `imgsearch remove {emptied[0]}` to leave its images out; nothing was "
            "changed"
        )


def unfinished_reindex(library: Library, roots: Sequence[Path]) -> str:
    """After an index run: why the library's re-index is still unfinished, and the way out
    ("" when none is, or only other runs' collections wait: PostgreSQL runs at once). Its
    images without a vector keep every search refused; `imgsearch index` alone cannot embed
    files whose folder is not there."""
    model = library.store.health.serving_state().reindex
    if model is None:
        return ""
    blocked = unreached(library.store)
    if blocked:
        return (
            f"the re-index with {model} is not finished: {way_out(blocked, model)} (searches "
            "are refused until then, so that no answer mixes two models)"
        )
    walked = {str(root) for root in roots}
    waiting = {r: n for r, n in library.store.health.unembedded().items() if r in walked}
    if not waiting:
        return ""
    listed = ", ".join(f"{n} images of {root}" for root, n in waiting.items())
    return (
        f"the re-index with {model} is not finished: {listed} have no vector of {model} yet "
        "(their folders could not be read: see the warnings); searches are refused until "
        "they have one: fix that and run `imgsearch index` again, or `imgsearch remove` them"
    )


def moved_collection_hint(collections: Collections, copied: int) -> list[str]:
    """When a run copied vectors while a collection's folder is not there, the photos have
    probably moved: its old rows stay (a drive not mounted keeps its images) and every search
    listed each photo twice, at its old and new path; say how to drop them. ``collections``:
    as the run began."""
    if not copied:
        return []
    return [
        f"{root}: the collection's folder is not there; if its photos moved to the folders "
        f"indexed now ({copied} files reused vectors of images already in the library), "
        f"`imgsearch remove {root}` drops the old place's rows (searches list both until then)"
        for root in absent(collections)
    ]


def keep_emptied(collections: Collections, scans: list[tuple[Path, ScanReport]]) -> list[str]:
    """A collection whose folder holds no file at all now (none excluded, none of another
    kind), while the library has images of it, keeps them, as a folder that is not there
    does: an empty mount point (a drive not mounted) made a nightly run remove every image of
    the collection. Files excluded by ``--exclude`` are still taken out."""
    had = {Path(str(c["root"])): int(c["images"]) for c in collections}
    warnings = []
    for root, report in scans:
        images = had.get(Path(root), 0)
        if not images or not _holds_nothing(report) or "" in report.unreadable_dirs:
            continue  # (a root that could not be listed: the walk's own warning says why)
        report.unreadable_dirs.append("")  # nothing under it is taken for deleted
        generic = f"{root}: no image or video files in it"
        report.warnings = [w for w in report.warnings if not w.startswith(generic)]
        warnings.append(
            f"{root}: no image or video files in it now (a drive not mounted?); its {images} "
            f"images are kept as they were (`imgsearch remove {root}` drops them)"
        )
    return warnings


def _holds_nothing(report: ScanReport) -> bool:
    """Did the walk find no file at all: none indexed, removed or excluded, none of another
    kind, hidden or linked? (A folder in use, emptied of its images, holds some.)"""
    counted = (report.skipped_removed, report.excluded, report.skipped_other)
    others = report.skipped_hidden or report.skipped_links or report.skipped_system
    return not (report.files or any(counted) or others)
