"""Collections whose folder is not there, or holds nothing now: their images are kept (a
drive not mounted, an empty mount point) and the run says what to do about them."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from indexer.scan import CollectionError, ScanReport
from search.library import Library

#: a collection as the store lists it (``LibraryStore.collections``): root, images, ...
Collections = Sequence[dict[str, Any]]


def absent(collections: Collections) -> list[str]:
    """The roots of the collections with images whose folder is not there."""
    return [
        str(c["root"]) for c in collections if c["images"] and not os.path.isdir(str(c["root"]))
    ]


def check_collections_there(library: Library) -> None:
    """Before a re-index drops every vector: each collection with images must be there. With
    a drive not mounted, `reindex` dropped them all, embedded the others and left the library
    refusing every search (its images unembedded), `index` unable to finish it."""
    gone = absent(library.store.collections())
    if gone:
        raise CollectionError(
            f"the folder of the collection {', '.join(gone)} is not there (renamed, deleted or "
            "not mounted): a re-index embeds every image again, so mount it first, or "
            f"`imgsearch remove {gone[0]}` to leave its images out; nothing was changed"
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
        if report.files or report.skipped_removed or report.excluded or not images:
            continue
        if report.skipped_other or report.skipped_hidden or report.skipped_links:
            continue  # a folder in use, emptied of its images
        report.unreadable_dirs.append("")  # nothing under it is taken for deleted
        generic = f"{root}: no image or video files in it"
        report.warnings = [w for w in report.warnings if not w.startswith(generic)]
        warnings.append(
            f"{root}: no image or video files in it now (a drive not mounted?); its {images} "
            f"images are kept as they were (`imgsearch remove {root}` drops them)"
        )
    return warnings
