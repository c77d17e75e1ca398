"""The SQLite files this process's stores have open: a second open of one must not read
its header with a plain ``open()``/``close()``, and a server must notice when the file it
holds was deleted or replaced under it."""

from __future__ import annotations

import weakref
from pathlib import Path

# The SQLite files this process has open, by store: a second open must not read the header
# with a plain open()/close() (closing that descriptor drops the POSIX locks SQLite holds on
# the file, and another process's last connection could then delete the WAL under the store).
_OPEN_FILES: weakref.WeakKeyDictionary[object, Path] = weakref.WeakKeyDictionary()


# The file each store opened, as (device, inode): one deleted or replaced since is no longer
# the library the store reads (its connections keep the old file open)
_IDENTITIES: weakref.WeakKeyDictionary[object, tuple[int, int] | None] = weakref.WeakKeyDictionary()


def opened(path: Path, store: object) -> None:
    _OPEN_FILES[store] = path.resolve()
    _IDENTITIES[store] = _identity(path)


def closed(store: object) -> None:
    _OPEN_FILES.pop(store, None)
    _IDENTITIES.pop(store, None)


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
    path = None if store is None else _OPEN_FILES.get(store)
    if path is None or store not in _IDENTITIES:
        return False
    return _identity(path) != _IDENTITIES[store]


def open_in_this_process(path: Path) -> bool:
    """Whether a store of this process has the SQLite file ``path`` open."""
    return path.resolve() in set(_OPEN_FILES.values())


__all__ = ["closed", "database_replaced", "open_in_this_process", "opened"]
