"""The SQLite files this process's stores have open: a second open of one must not read
its header with a plain ``open()``/``close()``, and a server must notice when the file it
holds was deleted or replaced under it."""

from __future__ import annotations

import weakref
from pathlib import Path

# The SQLite file each store of this process opened, with its (device, inode) then: a second
# open must not read the header with a plain open()/close() (closing that descriptor drops the
# POSIX locks SQLite holds on the file, and another process's last connection could then
# delete the WAL under the store); one deleted or replaced since is no longer the library the
# store reads (its connections keep the old file open).
_OPENED: weakref.WeakKeyDictionary[object, tuple[Path, tuple[int, int] | None]] = (
    weakref.WeakKeyDictionary()
)


def opened(path: Path, store: object) -> None:
    _OPENED[store] = (path.resolve(), _identity(path))


def closed(store: object) -> None:
    _OPENED.pop(store, None)


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_dev, found.st_ino


def database_replaced(store: object | None) -> bool:
    """Whether the SQLite file ``store`` opened was deleted or replaced since (another
    library is at its path now, or none): a server holding it answered from the deleted
    library's open file while the CLI showed the new one. False for another database."""
    found = None if store is None else _OPENED.get(store)
    return found is not None and _identity(found[0]) != found[1]


def open_in_this_process(path: Path) -> bool:
    """Whether a store of this process has the SQLite file ``path`` open."""
    return path.resolve() in {opened_path for opened_path, _ in _OPENED.values()}


__all__ = ["closed", "database_replaced", "open_in_this_process", "opened"]
