"""The store's record of ``imgsearch index`` runs (``store.runs``): when each started and
ended, how, and what it did.

A run's row says ``running`` from its start to its end; whether a ``running`` run still
lives is not the row's to say (a killed process never writes its end): that is its liveness
record, a lock the live run holds (:mod:`search.library.lock`: the library's lock file on
SQLite, an advisory lock per run on PostgreSQL, :mod:`search.store.locks`). The row is made
visible only once that lock is held (:meth:`RunRecords.start` takes it before its commit),
so a reader never meets a live run without it.

One part of :class:`search.store.store.Store`, reached as an attribute of it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from search.store.records import SessionFactory, utcnow
from search.store.schema import IndexRun

RUNNING = "running"
INTERRUPTED = "interrupted"
COUNTED = ("added", "updated", "moved", "removed", "failed")


@dataclass(frozen=True)
class RunRecord:
    """One index run as recorded."""

    id: int
    status: str
    started_at: datetime
    finished_at: datetime | None
    added: int
    updated: int
    moved: int
    removed: int
    failed: int
    images_per_second: float | None


def _record(row: IndexRun) -> RunRecord:
    return RunRecord(
        id=row.id,
        status=row.status,
        started_at=row.started_at,
        finished_at=row.finished_at,
        images_per_second=row.images_per_second,
        **{name: int(getattr(row, name) or 0) for name in COUNTED},
    )


class RunRecords:
    """Index runs (``store.runs``)."""

    def __init__(self, session: SessionFactory) -> None:
        self._session = session

    def start(self, hold: Callable[[int], None] | None = None) -> int:
        """Record a new run as ``running``; returns its id. ``hold(id)`` takes the run's
        liveness lock before the row is committed (seen by others)."""
        with self._session() as session:
            run = IndexRun(started_at=utcnow(), status=RUNNING)
            for name in COUNTED:
                setattr(run, name, 0)
            session.add(run)
            session.flush()
            if hold is not None:
                hold(run.id)
            return run.id

    def finish(self, run_id: int, status: str, **figures: float) -> None:
        """Record the end of run ``run_id``: ``status`` (done, failed, interrupted)."""
        with self._session() as session:
            run = session.get_one(IndexRun, run_id)
            run.status = status
            run.finished_at = utcnow()
            for name, value in figures.items():
                setattr(run, name, value)

    def last(self) -> RunRecord | None:
        """The newest run, or None before the first."""
        with self._session() as session:
            row = session.scalar(select(IndexRun).order_by(IndexRun.id.desc()).limit(1))
            return None if row is None else _record(row)

    def unfinished(self) -> list[int]:
        """Ids of the runs recorded as ``running`` (live, or killed), oldest first."""
        with self._session() as session:
            query = select(IndexRun.id).where(IndexRun.status == RUNNING).order_by(IndexRun.id)
            return list(session.scalars(query))

    def interrupt(self, run_ids: Sequence[int]) -> None:
        """Record runs ``run_ids``, found dead while ``running``, as ``interrupted`` (their
        end unknown: ``finished_at`` stays empty)."""
        if not run_ids:
            return
        with self._session() as session:
            for run_id in run_ids:
                run = session.get(IndexRun, run_id)
                if run is not None and run.status == RUNNING:
                    run.status = INTERRUPTED
