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

import numpy as np
import pytest

from tests.cli_process import relative_library, run_cli
from tests.indexer_helpers import photo_paths

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


def test_a_report_cut_short_keeps_the_earlier_one(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    relative_library(tmp_path, photo_paths(data_dir, 10), models_dir)
    done = run_cli(["clusters", "-o", "clusters.html"], tmp_path)
    assert done.returncode == 0, done.stderr
    report = tmp_path / "clusters.html"
    earlier = report.read_bytes()
    assert len(earlier) > LIMIT_KIB * 1024
    report.write_bytes(earlier[:1000])  # an earlier, smaller report than the next one
    limited = ["bash", "-c", f'ulimit -f {LIMIT_KIB} && exec "$@"', "limited"]

    done = run_cli(["clusters", "-o", "clusters.html"], tmp_path, prefix=limited)
    assert done.returncode == 1, done.stdout + done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "clusters.html: File too large" in line and "`ulimit -f`" in line, line
    assert f"at most {LIMIT_KIB} KiB" in line, line
    assert report.read_bytes() == earlier[:1000]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "clusters.html",
        "imgsearch-library",
        "photos",
    ]


@pytest.mark.slow
def test_a_plot_cut_short_keeps_the_earlier_one(tmp_path: Path) -> None:
    from search.evaluation import parse_truth, plot_evaluation, run_evaluation

    names = [f"{group}{i}.jpg" for group in "ab" for i in range(3)]
    truth = parse_truth(
        {"clusters": {"a": names[:3], "b": names[3:]}}, root=tmp_path / "photos", name="t"
    )
    angles = np.radians([0, 5, 20, 90, 100, 130])
    vectors = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
    evaluation = run_evaluation(names, vectors, truth)
    plot = plot_evaluation(evaluation, tmp_path / "pr.png")
    earlier = plot.read_bytes()
    assert len(earlier) > 8192

    with pytest.raises(OSError) as failed, file_size_limit(4096):
        plot_evaluation(evaluation, plot)
    assert failed.value.errno == errno.EFBIG and failed.value.filename == str(plot)
    assert plot.read_bytes() == earlier
    assert [p.name for p in tmp_path.iterdir()] == ["pr.png"]


def test_the_writer_lock_that_cannot_be_written_is_named(tmp_path: Path) -> None:
    """The library folder on a full disk: `index` said "cannot use: No space left on device"."""
    from cli.errors import describe_os_error
    from search.library import writer_lock

    lock = tmp_path / "library" / ".writer.lock"
    with pytest.raises(OSError) as failed, file_size_limit(0), writer_lock(lock.parent):
        pass
    assert failed.value.filename == str(lock)
    assert describe_os_error(failed.value).startswith(f"cannot use {lock}: File too large")
    with writer_lock(lock.parent):  # room again: taken as ever
        assert lock.read_text().isdigit()


def test_an_explore_result_that_cannot_be_written_leaves_no_temporary_file(
    tmp_path: Path,
) -> None:
    from search.explore.cache import ResultCache

    cache = ResultCache(tmp_path)
    stamp = {"library": "x", "generation": 1}
    cache.put("small", stamp, {"labels": np.arange(5)})
    with file_size_limit(4096):
        cache.put("large", stamp, {"labels": np.arange(100_000)})
    assert [p.name for p in (tmp_path / "explore").iterdir()] == ["small.npz"]
    held = cache.get("large", stamp)  # kept in memory for this process
    assert held is not None and len(held["labels"]) == 100_000


def test_temporary_files_of_killed_writes_go_after_a_minute(tmp_path: Path) -> None:
    """Those a killed process (or an earlier version, on a full disk) left in the results
    folder: the next write deletes them once a minute old, as `imgsearch prune` does."""
    import os
    import time

    from search.explore.cache import ResultCache

    folder = tmp_path / "explore"
    folder.mkdir()
    stale = [folder / "tmpk1ll3d.tmp", folder / ".tmp-k1ll3d.tmp"]
    fresh = folder / ".tmp-writing.tmp"  # another process's write under way
    for path in [*stale, fresh]:
        path.write_bytes(b"cut short")
    hours_ago = time.time() - 7200
    for path in stale:
        os.utime(path, (hours_ago, hours_ago))
    ResultCache(tmp_path).put("result", {"generation": 1}, {"labels": np.arange(5)})
    assert sorted(p.name for p in folder.iterdir()) == [fresh.name, "result.npz"]


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


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_output_onto_a_full_disk_is_one_line_naming_the_output(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """`imgsearch stats --json > status.json` on a full disk (/dev/full here) said "cannot
    use: No space left on device" (of no file: the library's disk?), then Python's
    "Exception ignored", status 120; `--help` and `--version` a 30-line traceback. Each now
    ends with one line naming the standard output, status 1 - buffered or not."""
    import subprocess

    from tests.cli_process import ENTRY, cli_env

    photos = photo_paths(data_dir, 3)
    relative_library(tmp_path, photos, models_dir)
    query = f"photos/{photos[0].name}"
    said = (
        "Error: cannot write the output (standard output): No space left on device; the "
        "disk is full: free some space\n"
    )
    commands = [["--help"], ["--version"], ["stats"], ["stats", "--json"], ["search", query]]
    for args in commands:
        for unbuffered in ("1", ""):
            with open("/dev/full", "w") as full:
                done = subprocess.run(
                    [*ENTRY[:1], *ENTRY[2:], *args],  # without -u: as the shell runs it
                    cwd=tmp_path,
                    env=cli_env({"PYTHONUNBUFFERED": unbuffered}),
                    stdout=full,
                    stderr=subprocess.PIPE,
                    text=True,
                    timeout=120,
                    check=False,
                )
            assert (done.returncode, done.stderr) == (1, said), (args, unbuffered, done.stderr)
