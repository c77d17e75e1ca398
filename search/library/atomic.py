"""Files of the library folder's caches written whole or not at all."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def replaced_whole(target: Path, suffix: str) -> Iterator[BinaryIO]:
    """A binary file to write that replaces ``target`` when the block ends without an error:
    a temporary file beside it (``.tmp-*suffix``), then a rename, so that readers and
    concurrent writers never see a half-written file; on an error it is removed. Creates
    ``target``'s folder when missing. The file gets the mode of any new file (``mkstemp``
    makes it 0600: a library's thumbnails and key points were unreadable to another user
    serving it read-only)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = new_file(target.parent, ".tmp-", suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def new_file(folder: Path, prefix: str, suffix: str) -> tuple[int, str]:
    """A new file in ``folder`` named ``prefix``, random letters, ``suffix``, opened for
    writing: its descriptor and path. Made as ``open`` makes a file (mode 0666 less the
    umask), where ``tempfile.mkstemp`` makes it 0600."""
    while True:
        name = os.path.join(folder, f"{prefix}{secrets.token_hex(8)}{suffix}")
        try:
            return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), name
        except FileExistsError:
            continue
