"""Writers coordinated in the database: PostgreSQL advisory locks (``store.locks``).

A PostgreSQL library is shared by processes on several machines, so a lock file beside one
machine's library folder cannot keep them apart. Each lock here is a session-level advisory
lock ``(NAMESPACE, key)`` held on a connection of its own (autocommit: never idle in a
transaction) for as long as the holder works; the server drops it when that connection ends,
so a killed writer never leaves a lock behind. Keys:

* :data:`LIBRARY`: shared by every index run, exclusive for whole-library maintenance
  (``remove``, ``rebuild-index``, ``reindex``, ``db upgrade``);
* :func:`collection_key` of a collection root: exclusive per collection, so runs over
  disjoint collections write at once and a second run over the same collection waits;
* :data:`FINISH`: exclusive, the end of an index run (whitening, one FAISS cache rebuild,
  calibration), one at a time;
* :data:`SCHEMA`: migrations and the creation of a library, one process at a time;
* ``(RUNS, run id)``: each live index run's own, its liveness record: a run recorded as
  ``running`` whose lock nobody holds was killed (``imgsearch stats`` says ``interrupted``,
  the next run records it so).

SQLite has no such locks (``Store.locks`` is None there): the library takes its file lock.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager

from sqlalchemy import Connection, Engine, text

from search.store.errors import LibraryBusyError

NAMESPACE = 0x1A65EA  # the first int4 of imgsearch's advisory lock keys
RUNS = NAMESPACE + 1  # the first int4 of the live index runs' locks (the second: the run id)
LIBRARY = 0
FINISH = 1
SCHEMA = 2
_POLL_S = 0.2
_HELD = {
    LIBRARY: "another imgsearch process's maintenance of the library",
    FINISH: "another index run to finish (whitening, FAISS cache, calibration)",
    SCHEMA: "another process's migration of the schema",
}

log = logging.getLogger(__name__)

__all__ = ["DatabaseLocks", "collection_key", "database_locks", "holding"]


def collection_key(root: str) -> int:
    """The advisory key of a collection root (its path: known before the collection has a
    row); a hash, in int4 but away from the fixed keys (a collision only serialises)."""
    digest = int.from_bytes(hashlib.sha256(root.encode("utf-8", "surrogateescape")).digest()[:4])
    return 16 + digest % (2**31 - 16)


def _try(connection: Connection, key: int, shared: bool, namespace: int = NAMESPACE) -> bool:
    function = "pg_try_advisory_lock_shared" if shared else "pg_try_advisory_lock"
    query = text(f"SELECT {function}(:ns, :key)")
    return bool(connection.scalar(query, {"ns": namespace, "key": key}))


def _acquire(connection: Connection, key: int, *, shared: bool, wait_s: float, what: str) -> None:
    """Take one lock, polling (Ctrl-C stays possible) up to ``wait_s`` seconds."""
    deadline = time.monotonic() + wait_s
    said = False
    while not _try(connection, key, shared):
        if time.monotonic() >= deadline:
            raise LibraryBusyError(what)
        if not said:
            held = _HELD.get(key, "a collection that another index run is indexing")
            log.warning("waiting (up to %.0f s) for %s", wait_s, held)
            said = True
        time.sleep(_POLL_S)


@contextmanager
def holding(
    engine: Engine,
    keys: Sequence[tuple[int, bool, float, str]],
) -> Iterator[None]:
    """Hold ``(key, shared, wait seconds, message when busy)`` locks, taken in the order given
    (callers sort them: no two holders wait for each other), released at the end."""
    with _session_of_locks(engine) as connection:
        for key, shared, wait_s, what in keys:
            _acquire(connection, key, shared=shared, wait_s=wait_s, what=what)
        yield


@contextmanager
def _session_of_locks(engine: Engine) -> Iterator[Connection]:
    """A connection of its own (autocommit) whose session's advisory locks end with it."""
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        yield connection
    finally:
        try:  # the pool keeps the connection: its session must let go of its locks
            connection.execute(text("SELECT pg_advisory_unlock_all()"))
        except Exception:
            connection.invalidate()  # the session ends, and the server drops its locks
        connection.close()


class DatabaseLocks:
    """The advisory locks of one PostgreSQL library (``store.locks``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def maintenance(self, busy: str) -> AbstractContextManager[None]:
        """The whole library, exclusively; ``LibraryBusyError(busy)`` at once when taken."""
        return holding(self.engine, [(LIBRARY, False, 0.0, busy)])

    def index_run(
        self,
        roots: Sequence[str],
        wait_s: float,
        busy: Callable[[str], str],
        *,
        library_held: bool = False,
    ) -> AbstractContextManager[None]:
        """The library shared and each collection root exclusively, waiting up to
        ``wait_s`` for each; ``busy(root)`` (root "": the library) is the error's text.
        ``library_held``: the caller holds the library exclusively (:meth:`maintenance`)."""
        by_key = {collection_key(root): root for root in roots}
        keys = [] if library_held else [(LIBRARY, True, wait_s, busy(""))]
        # one order for every run: no two runs wait for each other in turn
        keys += [(key, False, wait_s, busy(by_key[key])) for key in sorted(by_key)]
        return holding(self.engine, keys)

    def finish(self, wait_s: float, busy: str) -> AbstractContextManager[None]:
        """The end of an index run, one at a time."""
        return holding(self.engine, [(FINISH, False, wait_s, busy)])

    def run_liveness(self) -> AbstractContextManager[Callable[[int], None]]:
        """``with locks.run_liveness() as hold``: ``hold(run_id)`` marks the run live."""
        return run_liveness(self.engine)

    def live_runs(self, run_ids: Sequence[int]) -> set[int]:
        """Which of ``run_ids`` a live process holds."""
        return live_runs(self.engine, run_ids)

    def held_by_others(self) -> bool:
        """Does another session hold any of imgsearch's locks (but the schema's) now?"""
        query = text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid = CAST(:ns AS oid) AND objid <> CAST(:schema AS oid) "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND pid <> pg_backend_pid()"
        )
        with self.engine.connect() as connection:
            return bool(connection.scalar(query, {"ns": NAMESPACE, "schema": SCHEMA}))


@contextmanager
def run_liveness(engine: Engine) -> Iterator[Callable[[int], None]]:
    """Yields ``hold(run_id)``, which takes that run's lock (its liveness record) on a
    connection of its own, held until the end of the block or of the process."""

    def hold(run_id: int) -> None:
        if not _try(connection, run_id, False, RUNS):  # ids are never reused
            raise LibraryBusyError(f"index run {run_id} is already held by another process")

    with _session_of_locks(engine) as connection:
        yield hold


def live_runs(engine: Engine, run_ids: Sequence[int]) -> set[int]:
    """Which of ``run_ids`` are held by a live index run (any session, any machine)."""
    if not run_ids:
        return set()
    query = text(
        "SELECT CAST(objid AS bigint) FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND classid = CAST(:ns AS oid) AND objsubid = 2 "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    with engine.connect() as connection:
        held = {int(objid) for objid in connection.scalars(query, {"ns": RUNS})}
    return held & set(run_ids)


def database_locks(engine: Engine) -> DatabaseLocks | None:
    """The writers' locks of the database at ``engine``: advisory locks on PostgreSQL,
    None elsewhere (SQLite: the library's lock file)."""
    return DatabaseLocks(engine) if engine.dialect.name == "postgresql" else None
