"""Opening a SQLite library that cannot be written: its file or folder read-only to the user,
a read-only mount, or ``Settings.read_only`` (``IMGSEARCH_READ_ONLY=1``).

The file is opened with SQLite's ``mode=ro`` (and ``query_only``: any write is refused by
SQLite itself, whoever runs the process); when no writer has it open (no ``-shm`` file beside
it), as ``immutable=1``, so that SQLite makes no ``-shm`` / ``-wal`` file either (no locks: the
file must not change while it is read). The choice is made for each connection, and checked
each time one is taken from the pool: a writer (the owner's index run) that starts after the
reader opened the library makes its ``-shm`` file, and the reader's next query connects with
``mode=ro``, which follows the writer's commits; once the writer has closed (its WAL written
back into the file, ``-shm`` removed) queries read the file as immutable again. Nothing is
written: no journal-mode switch, no upgrade (an old schema is refused with what to do), no
caches.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError

from search.store.errors import sqlite_file

log = logging.getLogger(__name__)


def sqlite_writable(path: Path) -> bool:
    """Can this process write the SQLite file and make its journal files beside it?"""
    folder = path.parent
    return os.access(path, os.W_OK, effective_ids=True) and os.access(
        folder, os.W_OK | os.X_OK, effective_ids=True
    )


def read_only_file(url: str, read_only: bool = False) -> Path | None:
    """The SQLite file at ``url`` when it is to be opened read-only: ``read_only`` (the
    setting), or a file this process cannot write (or make its -wal/-shm beside); None: a
    writable file, or another database."""
    path = sqlite_file(url)
    if path is None:
        return None
    return path if read_only or not sqlite_writable(path) else None


#: a WAL index (``-shm``) is made in blocks of 32 KiB: a shorter one is no writer's
WAL_INDEX_BLOCK = 32768
#: free space under which a reader that cannot open the library normally reads it as it is
NO_ROOM = 1 << 20


def disk_full(path: Path, room: int = NO_ROOM) -> bool:
    """Whether the file system holding ``path`` has less than ``room`` bytes free."""
    try:
        return shutil.disk_usage(path.parent).free < room
    except OSError:
        return False


def no_room_left(path: Path) -> bool:
    """Is the disk of the library file ``path`` full? Then a reader reads the library as it
    is (said in the log)."""
    full = disk_full(path)
    if full:
        log.warning("%s: the disk is full; the library is read as it is", path.parent)
    return full


def writer_there(path: Path) -> bool:
    """Does a writer hold ``path`` open: its ``-shm`` WAL index beside it? A ``-shm`` too
    short to be one, with no frame in the ``-wal``, is what an open that a full disk stopped
    leaves: no writer, nothing a reader would miss."""
    try:
        if path.with_name(path.name + "-shm").stat().st_size >= WAL_INDEX_BLOCK:
            return True
    except OSError:
        return False
    return wal_with_frames(path)


def wal_with_frames(path: Path) -> bool:
    """Whether ``path``'s write-ahead log holds frames (more than its 32-byte header)."""
    try:
        return Path(f"{path}-wal").stat().st_size > 32
    except OSError:
        return False


def read_only_uri(path: Path) -> str:
    """The SQLite URI that opens ``path`` read-only now: ``mode=ro`` while a writer has the
    file open (:func:`writer_there`: its commits are seen), else ``immutable=1`` (no ``-shm``
    / ``-wal`` file is made beside it: nothing at all is written)."""
    options = "mode=ro" if writer_there(path) else "mode=ro&immutable=1"
    return f"file:{quote(str(path))}?{options}"


def _read_only_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")  # a write fails in SQLite, never half-done
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class _ReadOnlyConnection(sqlite3.Connection):
    """A read-only connection that remembers how it was opened: immutable, and then the
    file's (inode, size, mtime) it trusts not to change."""

    immutable = False
    stamp: tuple[int, int, int] | None = None


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_ino, found.st_size, found.st_mtime_ns


def read_only_engine(path: Path) -> Engine:
    """A SQLAlchemy engine that reads ``path`` and can write nothing. A pooled connection is
    replaced when the file is no longer as it was opened (two ``stat`` calls per checkout):
    an immutable one once a writer's ``-shm`` is there or the file changed, a ``mode=ro`` one
    once the ``-shm`` is gone."""

    def connect() -> sqlite3.Connection:
        stamp = _stamp(path)
        uri = read_only_uri(path)
        connection = sqlite3.connect(
            uri, uri=True, check_same_thread=False, factory=_ReadOnlyConnection
        )
        connection.immutable = "immutable=1" in uri
        connection.stamp = stamp
        return connection

    # the URL names the file (sizes, messages); connections come from ``connect``
    engine = create_engine(f"sqlite:///{path}", creator=connect)
    event.listen(engine, "connect", _read_only_pragmas)

    @event.listens_for(engine, "checkout")
    def _opened_for_now(connection, _record, _proxy) -> None:  # type: ignore[no-untyped-def]
        writer = writer_there(path)
        if connection.immutable and not writer and connection.stamp == _stamp(path):
            return
        if not connection.immutable and writer:
            return
        raise DisconnectionError("the library changed under a read-only reader: connect again")

    return engine
