"""Engines of a library database: SQLite's pragmas, a server's read-only transactions, the
URL as it may be shown."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event, make_url

from search.store.errors import LibraryError


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers go on while the indexer writes
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints, safe with WAL
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def printable_url(url: str) -> str:
    """A database URL as it may be shown: the password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str, *, read_only: bool = False) -> Engine:
    """The engine of a library database; ``read_only`` on a server: every transaction is
    read-only in the server itself (``default_transaction_read_only``)."""
    server_read_only = read_only and not url.startswith("sqlite")
    options = {"options": "-c default_transaction_read_only=on"} if server_read_only else {}
    try:
        engine = create_engine(url, future=True, connect_args=options)
    except ModuleNotFoundError as error:  # a server URL without its driver installed
        raise LibraryError(
            f"{printable_url(url)} needs the Python package {error.name}; PostgreSQL works "
            "with postgresql+psycopg://... (or postgresql://...) and pip install "
            "'imgsearch[postgres]'"
        ) from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine
