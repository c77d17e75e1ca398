"""Reading a file to index: once, its size from the open handle, its sha256 from those bytes.

Light on purpose (the standard library and :mod:`models`): a new library's first files are
read before the library is opened (:mod:`indexer.head_start`).
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

from models import (
    MAX_FILE_BYTES,
    ImageError,
    file_mtime_ns,
    hash_limited,
    is_streamed,
    open_image_file,
    read_limited,
)


@dataclass
class FileRead:
    """A file's bytes (dropped once they went to the decoders) and what identifies them;
    ``data`` is None for a file too large to hold (:func:`models.is_streamed`): it is hashed
    in chunks and decoded from ``path``."""

    data: bytes | None
    sha256: str
    size: int
    mtime_ns: int
    path: Path | None = None


def read_file(path: Path) -> FileRead:
    """Read ``path`` once (size from the open handle, so it matches the bytes) and hash it
    (hashlib lets other threads run while it hashes a large buffer). A file above
    :data:`models.files.STREAMED_ABOVE_BYTES` is only hashed, in chunks: its decoder reads
    it from the file (a 900 MB file of no image was held twice over before it was refused).
    A file deleted since the walk raises ``FileNotFoundError``: the run passes over it."""
    try:
        opened = open_image_file(path, MAX_FILE_BYTES)
    except ImageError:
        if not os.path.lexists(path):  # deleted since the walk: no failure to record
            raise FileNotFoundError(errno.ENOENT, "gone since the walk", str(path)) from None
        raise
    with opened as handle:
        st = os.fstat(handle.fileno())
        if is_streamed(st.st_size):
            sha, size = hash_limited(handle, str(path), MAX_FILE_BYTES)
            return FileRead(None, sha, size, file_mtime_ns(st), path)
        data = read_limited(handle, str(path), MAX_FILE_BYTES)
    sha = hashlib.sha256(data).hexdigest()
    return FileRead(data, sha, len(data), file_mtime_ns(st), path)


def decoder_source(read: FileRead, data: bytes | None, name: str) -> io.BytesIO | str:
    """What the decoders read: the bytes read, or the file's path for a streamed file."""
    if data is None:
        return str(read.path)
    source = io.BytesIO(data)
    source.name = name
    return source
