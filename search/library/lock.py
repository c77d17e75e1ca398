"""One writer per library: an exclusive ``flock`` on ``<library>/.writer.lock``, taken by
index runs, removals, index rebuilds and schema migrations; readers never take it."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from search.store import LibraryBusyError

LOCK_FILENAME = ".writer.lock"

__all__ = ["LOCK_FILENAME", "writer_active", "writer_lock"]


def writer_active(path: Path) -> bool:
    """Does another process (or thread) hold the lock file at ``path`` right now?"""
    if not path.exists():
        return False
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


@contextmanager
def writer_lock(library: Path) -> Iterator[None]:
    """Hold the library's writer lock, or fail at once with :class:`LibraryBusyError`."""
    library.mkdir(parents=True, exist_ok=True)
    path = library / LOCK_FILENAME
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LibraryBusyError(
                f"another imgsearch process is writing to {library} (an index run?); wait for "
                "it to finish"
            ) from None
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
