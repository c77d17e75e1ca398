"""A look at a library database without opening it as a library: no file is created, no
schema is upgraded and nothing is written (commands that only need a remembered fact)."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import create_engine, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from search.store.schema import LibraryMeta

log = logging.getLogger(__name__)


def peek_meta(url: str, key: str) -> str | None:
    """The library fact stored under ``key``, or None when there is no readable library."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///").partition("?")[0])
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
