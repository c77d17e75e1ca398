"""A new SQLite library's schema is created in one transaction: SQLite's driver begins none
before DDL, so each table was committed on its own, and a run killed between the tables and
the schema version left a file that no later run would open ("holds tables but no imgsearch
schema version": the crash test's kill landed there once). Such a file, empty, is made a
library by the next run that creates one."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import inspect as sa_inspect

from search.store import Base, Store


def _tables(db: Path) -> list[str]:
    with closing(sqlite3.connect(db)) as connection:
        rows = connection.execute("select name from sqlite_master where type = 'table'")
        return sorted(name for (name,) in rows)


def test_a_creation_cut_short_leaves_no_table_and_the_next_run_creates_the_library(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "library" / "imgsearch.sqlite3"
    url = f"sqlite:///{db}"
    create_all = Base.metadata.create_all

    def cut_short(connection, *args, **kwargs):  # type: ignore[no-untyped-def]
        create_all(connection, *args, **kwargs)
        raise KeyboardInterrupt  # the tables made, the version not yet written

    monkeypatch.setattr(Base.metadata, "create_all", cut_short)
    with pytest.raises(KeyboardInterrupt):
        Store.open(url, create=True)
    assert _tables(db) == []
    monkeypatch.undo()
    store = Store.open(url, create=True)
    try:
        assert store.get_meta("library_id") is not None
    finally:
        store.close()
    assert "alembic_version" in _tables(db) and "images" in _tables(db)


def test_the_empty_tables_a_creation_left_before_are_replaced_and_a_row_keeps_them(
    tmp_path: Path,
) -> None:
    """A file an earlier imgsearch left so (the library's tables, empty, no version) is made a
    library by the next run that creates one; one table holding a row is somebody's data:
    refused, and left as it was."""
    from sqlalchemy import create_engine

    from search.store import SchemaError

    for holds_a_row in (False, True):
        db = tmp_path / f"library-{holds_a_row}" / "imgsearch.sqlite3"
        db.parent.mkdir()
        engine = create_engine(f"sqlite:///{db}")
        Base.metadata.create_all(engine)  # the tables, no version: a creation cut short
        if holds_a_row:
            with closing(sqlite3.connect(db)) as connection, connection:
                connection.execute("insert into library_meta (key, value) values ('a', 'b')")
        engine.dispose()
        if holds_a_row:
            with pytest.raises(SchemaError, match="no imgsearch schema version"):
                Store.open(f"sqlite:///{db}", create=True)
            assert "alembic_version" not in _tables(db) and "images" in _tables(db)
            continue
        store = Store.open(f"sqlite:///{db}", create=True)
        store.close()
        assert "alembic_version" in _tables(db)


def test_an_upgrade_cut_short_leaves_the_library_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An old library's upgrade is one transaction too: its first ALTER TABLE was committed
    on its own, so a kill in a later step left the `layout` column with the old version - every
    command then failed with "duplicate column name: layout" and `db check` said ok (an audit
    of upgrades, 2026-12-07). Now it stays at its old revision and the next open upgrades it."""
    import alembic.op

    from search.store import make_engine, migrate

    db = tmp_path / "library" / "imgsearch.sqlite3"
    url = f"sqlite:///{db}"
    Store.open(url, create=True).close()
    scripts = migrate.known_revisions_text().splitlines()[1:]
    old = scripts[-4].split()[0]  # three revisions back: an ALTER TABLE first, then more
    engine = make_engine(url)
    try:
        migrate.downgrade(engine, old)
        columns = {c["name"] for c in sa_inspect(engine).get_columns("images")}
        create_table = alembic.op.create_table

        def killed_in_the_last_step(name, *args, **kwargs):  # type: ignore[no-untyped-def]
            if name == "collection_excludes":  # the newest revision's table
                raise KeyboardInterrupt
            return create_table(name, *args, **kwargs)

        monkeypatch.setattr(alembic.op, "create_table", killed_in_the_last_step)
        with pytest.raises(KeyboardInterrupt):
            migrate.upgrade(engine, "head")
        monkeypatch.undo()
        assert migrate.stored_revision(engine) == old
        assert {c["name"] for c in sa_inspect(engine).get_columns("images")} == columns
    finally:
        engine.dispose()
    store = Store.open(url)  # upgraded now, as any command does
    try:
        assert migrate.stored_revision(store.engine) == migrate.head_revision()
    finally:
        store.close()
