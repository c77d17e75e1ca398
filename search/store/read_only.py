"""Opening a SQLite library that cannot be written: its file or folder read-only to the user,
a read-only mount, or ``Settings.read_only`` (``IMGSEARCH_READ_ONLY=1``).

The file is opened with SQLite's ``mode=ro`` (and ``query_only``: any write is refused by
SQLite itself, whoever runs the process); when no writer has it open (no ``-shm`` file beside
it), as ``immutable=1``, so that SQLite makes no ``-shm`` / ``-wal`` file either (no locks: the
file must not change while it is read, which a read-only folder or mount promises; a writer
that starts later is not seen until the reader restarts). Nothing is written: no journal-mode
switch, no upgrade (an old schema is refused with what to do), no caches.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event


def sqlite_writable(path: Path) -> bool:
    """Can this process write the SQLite file and make its journal files beside it?"""
    folder = path.parent
    return os.access(path, os.W_OK, effective_ids=True) and os.access(
        folder, os.W_OK | os.X_OK, effective_ids=True
    )


def read_only_url(path: Path) -> str:
    """The SQLAlchemy URL that opens ``path`` read-only: ``mode=ro`` while a writer has the
    file open (its ``-shm`` WAL index is there: its commits are seen), else ``immutable=1``
    (no ``-shm`` / ``-wal`` file is made beside it: nothing at all is written)."""
    shm = path.with_name(path.name + "-shm")
    options = "mode=ro" if shm.exists() else "mode=ro&immutable=1"
    return f"sqlite:///file:{quote(str(path))}?{options}&uri=true"


def _read_only_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")  # a write fails in SQLite, never half-done
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def read_only_engine(path: Path) -> Engine:
    """A SQLAlchemy engine that reads ``path`` and can write nothing."""
    engine = create_engine(read_only_url(path), future=True)
    event.listen(engine, "connect", _read_only_pragmas)
    return engine
