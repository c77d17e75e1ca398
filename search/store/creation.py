"""A new library's schema, created in one transaction (:func:`create_empty`), and the empty
tables a creation cut short left before it was (:func:`drop_unfinished`)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, inspect, text

from search.store.schema import Base

log = logging.getLogger("search.store.migrate")


@contextmanager
def ddl_transaction(engine: Engine) -> Iterator[Connection]:
    """``engine.begin()``, DDL included: pysqlite begins no transaction before DDL, so each
    CREATE TABLE of a new library committed on its own, and a kill between them and the schema
    version left tables without one - a library no later run could open."""
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        yield connection


def drop_unfinished(engine: Engine, tables: set[str]) -> bool:
    """Drop the tables of a creation cut short (before the schema was created in one
    transaction, a kill could leave some of the library's tables, empty and without a
    version); False, touching nothing, unless every table is one of the library's and holds
    no row."""
    ours = set(Base.metadata.tables) | {"alembic_version"}
    if not tables <= ours:
        return False
    with ddl_transaction(engine) as connection:
        for name in tables:
            if connection.execute(text(f'SELECT 1 FROM "{name}" LIMIT 1')).first() is not None:
                return False
        Base.metadata.drop_all(
            connection, tables=[t for n, t in Base.metadata.tables.items() if n in tables]
        )
        if "alembic_version" in tables:
            connection.execute(text("DROP TABLE alembic_version"))
    log.warning("removed the empty tables of a library whose creation was cut short")
    return True


def create_empty(engine: Engine, head: str) -> bool:
    """Create the head schema in a database without any table (from the ORM models, which a
    test holds equal to what the migrations build) and stamp it ``head``; False when the
    database holds tables already (then Alembic decides what to do)."""
    with ddl_transaction(engine) as connection:
        if inspect(connection).get_table_names():
            return False
        Base.metadata.create_all(connection)
        connection.execute(
            text(
                "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
            )
        )
        connection.execute(
            text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": head}
        )
    log.info("created the library schema at revision %s", head)
    return True


__all__ = ["create_empty", "ddl_transaction", "drop_unfinished"]
