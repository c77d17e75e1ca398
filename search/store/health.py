"""The store's reads about the library's health: what a server may answer with (the model,
an unfinished re-index) and whether the database file is intact.

One part of :class:`search.store.store.Store`, reached as an attribute of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple, TypeGuard

from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    delete,
    exists,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import DatabaseError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from search.store.dialect import set_meta
from search.store.errors import (
    DatabaseCorruptError,
    LibraryError,
    SchemaError,
    no_library_yet,
    require_library_file,
    sqlite_file,
)
from search.store.open_files import open_in_this_process
from search.store.read_only import disk_full, read_only_engine, read_only_file, wal_with_frames
from search.store.records import MODEL_KEYS, ModelStamp, ReadFactory, SessionFactory
from search.store.schema import STATUS_OK, Collection, Embedding, Image, LibraryMeta

#: meta key set while a re-index to another model (or the same one) is unfinished
REINDEX_KEY = "reindex_model"


# built once: asked twice by every query
_SERVING_STATE = select(LibraryMeta.key, LibraryMeta.value).where(
    LibraryMeta.key.in_((*MODEL_KEYS, REINDEX_KEY))
)


class ServingState(NamedTuple):
    """The library's model and, while a re-index is unfinished, the model it switches to."""

    model: ModelStamp | None
    reindex: str | None


class HealthRecords:
    """The library's health (``store.health``): serving state, re-index marker, integrity."""

    def __init__(self, session: SessionFactory, reading: ReadFactory) -> None:
        self._session, self._reading = session, reading

    def serving_state(self) -> ServingState:
        """The recorded model and the unfinished re-index marker: one plain statement (read
        twice per query: before and after it)."""
        with self._reading() as connection:
            rows = {key: value for key, value in connection.execute(_SERVING_STATE)}
        model = None
        if "model_name" in rows:
            model = ModelStamp(
                rows["model_name"], rows["model_sha256"], int(rows["model_dimension"])
            )
        return ServingState(model, rows.get(REINDEX_KEY))

    def begin_reindex(self, stamp: ModelStamp, meta: dict[str, str]) -> None:
        """Switch the library to ``stamp`` in one transaction: the re-index mark, every vector
        dropped, the model and ``meta`` recorded - all or nothing (a full disk between the
        mark and the rest left a mark that no index run could clear)."""
        from search.store.write import clear_embeddings_in, record_model_in

        with self._session() as session:
            set_meta(session, REINDEX_KEY, stamp.name)
            clear_embeddings_in(session)
            record_model_in(session, stamp)
            for key, value in meta.items():
                set_meta(session, key, value)

    def set_reindex(self, model: str | None) -> None:
        """Mark a re-index to ``model`` as started (None: finished)."""
        with self._session() as session:
            if model is None:
                session.execute(delete(LibraryMeta).where(LibraryMeta.key == REINDEX_KEY))
            else:
                set_meta(session, REINDEX_KEY, model)

    def unembedded(self) -> dict[str, int]:
        """Indexed images (status ok) that have no vector, counted by collection root: what a
        re-index still has to do (nothing left: empty)."""
        has_vector = exists().where(Embedding.image_id == Image.id)
        query = (
            select(Collection.root, func.count(Image.id))
            .join(Collection, Collection.id == Image.collection_id)
            .where(Image.status == STATUS_OK, ~has_vector)
            .group_by(Collection.root)
        )
        with self._session() as session:
            return {str(root): int(n) for root, n in session.execute(query)}

    def database_bytes(self) -> int | None:
        """The database's size on disk: SQLite's file and its WAL; PostgreSQL's
        ``pg_database_size``; None when it cannot be told."""
        with self._session() as session:
            bind = session.get_bind()
            if bind.dialect.name == "postgresql":
                size = session.scalar(text("SELECT pg_database_size(current_database())"))
                return int(size) if size is not None else None
            database = bind.url.database if bind.dialect.name == "sqlite" else None
        if not database or database == ":memory:":
            return None
        path = Path(database)
        parts = (path.with_name(path.name + suffix) for suffix in ("", "-wal"))
        return sum(part.stat().st_size for part in parts if part.exists())

    def integrity_problems(self, *, quick: bool = True, limit: int = 20) -> list[str]:
        """SQLite's ``quick_check`` (or the full ``integrity_check``): the problems found,
        an empty list for an intact database. Other databases check themselves: []."""
        with self._session() as session:
            if session.get_bind().dialect.name != "sqlite":
                return []
            return _sqlite_problems(session, quick=quick, limit=limit)


def _sqlite_problems(db: Session | Connection, *, quick: bool, limit: int) -> list[str]:
    """SQLite's ``quick_check`` or ``integrity_check`` through ``db``: the problems found, an
    empty list for an intact file."""
    pragma = "quick_check" if quick else "integrity_check"
    rows = [str(r[0]) for r in db.execute(text(f"PRAGMA {pragma}({int(limit)})"))]
    return [] if rows == ["ok"] else rows


# -- a damaged database file ------------------------------------------------------------------

SQLITE_MAGIC = b"SQLite format 3\x00"
QUICK_CHECK_MAX_BYTES = 256 * 1024 * 1024  # checked at every open up to this size
_CORRUPTION_WORDS = ("malformed", "not a database", "disk image", "corrupt", "encrypted")


def corrupt_error(path: Path | str, detail: str) -> DatabaseCorruptError:
    """The one message for a damaged library database: what is wrong and how to recover."""
    path = Path(path)
    error = DatabaseCorruptError(
        f"the library database {path} is damaged ({detail}). `imgsearch db check` says "
        f"what is wrong. To recover: {recovery(path)}"
    )
    error.detail = detail  # type: ignore[attr-defined]
    return error


def recovery(path: Path) -> str:
    """How to recover a damaged database file (its backups, if any, named)."""
    backups = sorted(p.name for p in path.parent.glob(f"{path.name}.bak-*"))
    restore = (
        f"restore a backup copy (here: {', '.join(backups)}: copy it over {path.name})"
        if backups
        else "restore a backup copy of it"
    )
    return (
        f"{restore}, or move it aside and run `imgsearch index` on your folders again "
        "(photos are never touched; vectors are computed again)"
    )


def check_database(url: str, limit: int = 100, *, read_only: bool = False) -> list[str]:
    """Every problem found in the database at ``url`` (header, size, SQLite's full
    ``integrity_check``), without opening it as a library; [] when intact. A SQLite file
    that this process cannot write (or any, with ``read_only``) is opened read-only."""
    path = sqlite_file(url)
    if path is not None:
        try:
            check_sqlite_header(path)
        except DatabaseCorruptError as error:
            return [str(getattr(error, "detail", error))]
    unwritable = read_only_file(url, read_only)
    engine = read_only_engine(unwritable) if unwritable is not None else create_engine(url)
    try:
        # a server that cannot be reached (connection refused, unknown host) raises here: it
        # says nothing of the database's state, so it is no "problem" found in it
        server = engine.connect() if engine.dialect.name != "sqlite" else None
    except BaseException:
        engine.dispose()
        raise
    try:
        if server is not None:  # the server checks its pages: the rows here
            with server as connection:
                return _vector_problems(connection)
        with engine.connect() as connection:
            rows = connection.execute(text(f"PRAGMA integrity_check({int(limit)})"))
            found = [str(row[0]) for row in rows]
            if found == ["ok"]:
                _require_library(connection)
    except DatabaseError as error:
        said = str(error.orig or error).strip()
        if path is not None and disk_full(path) and "disk" in said.lower():
            # SQLite could not write its -shm / finish a checkpoint: no damage found
            raise LibraryError(
                f"{path} cannot be checked: the disk is full ({said}); free some space and "
                "run `imgsearch db check` again (nothing is known to be damaged)"
            ) from None
        return [said]
    except UnicodeDecodeError as error:  # damaged bytes where SQLite keeps text
        return [f"text that is not UTF-8 ({error.reason})"]
    finally:
        engine.dispose()
    return [] if found == ["ok"] else found


def _vector_problems(connection: Connection) -> list[str]:
    """A server database (PostgreSQL): an imgsearch library whose every vector has the size
    its dimension says; the pages themselves are the server's (``pg_amcheck``)."""
    _require_library(connection)
    wrong = func.length(Embedding.vector) != Embedding.dimension * 4
    bad = connection.scalar(select(func.count()).select_from(Embedding).where(wrong))
    return [f"{bad} vectors whose size does not match their dimension"] if bad else []


def _require_library(connection: Connection) -> None:
    """An intact database that holds no imgsearch library is no damage: raise
    :class:`LibraryNotFoundError` (no tables yet: what creates one) or :class:`SchemaError`
    (another program's tables)."""
    tables = set(inspect(connection).get_table_names()) - {"alembic_version"}
    if Embedding.__tablename__ not in tables:  # nothing damaged: no library there (yet)
        url = connection.engine.url
        if not tables:
            raise no_library_yet(url)
        server = url.get_backend_name() != "sqlite"
        where = url.render_as_string() if server else url.database
        raise SchemaError(
            f"{where} holds tables but no imgsearch library: give the database of an "
            f"imgsearch library ({'--database-url' if server else '--library'})"
        )


def is_corruption(error: BaseException) -> bool:
    """Whether a database error means a damaged file (not a lock, a constraint...)."""
    text = str(getattr(error, "orig", None) or error).lower()
    return any(word in text for word in _CORRUPTION_WORDS)


_SCHEMA_WORDS = ("no such column", "no such table", "does not exist")  # SQLite, PostgreSQL


def is_schema_mismatch(error: BaseException) -> bool:
    """Whether ``error`` is SQL meeting a schema other than the one this program reads (the
    database taken down by `imgsearch db downgrade` while a server had it open)."""
    text = str(getattr(error, "orig", None) or error).lower()
    return isinstance(error, DatabaseError) and any(word in text for word in _SCHEMA_WORDS)


def is_database_unreachable(error: BaseException) -> bool:
    """Whether ``error`` is the database server not answering (down, restarting, the network:
    a connection that could not be made or was lost), not a fault of the request."""
    return isinstance(error, OperationalError | InterfaceError) and not is_schema_mismatch(error)


def check_sqlite_header(path: Path) -> None:
    """Refuse a file that is not an intact SQLite database by its header and size (cheap:
    100 bytes and a stat), before SQLite sees it. Raises :class:`DatabaseCorruptError`."""
    size = path.stat().st_size
    if size == 0:
        return  # a new, empty database file: SQLite makes it
    with open(path, "rb") as handle:
        header = handle.read(100)
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        raise corrupt_error(path, "its header is not a SQLite header")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise corrupt_error(path, f"its header gives an impossible page size {page_size}")
    pages = int.from_bytes(header[28:32], "big")
    valid = header[24:28] == header[92:96] and pages > 0
    if wal_with_frames(path):
        # a checkpoint cut short (a full disk: page 1 written, the rest not) leaves the main
        # file short of its header's size while the write-ahead log still holds every page;
        # SQLite finishes the checkpoint when it opens the file (its quick_check then judges).
        # Called "truncated" here, a library that had lost nothing was refused for good.
        return
    if size % page_size or (valid and size < pages * page_size):
        expected = f"{pages * page_size} bytes" if valid else f"a multiple of {page_size}"
        raise corrupt_error(path, f"the file is truncated: {size} bytes, expected {expected}")


def check_on_open(health: HealthRecords, path: Path | None) -> None:
    """SQLite's quick_check at open for files up to :data:`QUICK_CHECK_MAX_BYTES`."""
    if _quick_check_due(path):
        _refuse_problems(path, health.integrity_problems(quick=True, limit=3))


def check_engine_on_open(engine: Engine, path: Path | None) -> None:
    """:func:`check_on_open` for the engine of a command that opens the file without
    ``Store.open`` (``db current``, ``upgrade``, ``downgrade``): a damaged file is refused
    there too (``db upgrade`` said "already there, nothing to do" and exited 0)."""
    if not _quick_check_due(path):
        return
    with reported_corruption(path), engine.connect() as connection:
        problems = _sqlite_problems(connection, quick=True, limit=3)
    _refuse_problems(path, problems)


def _quick_check_due(path: Path | None) -> TypeGuard[Path]:
    return path is not None and path.exists() and path.stat().st_size <= QUICK_CHECK_MAX_BYTES


def _refuse_problems(path: Path, problems: list[str]) -> None:
    if problems:
        said = "; ".join(" ".join(p.split()) for p in problems)  # one line (it held newlines)
        raise corrupt_error(path, "SQLite's quick check: " + said[:300])


@contextmanager
def reported_corruption(path: Path | None, engine: Engine | None = None) -> Iterator[None]:
    """Turn SQLite's "malformed"/"not a database" errors inside into
    :class:`DatabaseCorruptError`; ``engine`` is disposed of when anything goes wrong."""
    try:
        yield
    except BaseException as error:
        if engine is not None:
            engine.dispose()
        if isinstance(error, DatabaseError) and path is not None and is_corruption(error):
            raise corrupt_error(path, str(error.orig or error).strip()) from None
        if isinstance(error, UnicodeDecodeError) and path is not None:
            # damaged bytes inside the schema or a text value: SQLite hands back invalid UTF-8
            raise corrupt_error(path, f"text that is not UTF-8 ({error.reason})") from None
        raise


@contextmanager
def checked_sqlite(url: str) -> Iterator[None]:
    """For a command that opens the database without ``Store.open`` (``db current``,
    ``upgrade``, ``downgrade``): a damaged SQLite file is the same typed error, saying how to
    recover (it was SQLite's bare "database disk image is malformed"); a zero-byte file is
    refused as :meth:`Store.open` refuses it, before SQLite writes its header into it."""
    require_library_file(url)
    path = sqlite_file(url)
    if path is not None and path.exists() and not open_in_this_process(path):
        check_sqlite_header(path)
    with reported_corruption(path):
        yield
