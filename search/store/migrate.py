"""Alembic, driven from code: upgrade, downgrade and inspect a library's schema.

Alembic (with Mako and Pygments) is imported only when a schema is upgraded or inspected:
opening a library that is already at the head revision reads its version row with plain SQL
and compares it with the head named in ``migrations/versions`` (``light_head``), and a new
library gets the ORM's tables stamped at that head (what the migrations build: a test holds
the two equal).

:func:`peek_meta` looks at a library database without opening it as a library: no file is
created, no schema is upgraded and nothing is written (commands that need a remembered fact).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError

from search.store.backups import backup_sqlite
from search.store.creation import create_empty, drop_unfinished
from search.store.errors import SchemaError, no_library_yet, sqlite_file
from search.store.locks import SCHEMA, holding
from search.store.schema import LibraryMeta

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
_REVISION = re.compile(r'^revision\s*=\s*"([^"]+)"', re.M)
_DOWN = re.compile(r'^down_revision\s*=\s*(?:None|"([^"]+)")\s*$', re.M)


@functools.cache
def light_head() -> str | None:
    """The head revision read from the migration files' ``revision = "..."`` and
    ``down_revision = ...`` lines, without Alembic; None when that is not one clear head
    (then Alembic decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN.search(source)
        if revision is None or down is None:
            continue
        revisions.add(revision.group(1))
        if down.group(1):
            parents.add(down.group(1))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def stored_revision(engine: Engine) -> str | None:
    """The library's ``alembic_version`` row read with plain SQL (None when it has none)."""
    with engine.connect() as connection:  # a database that cannot be read says why
        if not inspect(connection).has_table("alembic_version"):  # a new or foreign one
            return None  # (a full disk's "disk I/O error" had called a library foreign)
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    return str(rows[0][0]) if len(rows) == 1 else None


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_bare())
    head = script.get_current_head()
    assert head is not None
    return head


def _bare() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _run(engine: Engine, action: str, revision: str) -> None:
    from alembic import command

    config = alembic_config(engine)
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            # A batch migration rebuilds a table (copy, drop, rename): with foreign keys on,
            # dropping the old `images` dropped every vector with it (ON DELETE CASCADE).
            # The pragma only works outside a transaction; the keys are checked at the end.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                if sqlite:  # pysqlite begins no transaction before DDL: the first ALTER of an
                    # upgrade committed on its own, and a kill (or a second process upgrading
                    # at once) left a library no command could open ("duplicate column").
                    # One transaction, taken for writing first: the second process waits, then
                    # finds the schema upgraded and does nothing.
                    connection.exec_driver_sql("BEGIN IMMEDIATE")
                config.attributes["connection"] = connection
                getattr(command, action)(config, revision)
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:  # rolled back: the library stays as it was
                        raise SchemaError(
                            f"the {action} to {revision} would leave {len(broken)} rows "
                            "pointing at rows that do not exist; nothing was changed"
                        )
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def resolve_revision(revision: str) -> str | None:
    """The full id of ``revision`` ("base": None); raises ``SchemaError`` for one this
    imgsearch does not know."""
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    if revision == "base":
        return None
    problem = f"no revision {revision!r}"
    try:
        found = ScriptDirectory.from_config(_bare()).get_revision(revision)
    except CommandError as error:  # unknown, or a prefix of several ('000')
        found, problem = None, problem if "locate" in str(error) else str(error)
    if found is None:
        raise SchemaError(f"{problem}, nothing was changed; {known_revisions_text()}")
    return str(found.revision)


def known_revisions_text(width: int = 90) -> str:
    """The revisions this imgsearch knows, oldest first, one line each (id and message),
    for an error about a revision it does not know."""
    header = "known revisions (oldest first; 'base': no tables, 'head': the newest):"
    return "\n".join([header, *revision_lines(width)])


def revision_lines(width: int = 90, after: str | None = None, upto: str | None = None) -> list[str]:
    """``  <id>  <message>`` of each revision, oldest first; with ``upto``, only those after
    ``after`` (None: from the first) up to ``upto``: what a downgrade drops."""
    from alembic.script import ScriptDirectory

    scripts = list(reversed(list(ScriptDirectory.from_config(_bare()).walk_revisions())))
    if upto is not None:
        names = [script.revision for script in scripts]
        first = names.index(after) + 1 if after in names else 0
        scripts = scripts[first : names.index(upto) + 1]
    lines = []
    for script in scripts:
        message = " ".join((script.doc or "").split())
        if len(message) > width:
            message = message[: width - 1].rstrip() + "…"
        lines.append(f"  {script.revision:<6} {message}")
    return lines


def wrong_direction(action: str, before: str | None, target: str | None) -> str | None:
    """Why ``action`` ("upgrade" or "downgrade") cannot go from revision ``before`` to
    ``target`` (full ids, None: base), in words; None when it goes that way or stays. Alembic
    did nothing for `db upgrade 0004v` of a 0005q library (after a backup copy, "0005q ->
    0005q") and said "not a valid downgrade target from current head(s)" for the opposite."""
    from alembic.script import ScriptDirectory

    order = [
        None,
        *(
            s.revision
            for s in reversed(list(ScriptDirectory.from_config(_bare()).walk_revisions()))
        ),
    ]
    if before not in order or target not in order:
        return None  # Alembic says what is wrong with it
    older = order.index(target) < order.index(before)
    if older == (action == "upgrade") and target != before:
        other = "downgrade" if action == "upgrade" else "upgrade"
        return (
            f"{target or 'base'} is {'older' if older else 'newer'} than the library's schema "
            f"{before or 'base'}: `imgsearch db {other} {target or 'base'}` goes there "
            f"({action} only goes {'forward' if action == 'upgrade' else 'back'}); nothing was "
            "changed"
        )
    return None


def upgrade(engine: Engine, revision: str = "head") -> None:
    _run(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str) -> None:
    _run(engine, "downgrade", revision)


def check_known(engine: Engine) -> None:
    """Refuse a database that is not an imgsearch library, or whose schema is newer than
    this imgsearch (``SchemaError`` saying what to do)."""
    from alembic.script import ScriptDirectory

    current = current_revision(engine)
    tables = set(inspect(engine).get_table_names())
    if current is None and tables - {"alembic_version"}:
        raise SchemaError(_foreign(engine))
    known = {rev.revision for rev in ScriptDirectory.from_config(_bare()).walk_revisions()}
    if current is not None and current not in known:
        raise SchemaError(_newer(current))


def _foreign(engine: Engine) -> str:
    return (
        f"{engine.url.render_as_string()} holds tables but no imgsearch schema version; "
        "it is not an imgsearch library: give another --library (or --database-url)"
    )


def _newer(current: str) -> str:
    return (
        f"the library's schema revision {current} is newer than this imgsearch (which "
        f"knows up to {head_revision()}); upgrade imgsearch to open it"
    )


def ensure_schema(engine: Engine, *, create: bool, auto_upgrade: bool = True) -> None:
    """Bring the schema to head: create an empty database, upgrade an old one, refuse the rest.

    A SQLite file is copied to ``<file>.bak-<rev>`` (``-2``, ``-3`` ... when taken) before an
    upgrade, so a failed migration never costs the user their library; a warning names it.
    """
    head = light_head()
    if head is not None and stored_revision(engine) == head:
        return  # the common case, without importing Alembic
    with schema_lock(engine):  # one process migrates (or creates) a shared database
        if create and head is not None and create_empty(engine, head):
            return  # a new library: the ORM's tables, stamped at head, without Alembic
        _ensure_schema(engine, create=create, auto_upgrade=auto_upgrade)


def require_head(engine: Engine) -> None:
    """A library opened read-only is read as it is: at this imgsearch's head revision, or
    refused with what to do (nothing can be upgraded)."""
    current, head = stored_revision(engine), light_head() or head_revision()
    if current == head:
        return
    if current is None:
        raise SchemaError(_foreign(engine))
    raise SchemaError(
        f"the library is read-only and its schema is at revision {current}, this imgsearch "
        f"reads {head}: run `imgsearch db upgrade` as its owner (or where it can be written), "
        "or use the imgsearch that made it"
    )


@contextmanager
def schema_lock(engine: Engine) -> Iterator[None]:
    """PostgreSQL: hold the schema's advisory lock (waiting up to 10 minutes for another
    process's migration); SQLite: its own write lock keeps migrations apart."""
    if engine.dialect.name != "postgresql":
        yield
        return
    waited = "another process has been migrating this database for 10 minutes"
    with holding(engine, [(SCHEMA, False, 600.0, waited)]):
        yield


def _ensure_schema(engine: Engine, *, create: bool, auto_upgrade: bool) -> None:
    from alembic.script import ScriptDirectory

    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    tables = set(inspect(engine).get_table_names())
    if current is None and tables - {"alembic_version"}:
        if not (create and drop_unfinished(engine, tables)):
            raise SchemaError(_foreign(engine))
        create_empty(engine, head)
        return
    if current is None and not create:  # no table at all: what db check says, too
        raise no_library_yet(engine.url)
    known = {rev.revision for rev in ScriptDirectory.from_config(_bare()).walk_revisions()}
    if current is not None and current not in known:
        raise SchemaError(_newer(current))
    if current is not None and not auto_upgrade:
        raise SchemaError(
            f"the library's schema is at {current}, this imgsearch needs {head}: "
            "run `imgsearch db upgrade`"
        )
    backup = backup_sqlite(engine, current)
    upgrade(engine)
    if current is not None:  # an old library: say so, and where its copy is
        kept = f"; the file as it was is kept as {backup}" if backup is not None else ""
        log.warning("upgraded the library schema from %s to %s%s", current, head, kept)


def peek_meta(url: str, key: str) -> str | None:
    """The library fact stored under ``key``, or None when there is no readable library."""
    path = sqlite_file(url)
    if path is not None:
        if not path.is_file():
            return None
        url = f"sqlite:///file:{path}?mode=ro&uri=true"
    try:
        engine = create_engine(url)
    except (SQLAlchemyError, ValueError) as error:
        log.debug("no library to look at (%s): %s", url, error)
        return None
    try:
        if not inspect(engine).has_table(LibraryMeta.__tablename__):
            return None
        with engine.connect() as connection:
            return connection.scalar(select(LibraryMeta.value).where(LibraryMeta.key == key))
    except SQLAlchemyError as error:  # not a library, or unreadable: the caller goes without
        log.debug("cannot read %s from %s: %s", key, url, error)
        return None
    finally:
        engine.dispose()
