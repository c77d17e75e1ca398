"""What differs between SQLite and PostgreSQL, in one place of the store.

* insert-if-absent and insert-or-update: ``INSERT ... ON CONFLICT DO NOTHING / DO UPDATE``
  through each dialect's own ``insert`` (SQLite 3.24+ and PostgreSQL), for rows that
  several processes may write at once (the library's id and facts, a collection, learned
  state);
* the generation counter moves in one ``UPDATE ... RETURNING`` (a read-modify-write lost
  updates when two PostgreSQL writers committed at once);
* the connection set-up (SQLite's PRAGMAs), the integrity check (SQLite's
  ``quick_check``; PostgreSQL checks its pages itself) and backups before a migration (a
  copy of the SQLite file; PostgreSQL migrates in one transaction, ``pg_dump`` is the
  user's backup) live beside the code that uses them (``store.py``, ``health.py``,
  ``migrate.py``, ``backups.py``), each behind a test of the dialect's name.
"""

from __future__ import annotations

import importlib
import uuid
from typing import Any

from sqlalchemy import Integer, Text, cast, select, update
from sqlalchemy.orm import Session

from search.store.schema import LibraryMeta


def _dialect(session: Session) -> Any:
    """SQLAlchemy's dialect module of the session's database (PostgreSQL's is imported only
    by a library on PostgreSQL: 50 ms of every SQLite command's start-up otherwise)."""
    name = session.get_bind().dialect.name
    return importlib.import_module(
        "sqlalchemy.dialects.postgresql" if name == "postgresql" else "sqlalchemy.dialects.sqlite"
    )


def insert_ignore(session: Session, table: Any, rows: list[dict[str, object]]) -> None:
    """Insert ``rows`` into ``table``, leaving out those whose key is already there."""
    if not rows:
        return
    session.execute(_dialect(session).insert(table).on_conflict_do_nothing(), rows)


def upsert(session: Session, table: Any, row: dict[str, object], key: str) -> None:
    """Insert ``row``, or update the row with its ``key`` (``session.merge`` reads first and
    lost the race when two processes wrote the same key at once)."""
    statement = _dialect(session).insert(table).values(row)
    others = {column: statement.excluded[column] for column in row if column != key}
    session.execute(statement.on_conflict_do_update(index_elements=[key], set_=others))


GENERATION_TOKEN_KEY = "generation_token"


def set_meta(session: Session, key: str, value: str) -> None:
    """``library_meta[key] = value`` in this transaction."""
    upsert(session, LibraryMeta, {"key": key, "value": value}, "key")


def generation_token(session: Session) -> tuple[int, str]:
    """The generation and its random token, read together ("" before the first commit that
    made one)."""
    keys = ("generation", GENERATION_TOKEN_KEY)
    query = select(LibraryMeta.key, LibraryMeta.value).where(LibraryMeta.key.in_(keys))
    rows = {key: value for key, value in session.execute(query).all()}
    return int(rows.get("generation") or 0), rows.get(GENERATION_TOKEN_KEY) or ""


def next_generation(session: Session) -> int:
    """Move the library's generation by one in this transaction; the new value. The row
    stays locked until commit, so generations follow the order of commits."""
    statement = (
        update(LibraryMeta)
        .where(LibraryMeta.key == "generation")
        .values(value=cast(cast(LibraryMeta.value, Integer) + 1, Text))
        .returning(LibraryMeta.value)
        .execution_options(synchronize_session=False)
    )
    generation = int(session.execute(statement).scalar_one())
    # a random token per generation: two copies of one library that changed apart to the same
    # generation and count took each other's index file for their own (an audit)
    set_meta(session, GENERATION_TOKEN_KEY, uuid.uuid4().hex)
    return generation
