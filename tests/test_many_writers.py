"""Many writers on one PostgreSQL library: `imgsearch index` processes at once, coordinated
by advisory locks in the database (not a lock file beside one machine's library)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from search.store import Store
from tests.cli_process import ENTRY, cli_env, run_cli
from tests.indexer_helpers import copy_photos, photo_paths

pytestmark = pytest.mark.slow  # index processes and searches as subprocesses


@pytest.fixture
def pg_url(postgres_server) -> str:  # type: ignore[no-untyped-def]
    """A fresh, empty PostgreSQL database: the first processes create the library in it at
    once (SQLite has one writer: its file lock)."""
    return str(postgres_server.database(empty=True))


@pytest.fixture
def folders(tmp_path: Path, data_dir: Path) -> list[Path]:
    """Four collections of 5 photos; ``d`` also holds a byte copy of one of ``a``."""
    photos = photo_paths(data_dir, 20, "train/bees")
    made = []
    for n, name in enumerate("abcd"):
        made.append(tmp_path / "photos" / name)
        copy_photos(photos[5 * n : 5 * n + 5], made[-1])
    copy_photos(photos[:1], made[3] / "copied")
    return made


def _index(cwd: Path, url: str, models: Path, *paths: Path) -> subprocess.Popen[str]:
    args = ["--database-url", url, "--model-path", str(models), "index", "--no-progress"]
    return subprocess.Popen(
        [*ENTRY, *args, "--json", *map(str, paths)],
        cwd=cwd,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_four_index_runs_at_once_over_overlapping_folders(
    tmp_path: Path, pg_url: str, folders: list[Path], models_dir: Path
) -> None:
    a, b, c, d = folders
    # two "machines" (library folders: their own FAISS caches), two processes each; every
    # collection is indexed by two processes at once
    machines = [tmp_path / "one", tmp_path / "two"]
    for machine in machines:
        machine.mkdir()
    runs = [
        _index(machines[0], pg_url, models_dir, a, b),
        _index(machines[0], pg_url, models_dir, b, c),
        _index(machines[1], pg_url, models_dir, c, d),
        _index(machines[1], pg_url, models_dir, d, a),
    ]
    outputs = [run.communicate(timeout=600) for run in runs]
    for run, (out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err
        assert json.loads(out)["failed"] == 0
    added = sum(json.loads(out)["added"] for out, _err in outputs)
    assert added == 21  # each photo added by exactly one run; the other saw it unchanged

    store = Store.open(pg_url)
    try:
        collections = {Path(str(c["root"])): int(c["images"]) for c in store.collections()}
        assert collections == {a: 5, b: 5, c: 5, d: 6}
        for collection in store.collections():
            rows = store.file_states(int(collection["id"]))
            on_disk = {p.relative_to(collection["root"]).as_posix() for p in _files(collection)}
            assert set(rows) == on_disk  # every photo exactly once, none lost
        assert store.counts() == {"images": 21, "failed": 0, "vectors": 21}
        assert store.generation() >= 2  # one or two commits by each run that added photos
    finally:
        store.close()

    # every machine's search answers from the whole library
    query = a / sorted(p.name for p in a.iterdir())[0]
    for machine in machines:
        found = run_cli(
            ["--database-url", pg_url, "search", str(query), "--json", "-k", "30"], machine
        )
        assert found.returncode == 0, found.stderr
        hits = json.loads(found.stdout)["results"]
        assert len(hits) == 21 and Path(hits[0]["path"]).name == query.name


def _files(collection: dict[str, object]) -> list[Path]:
    return [p for p in Path(str(collection["root"])).rglob("*.jpg") if p.is_file()]


def test_a_held_collection_makes_a_second_run_wait_and_maintenance_fail(
    tmp_path: Path, pg_url: str, folders: list[Path], models_dir: Path
) -> None:
    from click.testing import CliRunner

    from cli.main import cli
    from search.library import Library
    from search.settings import Settings

    a, b = folders[:2]
    settings = Settings(library=tmp_path / "lib", database_url=pg_url, model_path=(models_dir,))
    base = ["--library", str(settings.library), "--database-url", pg_url]
    base += ["--model-path", str(models_dir)]
    runner = CliRunner()
    # the locks are the database's: this process's session holds one, the commands' own
    # sessions (connections of their engines) meet it as another process would
    with Library.open(settings, create=True) as library, library.locks.index_run([a]):
        assert library.writer_active()  # the lock's session is another one than the reader's
        other = runner.invoke(cli, [*base, "index", "--no-progress", "--json", str(b)])
        assert other.exit_code == 0, other.output  # a disjoint collection: written at once
        assert json.loads(other.stdout)["added"] == 5
        held = runner.invoke(
            cli, [*base, "index", "--no-progress", str(a)], env={"IMGSEARCH_LOCK_WAIT": "1"}
        )
        assert held.exit_code != 0
        assert f"another imgsearch process has held the collection {a}" in held.output
        assert "Traceback" not in held.output
        removal = runner.invoke(cli, [*base, "remove", str(b)])
        assert removal.exit_code != 0 and "another imgsearch process" in removal.output
    done = runner.invoke(cli, [*base, "index", "--no-progress", "--json", str(a)])
    assert done.exit_code == 0, done.output  # released: it runs now
    assert json.loads(done.stdout)["images_total"] == 10
