"""Index runs that decode and embed in worker processes (``indexer.processes``), as a user
runs them: the command in its own process, 70 photos (a run from 64 files uses processes)."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from indexer.processes import PROCESSES_FROM, PROCESSES_FROM_BYTES, worker_processes
from tests.cli_process import AS_FROM_A_TERMINAL, ENTRY, cli_env, run_cli
from tests.indexer_helpers import copy_photos, photo_paths

PHOTOS = 70
WORKERS = "2"  # processes need two cores: the suite's machine may lend one


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    folder = tmp_path_factory.mktemp("processes") / "photos"
    copy_photos(photo_paths(data_dir, PHOTOS // 2), folder / "ants")
    copy_photos(photo_paths(data_dir, PHOTOS // 2, "train/bees"), folder / "bees")
    return folder


def _index_args(library: Path, folder: Path, models_dir: Path) -> list[str]:
    args = ["-v", "--library", str(library), "--model-path", str(models_dir), "index"]
    return [*args, "--workers", WORKERS, "--descriptor", "whiten=off", "--no-progress", str(folder)]


def _index(
    library: Path, folder: Path, models_dir: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_cli(_index_args(library, folder, models_dir), library.parent, env=env)


def _spawn_index(library: Path, folder: Path, models_dir: Path) -> subprocess.Popen[str]:
    """The command in a process group of its own (as a terminal starts it), once its
    workers are forked."""
    proc = subprocess.Popen(
        # Ctrl+C as a terminal delivers it: a suite started in the background (`.ci/run &`)
        # passes SIGINT on ignored, and the command rightly kept ignoring it (exit 0)
        [*AS_FROM_A_TERMINAL, *ENTRY, *_index_args(library, folder, models_dir)],
        cwd=library.parent,
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a terminal's process group: Ctrl+C goes to all of it
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if "worker processes decode and embed" in line:
            break
    return proc


def _rows(library: Path) -> dict[str, tuple[str, str | None, bytes | None]]:
    """Each file's status, error and vector, by its path in the collection."""
    with closing(sqlite3.connect(library / "imgsearch.sqlite3")) as db:
        rows = db.execute(
            "SELECT i.rel_path, i.status, i.error, e.vector FROM images i "
            "LEFT JOIN embeddings e ON e.image_id = i.id"
        ).fetchall()
    return {path: (status, error, vector) for path, status, error, vector in rows}


def test_worker_processes_for_large_runs_that_learn_nothing() -> None:
    many, few = [1000] * PROCESSES_FROM, [1000] * (PROCESSES_FROM - 1)
    assert worker_processes(2, many, local=True) == 2
    assert worker_processes(8, many, local=True) == 4  # at most 4
    assert worker_processes(2, few, local=True) == 0
    assert worker_processes(2, [PROCESSES_FROM_BYTES], local=True) == 2
    assert worker_processes(2, many, local=False) == 0  # a Dask cluster
    assert worker_processes(2, many, local=True, allowed=False) == 0
    assert worker_processes(1, many, local=True) == 0


def test_processes_store_what_threads_store(tmp_path: Path, photos: Path, models_dir: Path) -> None:
    """A new library's first files go to the workers before it is opened; the rows and
    vectors are those of a run in threads (IMGSEARCH_DECODE_PROCESSES=0)."""
    (tmp_path / "p").mkdir()
    (tmp_path / "t").mkdir()
    done = _index(tmp_path / "p" / "library", photos, models_dir)
    assert done.returncode == 0, done.stderr
    assert "2 worker processes decode and embed" in done.stderr
    assert "64 files were read and decoded before the library was opened, 64 of them used" in (
        done.stderr
    )
    threads = _index(
        tmp_path / "t" / "library", photos, models_dir, env={"IMGSEARCH_DECODE_PROCESSES": "0"}
    )
    assert threads.returncode == 0, threads.stderr
    assert "worker processes" not in threads.stderr
    mine, theirs = _rows(tmp_path / "p" / "library"), _rows(tmp_path / "t" / "library")
    assert mine.keys() == theirs.keys() and len(mine) == PHOTOS
    for path, (status, _error, vector) in mine.items():
        assert status == theirs[path][0] == "ok", path
        assert vector is not None and theirs[path][2] is not None
        a, b = np.frombuffer(vector, np.float32), np.frombuffer(theirs[path][2], np.float32)
        assert np.allclose(a, b, atol=1e-5), path


@pytest.mark.parametrize("victim", [2, PROCESSES_FROM + 2])  # a first file, a later one
def test_a_file_that_kills_its_decoder_fails_alone(
    tmp_path: Path, photos: Path, models_dir: Path, victim: int
) -> None:
    """A decoder that takes its process down (a crafted file) broke the pool: the run goes
    on in a new one, and that file alone is recorded as failed."""
    files = sorted(p.relative_to(photos).as_posix() for p in photos.rglob("*.jpg"))
    name = files[victim]
    done = _index(
        tmp_path / "library",
        photos,
        models_dir,
        env={"IMGSEARCH_TEST_CRASH_DECODER_ON": Path(name).name},
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    rows = _rows(tmp_path / "library")
    failed = {path: error for path, (status, error, _v) in rows.items() if status != "ok"}
    assert list(failed) == [name], failed
    assert "decoder_crashed" in (failed[name] or "")
    assert sum(vector is not None for _s, _e, vector in rows.values()) == PHOTOS - 1


def test_ctrl_c_stops_the_workers_and_the_next_run_finishes(
    tmp_path: Path, photos: Path, models_dir: Path
) -> None:
    """Ctrl+C reaches the whole process group, workers included: they leave it to the
    command, which says so, exits 130 and leaves no process behind; the next run
    finishes the library."""
    library = tmp_path / "library"
    proc = _spawn_index(library, photos, models_dir)
    try:
        time.sleep(0.3)
        os.killpg(proc.pid, signal.SIGINT)
        _out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)  # nobody is left in its group
    again = _index(library, photos, models_dir)
    assert again.returncode == 0, again.stderr
    rows = _rows(library)
    assert len(rows) == PHOTOS and all(status == "ok" for status, _e, _v in rows.values())


def test_workers_end_when_the_command_is_killed(
    tmp_path: Path, photos: Path, models_dir: Path
) -> None:
    """``kill -9`` of the command leaves no worker behind: each ends once its parent is gone
    (orphans would wait on their task queue for ever, holding their memory)."""
    proc = _spawn_index(tmp_path / "library", photos, models_dir)
    try:
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        assert len(children) == 2, children
        proc.kill()
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(Path(f"/proc/{c}").exists() for c in children):
            time.sleep(0.2)
        alive = [c for c in children if Path(f"/proc/{c}/stat").exists()]
        states = [Path(f"/proc/{c}/stat").read_text().split()[2] for c in alive]
        assert all(state == "Z" for state in states), states  # gone (or a zombie of init's)
    finally:
        proc.kill()


def test_a_first_run_that_learns_the_whitening_learns_it_in_the_workers_alike(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """From 100 photos a new library learns its whitening from edits of its photos: the
    workers make and embed them (the early files again, with their edits); the whitening (in
    the directions it keeps) and the calibration are those a run in threads learns, with
    byte-identical copies too (an audit's set, whose copies the two wrote in another order,
    gave dedup thresholds of 0.683 and 0.653 while the background's pairs were drawn by id;
    this smaller set keeps one order either way)."""
    folder = tmp_path / "photos"
    copy_photos(photo_paths(data_dir, 60), folder / "ants")
    copy_photos(photo_paths(data_dir, 60, "train/bees"), folder / "bees")
    for n, source in enumerate(photo_paths(data_dir, 5, "val/ants")):
        for copy in range(4):
            (folder / "a-copies").mkdir(exist_ok=True)
            (folder / "a-copies" / f"c{n}_{copy}.jpg").write_bytes(source.read_bytes())
    calibrations, projections = [], []
    for mode in ("1", "0"):
        library = tmp_path / mode / "library"
        library.parent.mkdir()
        args = ["-v", "--library", str(library), "--model-path", str(models_dir), "index"]
        args += ["--workers", WORKERS, "--no-progress", str(folder)]
        done = run_cli(args, tmp_path, env={"IMGSEARCH_DECODE_PROCESSES": mode})
        assert done.returncode == 0, done.stderr
        assert ("worker processes decode and embed" in done.stderr) == (mode == "1")
        assert "learned the whitening from 250 edits of 125 photos" in done.stdout, done.stdout
        with closing(sqlite3.connect(library / "imgsearch.sqlite3")) as db:
            state = dict(db.execute("SELECT key, data FROM descriptor_state"))
        calibrations.append(json.loads(state["calibration"]))
        projections.append(np.load(io.BytesIO(state["whitening"]))["projection"][:128])
    assert calibrations[0] == calibrations[1]
    same = np.minimum(
        np.abs(projections[0] - projections[1]).max(axis=1),
        np.abs(projections[0] + projections[1]).max(axis=1),
    )
    assert same.max() < 1e-4  # each kept direction, up to its sign


def test_a_run_whose_workers_cannot_be_forked_decodes_in_threads(
    tmp_path: Path,
    photos: Path,
    models_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A limit on processes (fork: EAGAIN) is said in a warning, and the run is done in
    threads, a new library's and an existing one's alike."""
    from click.testing import CliRunner

    from cli.main import cli

    def no_fork(self: object) -> None:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setenv("IMGSEARCH_DECODE_PROCESSES", "1")  # (the suite's in-process default: 0)
    monkeypatch.setattr("indexer.processes.ProcessAnalyzer._start", no_fork)
    empty = tmp_path / "empty"
    empty.mkdir()
    for name, first in (("new", None), ("existing", empty)):  # head start; the pipeline's
        library = tmp_path / name
        args = ["--library", str(library), "--model-path", str(models_dir), "index"]
        args += ["--workers", WORKERS, "--descriptor", "whiten=off", "--no-progress"]
        if first is not None:
            assert CliRunner().invoke(cli, [*args, str(first)]).exit_code == 0
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="indexer.processes"):
            done = CliRunner().invoke(cli, [*args, str(photos)])
        assert done.exit_code == 0, done.output
        assert "cannot start 2 worker processes" in caplog.text, (name, caplog.text)
        rows = _rows(library)
        assert len(rows) == PHOTOS and all(status == "ok" for status, _e, _v in rows.values())


@pytest.mark.postgres
def test_processes_index_into_either_store(
    tmp_path: Path, photos: Path, models_dir: Path, database_url: str | None
) -> None:
    """The workers are forked while the command holds its database (PostgreSQL: a server
    connection) and never touch it; the writer commits every row."""
    library = tmp_path / "library"
    args = _index_args(library, photos, models_dir)
    if database_url is not None:
        args = ["--database-url", database_url, *args]
    empty = tmp_path / "empty"
    empty.mkdir()
    first = [*args[:-1], str(empty)]  # an existing library: the pipeline forks the workers
    assert run_cli(first, tmp_path).returncode == 0
    done = run_cli([*args[:-1], "--json", str(photos)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "2 worker processes decode and embed" in done.stderr
    summary = json.loads(done.stdout)
    assert (summary["added"], summary["failed"]) == (PHOTOS, 0), summary
