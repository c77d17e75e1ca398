"""`kill -9` an `imgsearch index` subprocess at several points, then let it finish.

After every kill the library must open with SQLite and FAISS in agreement; the run that
finally completes must leave every photo indexed exactly once, with a saved FAISS file whose
stamp matches the store (no rebuild needed), and must not redo committed work.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import select

from search.library import Library
from search.settings import Settings
from search.store import IndexRun, LibraryNotFoundError
from tests.cli_process import AS_FROM_A_TERMINAL
from tests.indexer_helpers import copy_photos, photo_paths, saved_index_ids

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parent.parent
TOTAL = 120

# The CLI, with the FAISS file writer slowed down only for the final save (every vector in
# the store), after it has written half the file: a kill then lands inside the atomic save.
RUNNER = """
import os, sys, time
import search.index.file_format as index_io
original = index_io.write_file
def write_file(path, write_faiss, arrays, header):
    def faiss_part(write):
        write_faiss(write)
        if header["stamp"]["count"] == int(os.environ["CRASH_TEST_TOTAL"]):
            print("CRASH-TEST: final save in progress", file=sys.stderr, flush=True)
            time.sleep(float(os.environ.get("CRASH_TEST_SAVE_SLEEP", "0")))
    return original(path, faiss_part, arrays, header)
index_io.write_file = write_file
from cli.main import main
main()
"""


def db_rows(db: Path) -> int:
    """Committed image rows, read as a separate reader (WAL lets it go on)."""
    if not db.exists():
        return 0
    # not read-only: after a kill -9 the first reader must be able to recover the WAL (a
    # read-only one gets an error, which read as "0 rows" and failed the test at random).
    # Closed at once: Python's sqlite3 connections live until the cyclic GC otherwise, and
    # copytree()'s plain open()/close() of the files then dropped their POSIX locks, so the
    # next index run truncated the shared-memory file they still had mapped (the "database
    # disk image is malformed" and bus errors this test saw at random).
    try:
        with closing(sqlite3.connect(db, timeout=30)) as connection:
            return connection.execute("select count(*) from images").fetchone()[0]
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):  # created, schema not yet written
            return 0
        raise


class IndexProcess:
    def __init__(self, library: Path, models_dir: Path, root: Path, save_sleep: float = 0):
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO_ROOT),
            "CRASH_TEST_TOTAL": str(TOTAL),
            "CRASH_TEST_SAVE_SLEEP": str(save_sleep),
        }
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                RUNNER,
                "--library",
                str(library),
                "--model-path",
                str(models_dir),
                "index",
                "--json",
                "--no-progress",
                "--batch-size",
                "8",
                "--workers",
                "2",
                str(root),
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stderr: list[str] = []
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    def kill_when(self, condition: Callable[[], bool], timeout: float = 60) -> bool:
        """SIGKILL as soon as ``condition`` holds; False if the process ended first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if condition():
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait(timeout=30)
                return True
            time.sleep(0.01)
        raise AssertionError(f"condition not reached in {timeout} s: {''.join(self.stderr)}")

    def finish(self, timeout: float = 120) -> dict:  # type: ignore[type-arg]
        out, _ = self.proc.communicate(timeout=timeout)
        self._reader.join(timeout=5)
        assert self.proc.returncode == 0, "".join(self.stderr)
        return json.loads(out)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def check_library(settings: Settings) -> tuple[set[int], set[str]]:
    """Open the library as any reader would: the index it gives matches the store.

    Called on a copy after a kill, so that a rebuilt cache does not help the next run."""
    with Library.open(settings) as library:
        store_ids = {int(i) for ids, _ in library.store.iter_vectors() for i in ids}
        index = library.index()
        assert {int(i) for i in index.ids()} == store_ids
        assert index.ntotal == len(store_ids) == library.store.vector_count()
        rows = library.store.reads.images(sorted(store_ids))
        assert all(row.status == "ok" for row in rows.values())
        return store_ids, {row.rel_path for row in rows.values()}


def test_kill_minus_nine_at_any_point_then_resume(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    staging = tmp_path / "staging"
    copy_photos(photo_paths(data_dir, TOTAL // 2, "train/ants"), staging / "ants")
    copy_photos(photo_paths(data_dir, TOTAL // 2, "train/bees"), staging / "bees")
    photos = sorted(staging.glob("*/*.jpg"), key=lambda p: (p.name, p.parent.name))
    assert len(photos) == TOTAL
    groups = [photos[i::6] for i in range(6)]  # 20 each; a new group before most runs
    root = tmp_path / "photos"
    library = tmp_path / "library"
    settings = Settings(library=library, model_path=(models_dir,))
    db = settings.database_path
    kills: list[tuple[str, int]] = []

    def add(group: list[Path]) -> None:  # so every run has work, however fast the machine
        for photo in group:
            (root / photo.parent.name).mkdir(parents=True, exist_ok=True)
            shutil.move(photo, root / photo.parent.name / photo.name)

    def run_and_kill(
        label: str, condition: Callable[[IndexProcess], bool], save_sleep: float = 0
    ) -> None:
        process = IndexProcess(library, models_dir, root, save_sleep)
        try:
            killed = process.kill_when(lambda: condition(process))
        finally:
            process.stop()
        rows = db_rows(db)
        kills.append((label if killed else f"{label} (ended first)", rows))
        if db.exists():
            copy = tmp_path / f"check-{len(kills)}"
            shutil.copytree(library, copy)  # the killed process left db, WAL and cache as is
            try:
                check_library(Settings(library=copy, model_path=(models_dir,)))
            except LibraryNotFoundError:  # killed while it created the library's tables (one
                assert rows == 0  # transaction): no library yet, the next run makes one

    def since_start(seconds: float) -> Callable[[IndexProcess], bool]:
        return lambda p: time.monotonic() - p.started >= seconds

    def after_rows(count: int) -> Callable[[IndexProcess], bool]:
        base = db_rows(db)
        return lambda p: db_rows(db) >= base + count

    add(groups[0])
    add(groups[1])
    run_and_kill("0.5 s", since_start(0.5))
    run_and_kill("first batch", after_rows(8))
    add(groups[2])
    run_and_kill("1.5 s", since_start(1.5))
    add(groups[3])
    run_and_kill("3 s", since_start(3.0))
    add(groups[4])
    run_and_kill("second batch", after_rows(16))
    add(groups[5])
    run_and_kill(
        "final save", lambda p: any("final save" in line for line in p.stderr), save_sleep=60
    )
    print("kill points (point, committed rows):", kills)
    assert kills[-1][0] == "final save", kills
    assert sum(0 < rows < TOTAL for _label, rows in kills) >= 2, f"few kills mid-run: {kills}"
    assert db_rows(db) == TOTAL, kills  # every batch was committed before the final save
    assert list(library.glob(".index.faiss.*.tmp")), "the kill should leave a half-saved file"
    expected = {f"{p.parent.name}/{p.name}" for p in root.glob("*/*.jpg")}
    assert len(expected) == TOTAL

    before = db_rows(db)
    summary = IndexProcess(library, models_dir, root).finish()
    assert summary["added"] == TOTAL - before and summary["failed"] == 0, summary
    assert summary["images_total"] == TOTAL and summary["removed"] == 0
    ids, rels = check_library(settings)
    assert not list(library.glob(".index.faiss.*.tmp"))  # the next run tidied up
    assert rels == expected and len(ids) == TOTAL  # every photo exactly once

    # the completed run saved a cache that is current: it loads against the store's stamp
    store_ids, file_ids = saved_index_ids(settings)
    assert store_ids == file_ids == ids
    with Library.open(settings) as lib, lib.store.session() as session:
        statuses = [r.status for r in session.scalars(select(IndexRun).order_by(IndexRun.id))]
    # killed runs are marked by the next run (a kill after finish_run leaves "done")
    assert statuses[-1] == "done" and set(statuses) <= {"interrupted", "done"}, statuses
    assert statuses.count("interrupted") >= 3, statuses


@pytest.mark.slow
def test_ctrl_c_says_what_is_kept_and_the_next_run_finishes(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """Ctrl+C in the middle of `imgsearch index`: one line saying the images indexed so far
    are kept and to run it again, exit 130, no traceback (click said "Aborted!", exit 1);
    the same command then finishes the job."""
    photos = sorted((data_dir / "hymenoptera" / "images" / "train").rglob("*.jpg"))[:160]
    root = tmp_path / "photos"
    root.mkdir()
    for number, photo in enumerate(photos):
        shutil.copyfile(photo, root / f"{number:03d}_{photo.name}")
    library = tmp_path / "library"
    args = ["--library", str(library), "--model-path", str(models_dir), "index"]
    args += ["--no-progress", "--batch-size", "8", "--workers", "1", str(root)]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(
        [*AS_FROM_A_TERMINAL, sys.executable, "-c", "from cli.main import main; main()", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while db_rows(library / "imgsearch.sqlite3") == 0 and proc.poll() is None:
        assert time.monotonic() < deadline, "no batch was written"
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the run finished before it could be interrupted")
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "Aborted" not in err, err
    assert "interrupted: the images indexed so far are saved" in err, err
    assert f"run `{shlex.join(['imgsearch', *args])}` to finish" in err, err  # as typed
    kept = db_rows(library / "imgsearch.sqlite3")
    assert 0 < kept < len(photos)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from cli.main import main; main()",
            *args[:-1],
            "--json",
            str(root),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["added"] == len(photos) - kept and summary["failed"] == 0
