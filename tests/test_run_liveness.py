"""A killed `imgsearch index` run reads `interrupted`, a live one `running`: in `stats`, and
for the next run, which records the dead ones so and leaves the live ones be (PostgreSQL:
several runs write at once, each holding its own liveness lock; SQLite: the library's)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from search.store import Store
from tests.cli_process import ENTRY, cli_env, run_cli
from tests.indexer_helpers import copy_photos, photo_paths

pytestmark = [pytest.mark.slow, pytest.mark.postgres]  # index processes killed mid-run


def _base(library: Path, url: str | None, models: Path) -> list[str]:
    base = ["--library", str(library), "--model-path", str(models)]
    return base + (["--database-url", url] if url else [])


def _start(cwd: Path, base: list[str], folder: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*ENTRY, *base, "index", "--no-progress", str(folder)],
        cwd=cwd,
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _statuses(url: str) -> dict[int, str]:
    """Every recorded run's status by id, as the database holds it ({}: no library yet)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT id, status FROM index_runs ORDER BY id"))
            return {int(run_id): str(status) for run_id, status in rows}
    except OperationalError:  # the first run is creating the library
        return {}
    finally:
        engine.dispose()


def _wait(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _last_run(cwd: Path, base: list[str]) -> dict[str, object]:
    shown = run_cli([*base, "stats", "--json"], cwd)
    assert shown.returncode == 0, shown.stderr
    return dict(json.loads(shown.stdout)["last_run"])


@contextmanager
def _killed_at_exit(*processes: subprocess.Popen[str]) -> Iterator[None]:
    try:
        yield
    finally:
        for process in processes:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()


def test_a_killed_run_reads_interrupted_and_a_live_one_running(
    tmp_path: Path,
    backend: str,
    database_url: str | None,
    data_dir: Path,
    models_dir: Path,
) -> None:
    photos = photo_paths(data_dir, 24, "train/bees")
    a = tmp_path / "photos" / "a"
    b = tmp_path / "photos" / "b"
    copy_photos(photos[:20], a)
    copy_photos(photos[20:], b)
    library = tmp_path / "library"
    base = _base(library, database_url, models_dir)
    url = database_url or f"sqlite:///{library / 'imgsearch.sqlite3'}"
    pausing = ExitStack()
    if database_url:  # PostgreSQL: runs pause where they wait for another one's end
        holder = Store.open(database_url, create=True)
        pausing.callback(holder.close)
        pausing.enter_context(holder.locks.finish(60, "test"))  # type: ignore[union-attr]
    first = _start(tmp_path, base, a)
    with pausing, _killed_at_exit(first):
        _wait(lambda: "running" in _statuses(url).values(), "the first run's record")
        if not database_url:  # SQLite: one writer; stopped mid-run, it holds the library
            os.kill(first.pid, signal.SIGSTOP)
        (first_id,) = (i for i, status in _statuses(url).items() if status == "running")

        shown = _last_run(tmp_path, base)  # (figures of a run in progress are not kept)
        assert (shown["id"], shown["status"]) == (first_id, "running")  # live: busy

        if database_url:  # a second run over another collection starts beside the live one
            second = _start(tmp_path, base, b)
            with _killed_at_exit(second):
                _wait(lambda: len(_statuses(url)) == 2, "the second run's record")
                assert _statuses(url)[first_id] == "running"  # live: left be
                os.kill(second.pid, signal.SIGKILL)
                second.wait()
            second_id = max(_statuses(url))
            shown = _last_run(tmp_path, base)  # its lock went with its connection
            assert (shown["id"], shown["status"]) == (second_id, "interrupted")

        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    shown = _last_run(tmp_path, base)  # (a summary saved while it ran would match here)
    assert shown["status"] == "interrupted", shown  # dead: not "running" for ever
    assert _statuses(url)[int(shown["id"])] == "running"  # as recorded, until the next run

    done = run_cli([*base, "index", "--no-progress", "--json", str(b)], tmp_path)
    assert done.returncode == 0, done.stderr
    statuses = _statuses(url)
    assert list(statuses.values())[-1] == "done"
    store = Store.open(url)
    try:
        assert store.runs.unfinished() == []  # the dead runs are recorded as interrupted
    finally:
        store.close()
