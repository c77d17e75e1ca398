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
    down = runner.invoke(cli, [*base, "db", "downgrade", "0003", "--json"])
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


def test_a_plain_postgresql_url_gets_psycopg() -> None:
    from search.settings import Settings

    settings = Settings(database_url="postgresql://me@db.example/photos")
    assert settings.resolved_database_url == "postgresql+psycopg://me@db.example/photos"
