"""Room on disk for files written through a memory map (the on-disk index's lists, the rows
of its build): a write the disk cannot take there is a SIGBUS that kills the process without
a word, so the room is reserved or checked first and a full disk is an ``OSError`` (ENOSPC)
that names the file."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path


def reserve(path: Path) -> None:
    """Allocate every block of the file at ``path`` (its current size) now."""
    with path.open("r+b") as handle:
        size = os.fstat(handle.fileno()).st_size
        try:
            os.posix_fallocate(handle.fileno(), 0, size)
        except OSError as error:
            if error.errno in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                return  # a file system that cannot reserve: written as before
            raise OSError(error.errno, error.strerror, str(path)) from None


def require_room(target: Path, needed: int) -> None:
    """Raise ENOSPC naming ``target`` when its folder's disk has under ``needed`` bytes free."""
    free = shutil.disk_usage(target.parent).free
    if free < needed:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))
