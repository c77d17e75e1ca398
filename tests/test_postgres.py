"""What differs on PostgreSQL, through the store and the CLI: column types, big numbers,
the database commands (check, upgrade, downgrade), stats."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import inspect

from cli.main import cli
from search.store import ChangeSet, ImageUpsert, ModelStamp, Store

STAMP = ModelStamp("test-model", "ab" * 32, 4)


@pytest.fixture
def pg_url(postgres_server) -> str:  # type: ignore[no-untyped-def]
    return str(postgres_server.database())


def test_vectors_are_bytea_and_big_numbers_round_trip(pg_url: str, tmp_path: Path) -> None:
    store = Store.open(pg_url, create=True)
    try:
        columns = {c["name"]: c["type"] for c in inspect(store.engine).get_columns("embeddings")}
        assert str(columns["vector"]) == "BYTEA"
        images = {c["name"]: str(c["type"]) for c in inspect(store.engine).get_columns("images")}
        assert images["file_size"] == images["mtime_ns"] == "BIGINT"
        store.bind_model(STAMP)
        cid = store.ensure_collection(tmp_path)
        vector = np.array([0.5, -0.5, 0.5, -0.5], np.float32)
        big = ImageUpsert(cid, "Big File.JPG", 5 * 2**40, 1_767_225_600_123_456_789, "f" * 64)
        big.vector = vector
        broken = ImageUpsert(cid, "broken.jpg", 3, 1, "e" * 64, status="failed")
        broken.error = "not_an_image: b'\x00\x01'"  # text never holds NUL on PostgreSQL
        (image_id,) = store.apply(ChangeSet(upserts=[big, broken])).vectors
        state = store.file_states(cid)["Big File.JPG"]
        assert (state.file_size, state.mtime_ns) == (5 * 2**40, 1_767_225_600_123_456_789)
        assert "big file.jpg" not in store.file_states(cid)  # paths keep their case
        np.testing.assert_array_equal(store.vectors([image_id])[image_id], vector)
    finally:
        store.close()


def test_database_commands(pg_url: str, tmp_path: Path) -> None:
    Store.open(pg_url, create=True).close()
    base = ["--library", str(tmp_path / "lib"), "--database-url", pg_url]
    runner = CliRunner()
    checked = runner.invoke(cli, [*base, "db", "check"])
    assert checked.exit_code == 0, checked.output
    assert "ok (the library's tables and every vector's size" in checked.output
    assert "SQLite" not in checked.output
    down = runner.invoke(cli, [*base, "db", "downgrade", "0003", "--yes", "--json"])
    assert down.exit_code == 0, down.output
    assert json.loads(down.stdout)["after"].startswith("0003")
    store = Store.open(pg_url)  # an older library is upgraded when opened
    store.close()
    current = runner.invoke(cli, [*base, "db", "current", "--json"])
    assert json.loads(current.stdout)["up_to_date"] is True
    stats = runner.invoke(cli, [*base, "stats", "--json"])
    assert stats.exit_code == 0, stats.output
    figures = json.loads(stats.stdout)
    assert figures["database_bytes"] > 0 and "postgresql" in figures["database"]


def test_db_check_of_a_database_without_a_library_does_not_call_it_damaged(
    postgres_server,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    """``db check`` of an empty PostgreSQL database (made for a library, not indexed yet)
    said "... is damaged: no imgsearch library in this database": now one line saying there is
    no library yet and what creates one; a database of another program's tables is named as
    not an imgsearch library. Neither is touched."""
    from sqlalchemy import create_engine, text

    from tests.cli_process import run_cli

    empty = str(postgres_server.database(empty=True))
    done = run_cli(["--database-url", empty, "db", "check"], tmp_path, timeout=120)
    assert done.returncode == 1 and "damaged" not in done.stdout + done.stderr, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "has no imgsearch library yet" in line and "index PATH` creates one" in line, line
    foreign = str(postgres_server.database(empty=True))
    engine = create_engine(foreign)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE invoices (id integer)"))
    done = run_cli(["--database-url", foreign, "db", "check", "--json"], tmp_path, timeout=120)
    assert done.returncode == 1 and "damaged" not in done.stdout + done.stderr, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "holds tables but no imgsearch library" in line, line
    with engine.connect() as connection:
        assert inspect(connection).get_table_names() == ["invoices"]
    engine.dispose()


def test_a_failed_first_index_leaves_no_library_in_the_database(
    postgres_server,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    data_dir: Path,
) -> None:
    """A first `index` without a model file failed "model not found" and left an empty library
    in the PostgreSQL database (`stats`: "0 indexed, model none yet"); SQLite left none. The
    model is now looked for before a server's database gets a library, as for SQLite."""
    from tests.cli_process import run_cli

    empty = str(postgres_server.database(empty=True))
    no_models = tmp_path / "no-models"
    no_models.mkdir()
    base = ["--database-url", empty, "--model-path", str(no_models)]
    env = {"IMGSEARCH_MODEL_PATH": str(no_models)}
    done = run_cli([*base, "index", str(data_dir / "ukbench_subset")], tmp_path, env=env)
    assert done.returncode == 1 and "mobilenet_v3_small_100_224.onnx" in done.stderr, done.stderr
    checked = run_cli(["--database-url", empty, "db", "check"], tmp_path, timeout=120)
    assert "has no imgsearch library yet" in checked.stderr, checked.stdout + checked.stderr


def test_a_plain_postgresql_url_gets_psycopg() -> None:
    from search.settings import Settings

    settings = Settings(database_url="postgresql://me@db.example/photos")
    assert settings.resolved_database_url == "postgresql+psycopg://me@db.example/photos"


def test_a_writer_that_missed_another_writers_batch_catches_up_with_one_rebuild(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two writers of one library (one machine: one cache file) commit in turn; the one
    whose in-memory index lacks the other's batch never saves it, and at its end rebuilds
    once; the other then loads that file instead of rebuilding."""
    from search.index import read_header
    from search.library import Library
    from search.settings import Settings
    from tests.indexer_helpers import count_builds, saved_index_ids

    settings = Settings(library=tmp_path / "lib", database_url=pg_url)
    rebuilds = count_builds(monkeypatch)
    one, two = Library.open(settings, create=True), Library.open(settings)
    try:
        one.store.bind_model(ModelStamp("test-model", "ab" * 32, 1024))
        cid = one.store.ensure_collection(tmp_path)

        def add(library: Library, name: str, seed: int) -> None:
            vector = np.random.default_rng(seed).standard_normal(1024).astype(np.float32)
            upsert = ImageUpsert(cid, name, 1, 1, f"{seed:064x}")
            upsert.vector = vector / np.linalg.norm(vector)
            library.apply(ChangeSet(upserts=[upsert]))
            library.save_index()

        add(one, "a.jpg", 1)
        assert two.index().ntotal == 1  # the file one saved: loaded, not rebuilt
        add(one, "b.jpg", 2)
        add(two, "c.jpg", 3)  # two's index lacks b: not saved over one's file
        saved = read_header(settings.index_path).stamp
        assert (saved["generation"], saved["count"]) == (2, 2)  # one's file, left as it was
        before = len(rebuilds)
        assert two.catch_up() is True
        assert len(rebuilds) == before + 1 and two.index().ntotal == 3
        store_ids, file_ids = saved_index_ids(settings)
        assert store_ids == file_ids == {1, 2, 3}
        assert one.catch_up() is True and one.index().ntotal == 3
        assert len(rebuilds) == before + 1  # one took the file two saved
        assert one.catch_up() is False and two.catch_up() is False
    finally:
        one.close()
        two.close()


def test_a_read_only_reader_cannot_write_on_the_server(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """IMGSEARCH_READ_ONLY on PostgreSQL: the reader's transactions are read-only in the
    server itself, so no code path of a reader can write; reads and `stats` work."""
    from sqlalchemy.exc import DBAPIError

    Store.open(pg_url, create=True).close()
    reader = Store.open(pg_url, read_only=True)
    try:
        assert reader.read_only and reader.get_meta("generation") == "0"
        with pytest.raises(DBAPIError, match="read-only transaction"):
            reader.set_meta("probe", "1")
    finally:
        reader.close()
    monkeypatch.setenv("IMGSEARCH_READ_ONLY", "1")
    base = ["--library", str(tmp_path / "lib"), "--database-url", pg_url]
    stats = CliRunner().invoke(cli, [*base, "stats", "--json"])
    assert stats.exit_code == 0, stats.output
    assert json.loads(stats.stdout)["images"] == 0


def test_a_server_database_without_a_library_names_the_sqlite_one_beside_it(
    postgres_server,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    """A user who indexed into the default SQLite library, then gave ``--database-url`` of a
    new PostgreSQL database, read only "no imgsearch library yet": each command now says
    that the SQLite library in the folder is another one, and how to read it."""
    from search.settings import DB_FILENAME
    from tests.cli_process import run_cli

    library = tmp_path / "lib"
    library.mkdir()
    Store.open(f"sqlite:///{library / DB_FILENAME}", create=True).close()
    empty = str(postgres_server.database(empty=True))
    options = ["--library", str(library), "--database-url", empty]
    for command in (["stats"], ["similar", "1"]):
        done = run_cli([*options, *command], tmp_path, timeout=120)
        (line,) = done.stderr.strip().splitlines()
        assert done.returncode == 1 and "has no imgsearch library yet" in line, line
        assert f"the SQLite library in {library} is another library" in line, line
    done = run_cli(
        ["--library", str(tmp_path / "none"), "--database-url", empty, "stats"], tmp_path
    )
    assert done.returncode == 1 and "SQLite" not in done.stderr, done.stderr  # none beside it
