"""Writes that a full disk or a file-size limit (``ulimit -f``) cuts short: a report or a
plot written again keeps the earlier one whole (`clusters -o` left it truncated, `eval --plot`
a 0-byte plot), the explore results leave no temporary files, and each error names its file
(they said "cannot use: No space left on device" of no file). The limit stands in for a full
disk: the same write fails the same way, without a file system to fill."""

from __future__ import annotations

import errno
import resource
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LIMIT_KIB = 48  # room for SQLite's 32 KiB shared-memory file, not for a report of 10 photos


@contextmanager
def file_size_limit(size: int) -> Iterator[None]:
    """This process may write files of at most ``size`` bytes inside (Python ignores
    SIGXFSZ: a write past it fails with EFBIG)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def test_a_file_size_limit_is_said_to_be_one(tmp_path: Path) -> None:
    """`index` under `ulimit -f 200` ended in "the library database ... could not be read or
    written (disk I/O error) (disk I/O error): check the disk" (SQLite's word for a write past
    the limit), and a report past it in "File too large" with no hint."""
    import sqlite3

    from cli.errors import describe_database_error, describe_os_error

    database = tmp_path / "imgsearch.sqlite3"
    database.write_bytes(b"")
    error = sqlite3.OperationalError("disk I/O error")
    said = describe_database_error(error, str(database))
    assert said.endswith("could not be read or written (disk I/O error): check the disk"), said
    too_large = OSError(errno.EFBIG, "File too large", "report.html")
    with file_size_limit(200 * 1024):
        said = describe_database_error(error, str(database))
        report = describe_os_error(too_large)
    assert said.count("disk I/O error") == 1, said
    assert "at most 200 KiB (the file-size limit, `ulimit -f`): raise that limit" in said, said
    assert report.startswith("cannot use report.html: File too large; ") and "200 KiB" in report
