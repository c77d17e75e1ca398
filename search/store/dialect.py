"""What differs between SQLite and PostgreSQL, in one place of the store.

* insert-if-absent: SQLite's ``INSERT OR IGNORE`` / PostgreSQL's ``ON CONFLICT DO
  NOTHING`` (both through their dialect's ``on_conflict_do_nothing``), for rows that
  several processes may create at once (the library's id, a collection);
* the generation counter moves in one ``UPDATE ... RETURNING`` (a read-modify-write lost
  updates when two PostgreSQL writers committed at once);
* the connection set-up (SQLite's PRAGMAs), the integrity check (SQLite's
  ``quick_check``; PostgreSQL checks its pages itself) and backups before a migration (a
  copy of the SQLite file; PostgreSQL migrates in one transaction, ``pg_dump`` is the
  user's backup) live beside the code that uses them (``store.py``, ``health.py``,
  ``migrate.py``), each behind a test of the dialect's name.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, Text, cast, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from search.store.schema import LibraryMeta


def insert_ignore(session: Session, table: Any, rows: list[dict[str, object]]) -> None:
    """Insert ``rows`` into ``table``, leaving out those whose key is already there."""
    if not rows:
        return
    name = session.get_bind().dialect.name
    module: Any = postgresql if name == "postgresql" else sqlite
    session.execute(module.insert(table).on_conflict_do_nothing(), rows)


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
    return int(session.execute(statement).scalar_one())
