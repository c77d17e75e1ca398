"""Pruning the library folder's caches: the thumbnails and key points that no image of the
library can ask for any more (images removed or files replaced since, sizes or extraction
versions no longer made, temporary files left by a killed process).

Each cache says which of its file names are still needed (``needed_by`` of
:class:`~search.library.ThumbnailCache` and :class:`~search.library.KeyPointCache`); this
module walks a cache's two levels of folders and deletes the rest. Files written in the last
:data:`FRESH_SECONDS` are always kept: a server or an index run may have just made them for
an image that the store read before this prune did not show yet.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

FRESH_SECONDS = 60.0
TEMPORARY_PREFIX = ".tmp-"  # search.library.atomic.replaced_whole's temporary files


@dataclass(frozen=True)
class Pruned:
    """What pruning one cache folder removed (or would remove) and kept."""

    cache: str
    folder: str
    removed: int = 0
    removed_bytes: int = 0
    kept: int = 0
    kept_bytes: int = 0

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def prune_folder(
    cache: str,
    folder: Path,
    needed: Callable[[str], bool],
    *,
    dry_run: bool = False,
    now: float | None = None,
    flat: bool = False,
) -> Pruned:
    """Delete the files of ``folder``'s sub-folders whose names ``needed`` refuses (and
    temporary files), except those younger than :data:`FRESH_SECONDS`; empty sub-folders go
    too. ``flat``: the files of ``folder`` itself (a cache without sub-folders), which stays.
    ``dry_run``: count only."""
    now = time.time() if now is None else now
    removed = removed_bytes = kept = kept_bytes = 0
    for shard, entries in _top(folder) if flat else _shards(folder):
        left = 0
        for entry in entries:
            try:
                stat = entry.stat(follow_symlinks=False)
            except OSError:  # removed meanwhile
                continue
            fresh = now - stat.st_mtime < FRESH_SECONDS
            wanted = not entry.name.startswith(TEMPORARY_PREFIX) and needed(entry.name)
            if fresh or wanted or not entry.is_file(follow_symlinks=False):
                kept += 1
                kept_bytes += stat.st_size
                left += 1
                continue
            if not dry_run:
                try:
                    os.unlink(entry.path)
                except FileNotFoundError:
                    continue
            removed += 1
            removed_bytes += stat.st_size
        if not left and not dry_run and not flat:
            with contextlib.suppress(OSError):  # a file was written meanwhile
                os.rmdir(shard)
    return Pruned(cache, str(folder), removed, removed_bytes, kept, kept_bytes)


def _top(folder: Path) -> Iterator[tuple[str, list[os.DirEntry[str]]]]:
    """``folder`` with its entries (none when it is missing or cannot be read)."""
    try:
        with os.scandir(folder) as entries:
            listed = list(entries)
    except OSError:
        return
    yield str(folder), listed


def _shards(folder: Path) -> Iterator[tuple[str, list[os.DirEntry[str]]]]:
    """Each sub-folder of ``folder`` with its entries (none when ``folder`` is missing)."""
    try:
        top = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return
    for shard in top:
        if not shard.is_dir(follow_symlinks=False):
            continue
        try:
            with os.scandir(shard.path) as entries:
                listed = list(entries)
        except OSError:
            continue
        yield shard.path, listed
