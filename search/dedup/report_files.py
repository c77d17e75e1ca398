"""The files of a dedup report: a photo's ``file:`` link and whether it is still there, and
the report's own atomic write (never over a stream such as /dev/stdout)."""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePath


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
    """Write ``data`` (text as UTF-8, its newlines as ``newline`` gives them, as ``open``
    does) to the report ``path`` whole or not at all (:func:`search.library.replaced_whole`,
    the file synced before it replaces the earlier one, readable as any new file). On an
    error (a full disk, ``ulimit -f``) an earlier report stays as it was, the temporary file
    goes, and the error names ``path`` (a failed write names no file). A stream (/dev/stdout)
    is written to."""
    from search.library import replaced_whole

    path = Path(path)
    if isinstance(data, str):
        data = (data if newline == "" else data.replace("\n", newline or os.linesep)).encode()
    try:
        if is_stream(path):  # `-o /dev/stdout` as root replaced it with a file (report unseen)
            with open(path, "wb") as stream:
                stream.write(data)
            return
        with replaced_whole(path, ".tmp") as handle:  # (readable as any new file is)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as error:
        if error.errno is None:
            raise
        raise OSError(error.errno, error.strerror, str(path)) from error


def is_stream(path: Path) -> bool:
    """``path`` (links followed) is there and no file or folder: /dev/stdout, a pipe."""
    try:
        return not stat.S_ISREG(mode := path.stat().st_mode) and not stat.S_ISDIR(mode)
    except OSError:
        return False


__all__ = ["atomic_write", "file_href", "file_missing", "is_stream"]
