"""The store: Alembic schema, transactional batches, generation, model binding."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, inspect

from search.store import (
    STATUS_FAILED,
    Base,
    ChangeSet,
    ImageMove,
    ImageUpsert,
    LibraryNotFoundError,
    ModelMismatchError,
    ModelStamp,
    SchemaError,
    Store,
    make_engine,
    migrate,
)

STAMP = ModelStamp("test-model", "ab" * 32, 4)


def unit(*values: float) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture
def store(tmp_path: Path, database_url: str | None) -> Store:
    url = database_url or f"sqlite:///{tmp_path / 'lib' / 'db.sqlite3'}"
    store = Store.open(url, create=True)
    store.bind_model(STAMP)
    yield store
    store.close()


def upsert(collection_id: int, rel: str, vector: np.ndarray | None, **kw: object) -> ImageUpsert:
    return ImageUpsert(
        collection_id=collection_id,
        rel_path=rel,
        file_size=10,
        mtime_ns=1,
        sha256=rel * 2,
        vector=vector,
        **kw,
    )


@pytest.fixture
def empty_url(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> str:
    """An empty database (no schema) on the test's back end."""
    if backend == "postgresql":
        return str(request.getfixturevalue("postgres_server").database(empty=True))
    return f"sqlite:///{tmp_path / 'db.sqlite3'}"


@pytest.mark.postgres
def test_upgrade_from_empty_matches_the_orm_schema(empty_url: str) -> None:
    engine = make_engine(empty_url)
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert diff == [], f"migrations and search/store/schema.py disagree: {diff}"


def test_a_new_library_gets_the_schema_the_migrations_build(tmp_path: Path) -> None:
    """A new library is created from the ORM tables stamped at head (no Alembic at start-up):
    the same tables, columns, indexes and keys as upgrading an empty database."""
    migrated = make_engine(f"sqlite:///{tmp_path / 'migrated.sqlite3'}")
    migrate.upgrade(migrated)
    reference = MetaData()
    reference.reflect(migrated)
    store = Store.open(f"sqlite:///{tmp_path / 'new' / 'db.sqlite3'}", create=True)
    try:
        assert migrate.current_revision(store.engine) == migrate.head_revision()
        with store.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), reference)
        assert diff == [], f"a new library differs from a migrated one: {diff}"
        migrate.upgrade(store.engine)  # nothing to do: it is at head
        assert migrate.current_revision(store.engine) == migrate.head_revision()
    finally:
        store.close()


@pytest.mark.postgres
def test_downgrade_upgrade_round_trip(empty_url: str) -> None:
    engine = make_engine(empty_url)
    migrate.upgrade(engine)
    migrate.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    migrate.upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"images", "embeddings", "collections", "image_labels", "library_meta"} <= tables


def test_open_missing_library_says_how(tmp_path: Path) -> None:
    with pytest.raises(LibraryNotFoundError, match="imgsearch index"):
        Store.open(f"sqlite:///{tmp_path / 'nothing.sqlite3'}")


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE notes (id INTEGER)")
    with pytest.raises(SchemaError, match="not an imgsearch library"):
        Store.open(f"sqlite:///{path}")


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    Store.open(f"sqlite:///{path}", create=True).close()
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'ffff_future'")
    with pytest.raises(SchemaError, match="newer than this imgsearch"):
        Store.open(f"sqlite:///{path}")


@pytest.mark.postgres
def test_batch_write_moves_generation_and_returns_index_delta(store: Store, tmp_path: Path) -> None:
    cid = store.ensure_collection(tmp_path)
    assert store.ensure_collection(tmp_path) == cid
    g0 = store.generation()
    applied = store.apply(
        ChangeSet(
            upserts=[
                upsert(cid, "a.jpg", unit(1, 0, 0, 0), labels=[("bee", 0.9), ("ant", 0.05)]),
                upsert(cid, "b.jpg", unit(0, 1, 0, 0)),
                upsert(cid, "bad.jpg", None, status=STATUS_FAILED, error="truncated"),
            ]
        )
    )
    assert applied.generation == g0 + 1 == store.generation()
    assert len(applied.vectors) == 2 and len(applied.removed) == 1
    ids, vectors = next(store.iter_vectors())
    assert len(ids) == 2 and vectors.shape == (2, 4)
    assert store.counts() == {"images": 2, "failed": 1, "vectors": 2}
    a_id = min(ids)
    assert [name for name, _score in store.reads.image(int(a_id)).labels] == ["bee", "ant"]
    assert store.reads.search_labels("BEE")[0][0] == a_id
    # the user's text is matched as typed: '%' and '_' are no wildcards; and as whole words
    assert store.reads.search_labels("%") == store.reads.search_labels("b_e") == []
    assert store.reads.search_labels("be") == store.reads.search_labels("_") == []
    assert store.reads.count_labels("ANT") == 1 and store.reads.count_labels("a") == 0


@pytest.mark.postgres
def test_move_keeps_id_and_vector_and_removal_cascades(store: Store, tmp_path: Path) -> None:
    cid = store.ensure_collection(tmp_path)
    applied = store.apply(ChangeSet(upserts=[upsert(cid, "a.jpg", unit(1, 1, 0, 0))]))
    (image_id,) = applied.vectors
    store.apply(ChangeSet(moves=[ImageMove(image_id, cid, "sub/renamed.jpg", 10, 2)]))
    moved = store.reads.image(image_id)
    assert moved.rel_path == "sub/renamed.jpg"
    np.testing.assert_allclose(store.vectors([image_id])[image_id], unit(1, 1, 0, 0))
    copy = store.apply(
        ChangeSet(upserts=[upsert(cid, "copy.jpg", None, copy_vector_from=image_id)])
    )
    assert len(copy.vectors) == 1
    applied = store.apply(ChangeSet(removals=[image_id]))
    assert applied.removed == [image_id]
    assert image_id not in store.vectors([image_id])
    assert store.counts()["vectors"] == 1


@pytest.mark.postgres
def test_failed_batch_rolls_back_whole(store: Store, tmp_path: Path) -> None:
    cid = store.ensure_collection(tmp_path)
    generation = store.generation()
    with pytest.raises(ModelMismatchError):
        store.apply(
            ChangeSet(
                upserts=[upsert(cid, "ok.jpg", unit(1, 0, 0, 0)), upsert(cid, "x.jpg", unit(1, 0))]
            )
        )
    assert store.generation() == generation
    assert store.counts()["images"] == 0


@pytest.mark.postgres
def test_another_model_is_refused_until_reindex(store: Store) -> None:
    other = ModelStamp("other", "cd" * 32, 8)
    with pytest.raises(ModelMismatchError, match="imgsearch reindex --model other"):
        store.bind_model(other)
    store.bind_model(other, replace=True)
    assert store.model_stamp() == other


def test_a_second_open_keeps_the_first_stores_sqlite_locks(tmp_path: Path) -> None:
    """The server opens a new store while its old one serves (a reload): reading the file's
    header with a plain open()/close() would drop the POSIX locks SQLite holds on it, and
    another process's last connection would then checkpoint and delete the WAL under the
    open store."""
    path = tmp_path / "db.sqlite3"
    first = Store.open(f"sqlite:///{path}", create=True)
    second = None
    try:
        first.set_meta("probe", "1")  # the write-ahead log holds a transaction
        assert first.get_meta("probe") == "1"  # the pool keeps the connection: its locks
        assert path.with_name(path.name + "-wal").exists()
        second = Store.open(f"sqlite:///{path}")
        other = (
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
            "c.execute('select count(*) from sqlite_master').fetchone(); c.close()"
        )
        subprocess.run([sys.executable, "-c", other, str(path)], check=True, timeout=60)
        assert path.with_name(path.name + "-wal").exists(), "another process deleted the WAL"
    finally:
        first.close()
        if second is not None:
            second.close()


@pytest.mark.postgres
def test_paths_below_a_folder_keep_their_case(store: Store, tmp_path: Path) -> None:
    cid = store.ensure_collection(tmp_path)
    names = ["Trip/a.jpg", "trip/b.jpg", "TRIP/c.jpg", "Trip2/d.jpg", "Trip%/e.jpg", "Trip"]
    applied = store.apply(ChangeSet(upserts=[upsert(cid, n, unit(1, 0, 0, 0)) for n in names]))
    ids = dict(zip(names, applied.upserted_ids, strict=True))
    assert store.removals.image_ids_below(cid, "Trip") == sorted([ids["Trip/a.jpg"], ids["Trip"]])
    assert store.removals.image_ids_below(cid, "Trip%") == [ids["Trip%/e.jpg"]]
    assert store.removals.image_ids_below(cid, "trip") == [ids["trip/b.jpg"]]


@pytest.mark.postgres
def test_a_path_removed_in_nested_collections_is_merged_by_one_rule(
    store: Store, tmp_path: Path
) -> None:
    """`remove` merged what it had just recorded for nested collections (``index DIR``, then
    ``index DIR/sub``) with code of its own beside ``by_path``, which merged the listed
    removals: a recorded removal is now a ``Removal`` and both go through ``by_path``."""
    from search.store import by_path

    outer = store.ensure_collection(tmp_path)
    inner = store.ensure_collection(tmp_path / "sub")
    recorded = [
        store.removals.record(outer, "sub/a", 2),
        store.removals.record(inner, "a", 3),
        store.removals.record(outer, "b.jpg", 1),
    ]
    assert [r.path for r in recorded] == [str(tmp_path / "sub" / "a")] * 2 + [
        str(tmp_path / "b.jpg")
    ]
    merged = by_path(recorded)
    assert [(r.path, r.images) for r in merged] == [
        (str(tmp_path / "b.jpg"), 1),
        (str(tmp_path / "sub" / "a"), 5),
    ]
    assert [(r.path, r.images) for r in by_path(store.removals.listed())] == [
        (r.path, r.images) for r in merged
    ]


@pytest.mark.postgres
def test_downgrade_and_upgrade_keep_the_remembered_excludes(store: Store, tmp_path: Path) -> None:
    """`db downgrade` past 0008e dropped the collections' --exclude patterns, and the upgrade
    back made an empty table: the next index run took the excluded files in without a word
    (an audit). The downgrade keeps them in library_meta; the upgrade puts them back."""
    kept = store.ensure_collection(tmp_path / "kept")
    gone = store.ensure_collection(tmp_path / "gone")
    store.excludes.replace(kept, ["*/tmp/*", "*.webp"])
    store.excludes.replace(gone, ["*.png"])
    migrate.downgrade(store.engine, "0007c")
    with store.engine.begin() as connection:  # a collection dropped meanwhile: its own go
        connection.exec_driver_sql(f"DELETE FROM collections WHERE id = {int(gone)}")
    migrate.upgrade(store.engine)
    assert store.excludes.by_collection() == {kept: ["*/tmp/*", "*.webp"]}
    assert store.get_meta("excludes_kept_by_downgrade") is None


@pytest.mark.postgres
def test_downgrade_and_upgrade_keep_every_vector(store: Store, tmp_path: Path) -> None:
    """`imgsearch db downgrade` rebuilds tables on SQLite (batch mode): the vectors and
    frames that refer to the images must survive it, and the upgrade back."""
    cid = store.ensure_collection(tmp_path)
    store.apply(ChangeSet(upserts=[upsert(cid, f"{n}.jpg", unit(1, n, 0, 0)) for n in range(3)]))
    assert store.vector_count() == 3

    def counts() -> tuple[int, int]:
        with store.engine.connect() as connection:
            vectors = connection.exec_driver_sql("SELECT count(*) FROM embeddings").scalar()
            images = connection.exec_driver_sql("SELECT count(*) FROM images").scalar()
        return int(vectors or 0), int(images or 0)

    migrate.downgrade(store.engine, "0003")
    assert counts() == (3, 3)
    migrate.upgrade(store.engine)
    assert counts() == (3, 3)
