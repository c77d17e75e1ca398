"""Backup copies of a SQLite library file, made before a schema migration.

Each is a new file beside the library's: ``<file>.bak-<revision>``, or ``...-2``, ``...-3``
when that name is taken, so a later migration never replaces an earlier backup.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

from sqlalchemy import Engine

__all__ = ["backup_name", "backup_sqlite"]


def backup_name(path: Path, revision: str) -> Path:
    """Where the next backup of ``path`` at ``revision`` goes: ``<file>.bak-<revision>``, or
    the first of ``...-2``, ``...-3`` ... that does not exist (a backup is never replaced)."""
    target, n = path.with_name(f"{path.name}.bak-{revision}"), 2
    while target.exists():
        target, n = path.with_name(f"{path.name}.bak-{revision}-{n}"), n + 1
    return target


def backup_sqlite(engine: Engine, revision: str | None) -> Path | None:
    """Copy a SQLite library file at ``revision`` to a new backup file beside it (see
    :func:`backup_name`; made exclusively, never over an earlier one); its path, or None
    when nothing was copied (no revision, no file, a server database)."""
    database = engine.url.database
    if revision is None or engine.dialect.name != "sqlite" or not database:
        return None
    path = Path(database)
    if not path.exists():
        return None
    while True:
        target = backup_name(path, revision)
        try:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
            break
        except FileExistsError:  # taken meanwhile: the next name
            continue
    try:
        # sqlite3's backup API copies a consistent snapshot, WAL content included.
        # closed at once: Python's sqlite3 connections otherwise live until the cyclic GC
        with closing(sqlite3.connect(path)) as source, closing(sqlite3.connect(target)) as copy:
            source.backup(copy)
    except BaseException:
        target.unlink(missing_ok=True)  # no half copy that looks like a backup
        raise
    return target
