"""The files of a dedup report: a photo's ``file:`` link and whether it is still there, and
the report's own atomic write (never over a stream such as /dev/stdout)."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path, PurePath
from typing import IO, Any


def file_href(path: str) -> str | None:
    p = PurePath(path)
    if not p.is_absolute():
        return None
    try:
        return Path(p).as_uri()
    except ValueError:
        return None


def file_missing(path: str) -> bool:
    """No file at absolute ``path`` now (deleted or moved since indexing); relative: False."""
    return PurePath(path).is_absolute() and not os.path.exists(path)


def atomic_write(path: Path, data: str | bytes, newline: str | None = None) -> None:
    """Write ``data`` (text as UTF-8) to the report ``path`` whole or not at all: a temporary
    file in its folder, flushed to the disk, then renamed over it. On an error (a full disk,
    ``ulimit -f``) an earlier report stays as it was, the temporary file goes, and the error
    names ``path`` (a failed write names no file). A stream (/dev/stdout) is written to."""
    path = Path(path)
    try:
        if is_stream(path):  # `-o /dev/stdout` as root replaced it with a file (report unseen)
            with _opened(path, data, newline) as stream:
                stream.write(data)
            return
        _replace(path, data, newline)
    except OSError as error:
        if error.errno is None:
            raise
        raise OSError(error.errno, error.strerror, str(path)) from error


def _replace(path: Path, data: str | bytes, newline: str | None) -> None:
    """:func:`atomic_write` of a file: the temporary file, synced, renamed over ``path``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        mask = os.umask(0o022)  # read it back: a report is readable as any new file is
        os.umask(mask)
        with _opened(fd, data, newline) as f:
            os.fchmod(fd, 0o666 & ~mask)  # (mkstemp makes it 0600, for the owner only)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _opened(file: Path | int, data: str | bytes, newline: str | None) -> IO[Any]:
    """``file`` (a path or a file descriptor) opened to write ``data``: bytes as they are,
    text as UTF-8."""
    if isinstance(data, bytes):
        return open(file, "wb")  # the with-block of the caller closes it
    return open(file, "w", encoding="utf-8", newline=newline)


def is_stream(path: Path) -> bool:
    """``path`` (links followed) is there and no file or folder: /dev/stdout, a pipe."""
    try:
        return not stat.S_ISREG(mode := path.stat().st_mode) and not stat.S_ISDIR(mode)
    except OSError:
        return False


__all__ = ["atomic_write", "file_href", "file_missing", "is_stream"]
