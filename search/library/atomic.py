"""Files of the library folder's caches written whole or not at all."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def replaced_whole(target: Path, suffix: str) -> Iterator[BinaryIO]:
    """A binary file to write that replaces ``target`` when the block ends without an error:
    a temporary file beside it (``.tmp-*suffix``), then a rename, so that readers and
    concurrent writers never see a half-written file; on an error it is removed. Creates
    ``target``'s folder when missing."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
