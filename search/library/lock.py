"""Who may write to a library, and when.

SQLite: one writer per library, an exclusive ``flock`` on ``<library>/.writer.lock``, taken by
index runs, removals, index rebuilds and schema migrations (a second one fails at once);
readers never take it.

PostgreSQL (several processes, on several machines): advisory locks in the database
(:mod:`search.store.locks`, ``store.locks``). Index runs share the library and each holds
its collections exclusively, so runs over disjoint collections write at once and a run
over a collection another run holds waits for it (``Settings.lock_wait_s``); the end of a
run (whitening, the FAISS cache, calibration) is one run at a time; maintenance
(``remove``, ``rebuild-index``, ``reindex``, ``db upgrade``) holds the whole library and
fails at once when anyone writes.

Every index run is recorded as ``running`` until it ends (``store.runs``); these locks are
also what tells a live run from a killed one (:meth:`WriterLocks.live_runs`): on SQLite the
run holds the library's file lock, on PostgreSQL an advisory lock of its own per run, and the
system drops either when the process dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from search.settings import Settings
from search.store import LibraryBusyError, LibraryReadOnlyError, disk_full

LOCK_FILENAME = ".writer.lock"
FINISH_WAIT_S = 3600.0  # the end of another run: learning, a rebuild (minutes at most)

__all__ = [
    "LOCK_FILENAME",
    "READ_ONLY_SETTING",
    "WriterLocks",
    "on_full_disk",
    "refuse_writes",
    "writer_active",
    "writer_lock",
]


READ_ONLY_SETTING = "the library is opened read-only (unset IMGSEARCH_READ_ONLY to write it)"
READ_ONLY_USER = "is read-only for this user: run as its owner, or copy it somewhere writable"
READ_ONLY_MOUNT = "is on a read-only file system: mount it writable, or copy it somewhere writable"


def refuse_writes(settings: Settings, read_only: bool = False) -> None:
    """Raise :class:`LibraryReadOnlyError` saying why the library cannot be written: the
    setting, or (its store opened ``read_only``) the user's permissions or a full disk."""
    if settings.read_only:
        raise LibraryReadOnlyError(f"{READ_ONLY_SETTING}: this command writes it")
    if read_only:
        why = READ_ONLY_USER
        if on_full_disk(settings):
            why = "is on a full disk: free some space"
        elif on_read_only_mount(settings.library):  # no owner can write it: say so
            why = READ_ONLY_MOUNT
        raise LibraryReadOnlyError(f"the library {settings.library} {why}")


def on_read_only_mount(path: Path) -> bool:
    """Is ``path`` (or the nearest folder above it that exists) on a file system mounted
    read-only (a read-only bind mount, a CD, a snapshot)?"""
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def on_full_disk(settings: Settings) -> bool:
    """Is the library read-only for a full disk (a reader reads it as it is then), not for
    the setting or the user's permissions?"""
    return not settings.read_only and disk_full(settings.database_path)


def writer_active(path: Path) -> bool:
    """Does another process (or thread) hold the lock file at ``path`` right now? Asked by
    readers, who may not write the file (a server run by another user than the library's
    owner): it is opened for reading (a lock asked through a read-only handle is the same
    lock); a file this user may not even read tells nothing (False)."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 (closed below)
    except OSError:  # none (no writer yet), or unreadable
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def _busy(library: Path | str) -> str:
    return (
        f"another imgsearch process is writing to {library} (an index run?); wait for it to finish"
    )


@contextmanager
def writer_lock(library: Path, locks: Any = None) -> Iterator[None]:
    """Hold the whole library as its only writer, or fail at once with
    :class:`LibraryBusyError`; ``locks``: the store's database locks (PostgreSQL)."""
    if locks is not None:
        with locks.maintenance(_busy("this PostgreSQL library")):
            yield
        return
    library.mkdir(parents=True, exist_ok=True)
    path = library / LOCK_FILENAME
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LibraryBusyError(_busy(library)) from None
        try:
            _write_pid(handle.fileno(), path)
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_pid(fd: int, path: Path) -> None:
    """This process's id into the lock file ``path`` (open as ``fd``, in append mode); a
    failure (a full disk) names the file: a failed write names none."""
    try:
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
    except OSError as error:
        raise OSError(error.errno, error.strerror, str(path)) from error


class WriterLocks:
    """The locks of one library: ``locks`` is ``store.locks`` (None: SQLite's file lock)."""

    def __init__(self, library: Path, locks: Any, wait_s: float) -> None:
        self.library = library
        self.locks = locks
        self.wait_s = wait_s
        self._owner: int | None = None  # the thread holding the whole library, if one does

    def _held_here(self) -> bool:
        return self._owner == threading.get_ident()

    @property
    def shared(self) -> bool:
        """Can several index runs write at once (disjoint collections)?"""
        return self.locks is not None

    def exclusive(self) -> AbstractContextManager[None]:
        """The whole library, for maintenance: fails at once when anyone writes. Re-entrant
        in its thread: a maintenance step (``reindex``: switch the model, then index) holds
        it from its first step to the end of its index run, so no reader sees the library
        without a live writer in between."""
        if self._held_here():
            return contextlib.nullcontext()
        return self._exclusive()

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        with writer_lock(self.library, self.locks):
            self._owner = threading.get_ident()
            try:
                yield
            finally:
                self._owner = None

    def index_run(self, roots: Sequence[Path]) -> AbstractContextManager[None]:
        """An index run over ``roots``: SQLite's file lock; on PostgreSQL the library shared
        and each collection exclusively (waiting up to ``wait_s`` for another run's). Inside
        :meth:`exclusive` of this thread the library is held already."""
        held = self._held_here()
        if self.locks is None:
            return contextlib.nullcontext() if held else writer_lock(self.library)

        def busy(root: str) -> str:
            held = f"the collection {root}" if root else "this PostgreSQL library"
            return (
                f"another imgsearch process has held {held} for {self.wait_s:.0f} s; try "
                "again later (IMGSEARCH_LOCK_WAIT sets how long index runs wait)"
            )

        return self.locks.index_run(  # type: ignore[no-any-return]
            [str(r) for r in roots], self.wait_s, busy, library_held=held
        )

    def finish(self) -> AbstractContextManager[None]:
        """The end of an index run (whitening, the FAISS cache, calibration): one run at a
        time (SQLite: the run's file lock already)."""
        if self.locks is None:
            return contextlib.nullcontext()
        waited = "another index run has been finishing for an hour"
        return self.locks.finish(FINISH_WAIT_S, waited)  # type: ignore[no-any-return]

    def run_liveness(self) -> AbstractContextManager[Callable[[int], None]]:
        """``with locks.run_liveness() as hold``: ``hold(run_id)`` marks run ``run_id`` live
        until the block ends (SQLite: nothing to do, the run holds the library's lock)."""
        if self.locks is None:
            return contextlib.nullcontext(lambda _run_id: None)
        return self.locks.run_liveness()  # type: ignore[no-any-return]

    def live_runs(self, run_ids: Sequence[int]) -> set[int]:
        """Which of the runs recorded as ``running`` are alive: on SQLite the newest while
        some process holds the library's lock (one writer, and each run first records the
        runs before it that died as interrupted), none when nobody does; on PostgreSQL those
        whose own lock a live session holds."""
        if self.locks is not None:
            return set(self.locks.live_runs(run_ids))
        try:
            return {max(run_ids)} if run_ids and self.active() else set()
        except OSError:  # the lock file cannot be opened here: as recorded
            return set(run_ids)

    def active(self) -> bool:
        """Does another process (or thread) write to the library right now?"""
        if self.locks is not None:
            return bool(self.locks.held_by_others())
        return writer_active(self.library / LOCK_FILENAME)
