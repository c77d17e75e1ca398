"""Engines of a library database: SQLite's pragmas, a server's read-only transactions, the
URL as it may be shown."""

from __future__ import annotations

import re

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from search.store.errors import LibraryError
from search.units import utf8_text


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers go on while the indexer writes
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints, safe with WAL
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


#: scheme, authority (user:password@host:port) and the rest of a URL, as typed
_AUTHORITY = re.compile(r"(?P<head>[A-Za-z][\w+.-]*://)(?P<auth>[^/]*)(?P<rest>.*)", re.S)


def _at_signs(url: str) -> int:
    """How many ``@`` the URL's authority holds (two or more: one is in the password)."""
    found = _AUTHORITY.fullmatch(url)
    return found["auth"].count("@") if found else 0


def printable_url(url: str) -> str:
    """A database URL as it may be shown: the password hidden (a file name that is not valid
    UTF-8 shown with escapes: it crashed the summary of a run that had indexed everything).
    A password holding ``@`` is hidden whole: a URL parser ends it at its first ``@``."""
    shown = utf8_text(url)
    found = _AUTHORITY.fullmatch(shown)
    if found and found["auth"].count("@") > 1:
        user_info, _, host = found["auth"].rpartition("@")
        user, colon, _ = user_info.partition(":")
        return f"{found['head']}{user}{':***' if colon else ''}@{host}{found['rest']}"
    return make_url(shown).render_as_string(hide_password=True)


def database_url_problem(url: str) -> str | None:
    """Why SQLAlchemy cannot use ``url`` (not a URL, an unknown database, a password with an
    unencoded ``@`` - it would be sent in part as the host's name, and printed), or None."""
    if _at_signs(url) > 1:
        return (
            f"the password in {printable_url(url)} holds '@': write it percent-encoded (%40; "
            "also '%' as %25, '/' as %2F, '#' as %23), or leave it out of the URL and give it "
            "in PGPASSWORD or ~/.pgpass"
        )
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
