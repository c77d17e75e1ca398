"""The files of a dedup report: a photo's ``file:`` link and whether it is still there, and
the report's own atomic write (never over a stream such as /dev/stdout)."""

from __future__ import annotations

import os
import stat
import tempfile
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


def atomic_write(path: Path, data: str, newline: str | None = None) -> None:
    path = Path(path)
    if is_stream(path):  # `-o /dev/stdout` as root replaced it with a file (report unseen)
        with open(path, "w", encoding="utf-8", newline=newline) as stream:
            stream.write(data)
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        mask = os.umask(0o022)  # read it back: a report is readable as any new file is
        os.umask(mask)
        os.fchmod(fd, 0o666 & ~mask)  # (mkstemp makes it 0600, for the owner only)
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def is_stream(path: Path) -> bool:
    """``path`` (links followed) is there and no file or folder: /dev/stdout, a pipe."""
    try:
        return not stat.S_ISREG(mode := path.stat().st_mode) and not stat.S_ISDIR(mode)
    except OSError:
        return False


__all__ = ["atomic_write", "file_href", "file_missing", "is_stream"]
