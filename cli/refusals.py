"""What the operating system's and the database's refusals mean, in one line each: what is
wrong and what to do (:mod:`cli.errors` says them)."""

from __future__ import annotations

import errno
import resource
from pathlib import Path

_OS_HINTS = {
    errno.EACCES: "check its permissions, or choose another place",
    errno.EPERM: "check its permissions, or choose another place",
    errno.EROFS: "that file system is read-only: choose another place",
    errno.ENOENT: "a folder on the way does not exist",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "that is a folder: give a file name",
    errno.ENOSPC: "the disk is full: free some space",
    errno.EDQUOT: "the disk quota is used up: free some space",
    errno.EADDRINUSE: "another program listens there: choose another --port (0 picks a free one)",
    errno.EADDRNOTAVAIL: "this machine has no such address: check --host",
}

_FILE_SIZE = "file size limit"  # what a SQLite "disk I/O error" means under `ulimit -f`

_DATABASE_HINTS = (
    (
        "readonly database",
        "is read-only for this user",
        "run as its owner, or copy the library somewhere writable",
    ),
    (
        "database is locked",
        "is locked by another process (an index run?)",
        "wait for it to finish and try again",
    ),
    (
        "unable to open database file",
        "cannot be opened",
        "check that its folder exists and is writable (SQLite keeps -wal/-shm files beside it)",
    ),
    ("disk i/o error", "could not be read or written", "check the disk"),
    ("database or disk is full", "cannot grow: the disk is full", "free some space"),
)


def file_size_limit() -> int | None:
    """The most bytes this process may write into one file (``ulimit -f``); None: no limit."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    return None if soft == resource.RLIM_INFINITY else soft


def _file_size_hint() -> str:
    """What to do about a file that may grow no more (EFBIG): raise ``ulimit -f`` when this
    process has one, else the file system takes no file that large."""
    from search.units import human_size

    limit = file_size_limit()
    if limit is None:
        return "the file system takes no file that large: choose another place"
    return (
        f"this process may write files of at most {human_size(limit)} (the file-size limit, "
        "`ulimit -f`): raise that limit"
    )


def os_hint(number: int | None) -> str | None:
    """What to do about the system's error ``number`` (an errno), or None."""
    if number == errno.EFBIG:
        return _file_size_hint()
    return _OS_HINTS.get(number or 0)


def describe_os_error(error: OSError, doing: str | None = None) -> str:
    """``cannot <doing> <path>: <reason>; <hint>`` in one line."""
    where = " ".join(str(p) for p in (error.filename, error.filename2) if p)
    what = doing or "use"
    reason = error.strerror or str(error)
    hint = os_hint(error.errno)
    head = f"cannot {what} {where}".rstrip() if where else f"cannot {what}"
    return f"{head}: {reason}" + (f"; {hint}" if hint else "")


def _meant(said: str, where: str) -> str:
    """What SQLite's words ``said`` (lower case) mean for the existing database file
    ``where``: "unable to open" a file whose folder cannot be written (a read-only mount:
    SQLite cannot make its -wal/-shm beside it) is a read-only library, and a "disk I/O
    error" on a full disk is a full disk, under a file-size limit (``ulimit -f``: SQLite
    says no more) most likely that limit; they sent the user to check the folder or the disk."""
    if "disk i/o error" in said and file_size_limit() is not None:
        return _FILE_SIZE
    path = Path(where.strip()) if where.strip() else None
    if path is None or not path.is_file():
        return said
    from search.store import disk_full, sqlite_writable

    if "unable to open database file" in said and not sqlite_writable(path):
        return "readonly database"
    if "disk i/o error" in said and disk_full(path):
        return "database or disk is full"
    return said


def describe_database_error(error: BaseException, where: str = "") -> str:
    """A database refusal (SQLAlchemy or sqlite3) in one line, with what to do."""
    original = getattr(error, "orig", None) or error
    text = str(original).splitlines()[0] if str(original) else type(original).__name__
    name = f"the library database {where}".rstrip()
    meant = _meant(text.lower(), where)
    if meant == _FILE_SIZE:
        return f"{name} could not be written ({text}): {_file_size_hint()}, or check the disk"
    for needle, what, todo in _DATABASE_HINTS:
        if needle in meant:
            return f"{name} {what} ({text}): {todo}"
    return f"{name}: {text}"


__all__ = ["describe_database_error", "describe_os_error", "file_size_limit", "os_hint"]
