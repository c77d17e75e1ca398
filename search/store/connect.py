"""Engines of a library database: SQLite's pragmas, a server's read-only transactions, the
URL as it may be shown."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from search.store.errors import LibraryError


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers go on while the indexer writes
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints, safe with WAL
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def printable_url(url: str) -> str:
    """A database URL as it may be shown: the password hidden (a file name that is not valid
    UTF-8 shown with escapes: it crashed the summary of a run that had indexed everything)."""
    shown = url.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return make_url(shown).render_as_string(hide_password=True)


def database_url_problem(url: str) -> str | None:
    """Why SQLAlchemy cannot use ``url`` (not a URL, an unknown database), or None."""
    try:
        make_url(url).get_dialect()
    except NoSuchModuleError:  # (an ArgumentError too)
        scheme = url.partition(":")[0][:40]
        return (
            f"'{scheme}' is not a database imgsearch knows: give postgresql://... or sqlite:///..."
        )
    except ArgumentError:
        return f"'{url[:80]}' is not a database URL (postgresql://USER@HOST/DB, sqlite:////FILE)"
    except ModuleNotFoundError:  # a known dialect whose driver is not installed: said later
        return None
    return None


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
            "with postgresql+psycopg://... (or postgresql://...) and pip install -e "
            "'.[postgres]' in imgsearch's folder"
        ) from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine
