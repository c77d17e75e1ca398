"""Reading a file to index: once, its size from the open handle, its sha256 from those bytes.

Light on purpose (the standard library and :mod:`models`): a new library's first files are
read before the library is opened (:mod:`indexer.head_start`).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from models import MAX_FILE_BYTES, open_image_file, read_limited


@dataclass
class FileRead:
    """A file's bytes (dropped once they went to the decoders) and what identifies them."""

    data: bytes
    sha256: str
    size: int
    mtime_ns: int


def read_file(path: Path) -> FileRead:
    """Read ``path`` once (size from the open handle, so it matches the bytes) and hash it
    (hashlib lets other threads run while it hashes a large buffer)."""
    with open_image_file(path, MAX_FILE_BYTES) as handle:
        st = os.fstat(handle.fileno())
        data = read_limited(handle, str(path), MAX_FILE_BYTES)
    return FileRead(data, hashlib.sha256(data).hexdigest(), len(data), st.st_mtime_ns)
