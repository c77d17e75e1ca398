"""The index pipeline's writer thread: records committed in batches, the FAISS cache saved.

Each batch is one transaction (:meth:`Library.apply`); the cache is saved every few batches
(never more often than its own save time allows), stamped with the generation it reflects.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from models import ImageError
from search.library import Library
from search.store import ChangeSet, ImageMove, ImageUpsert

log = logging.getLogger(__name__)

OUTCOMES = ("added", "updated", "moved", "removed", "failed", "unchanged")
RUN_FIGURES = ("added", "updated", "moved", "removed", "failed")  # an index run's record


def error_text(exc: BaseException) -> str:
    """``reason: message`` for an ImageError, the exception's type and text otherwise."""
    if isinstance(exc, ImageError):
        return f"{exc.reason}: {getattr(exc, 'message', str(exc))}"
    if isinstance(exc, OSError):
        return f"unreadable: {exc.strerror or exc}"
    return f"{type(exc).__name__}: {exc}"


def remove_stale_temp_files(index_path: Path, shared: bool) -> None:
    """Temp files of a save that was killed (``.index.faiss.*.tmp``); safe under the lock
    (``shared``: other runs may be saving now: only those an hour old)."""
    for temp in index_path.parent.glob(f".{index_path.name}.*.tmp"):
        try:
            if shared and time.time() - temp.stat().st_mtime < 3600:
                continue
            temp.unlink()
            log.info("removed %s, left by an interrupted save", temp)
        except OSError as error:
            log.warning("cannot remove %s: %s", temp, error)


@dataclass
class Record:
    """One unit of work for the writer; ``outcome`` is what it counts as once committed."""

    outcome: str
    path: str = ""
    upsert: ImageUpsert | None = None
    move: ImageMove | None = None
    removal: int | None = None
    error: str | None = None
    copied: bool = False
    leader_sha: str | None = None  # first embed of these bytes: report its id once committed


@dataclass
class Counts:
    added: int = 0
    updated: int = 0
    moved: int = 0
    removed: int = 0
    failed: int = 0
    unchanged: int = 0
    copied: int = 0
    converted_to_video: int = 0  # animated images indexed before as stills, videos now
    gone: int = 0  # files the walk found that were gone when read (renamed, deleted)
    batches: int = 0
    saves: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)


class Writer(threading.Thread):
    """Commits records in batches (one transaction each); saves the cache now and then."""

    _FLUSH = object()
    _STOP = object()

    def __init__(
        self,
        library: Library,
        batch_size: int,
        counts: Counts,
        on_commit: Callable[[int], None],
        min_save_interval: float = 2.0,
        run_id: int | None = None,
    ) -> None:
        super().__init__(name="imgsearch-writer", daemon=True)
        self.library = library
        self.batch_size = max(1, batch_size)
        self.counts = counts
        self.on_commit = on_commit
        self.min_save_interval = min_save_interval
        self.run_id = run_id  # the index run whose record each batch's figures go to
        self.queue: queue.Queue[object] = queue.Queue(maxsize=4 * self.batch_size)
        #: (sha256, image id) of committed first embeds: later copies of those bytes reuse
        #: the stored vector instead of a vector held in memory.
        self.committed: queue.SimpleQueue[tuple[str, int]] = queue.SimpleQueue()
        self.error: BaseException | None = None
        self._pending: list[Record] = []
        self._last_save = time.monotonic()
        self._save_cost = 0.0
        self._dirty = False

    # -- producer side ----------------------------------------------------------------------

    def put(self, record: object) -> None:
        while True:
            if self.error is not None:
                raise self.error
            try:
                self.queue.put(record, timeout=0.2)
                return
            except queue.Full:
                continue

    def flush(self) -> None:
        self.put(self._FLUSH)

    def finish(self) -> None:
        """Commit what is left and stop; re-raise the writer's error, if any."""
        if self.is_alive():
            self.put(self._STOP)
            self.join()
        if self.error is not None:
            raise self.error

    # -- the thread -------------------------------------------------------------------------

    def run(self) -> None:
        try:
            # load the FAISS cache (or rebuild a stale one) before the first batch, while the
            # first files decode: not on the way to the first decode
            self.library.index()
            while True:
                record = self.queue.get()
                if record is self._STOP:
                    self._commit()
                    return
                if record is self._FLUSH:
                    self._commit()
                    continue
                assert isinstance(record, Record)
                if record.outcome == "unchanged" and record.move is None:
                    self.counts.unchanged += 1
                    continue
                self._pending.append(record)
                if len(self._pending) >= self.batch_size:
                    self._commit()
        except BaseException as exc:  # handed to the producer, which stops the run
            log.debug("writer failed", exc_info=True)
            self.error = exc

    def _commit(self) -> None:
        if not self._pending:
            return
        records, self._pending = self._pending, []
        changes = ChangeSet()
        for record in records:
            if record.upsert is not None:
                changes.upserts.append(record.upsert)
            if record.move is not None:
                changes.moves.append(record.move)
            if record.removal is not None:
                changes.removals.append(record.removal)
        if self.run_id is not None:  # the run's figures with this batch, in its transaction
            figures = {name: getattr(self.counts, name) for name in RUN_FIGURES}
            for record in records:
                if record.outcome in figures:
                    figures[record.outcome] += 1
            changes.run = (self.run_id, figures)
        applied = self.library.apply(changes)
        upserted = iter(applied.upserted_ids)
        for record in records:
            if record.upsert is not None:
                image_id = next(upserted)
                if record.leader_sha is not None and record.outcome != "failed":
                    self.committed.put((record.leader_sha, image_id))
        counts = self.counts
        counts.batches += 1
        for record in records:
            setattr(counts, record.outcome, getattr(counts, record.outcome) + 1)
            counts.copied += record.copied
            if record.outcome == "failed":
                counts.failures.append((record.path, record.error or "failed"))
        self._dirty = True
        self.on_commit(sum(r.outcome != "removed" for r in records))
        now = time.monotonic()
        if now - self._last_save >= max(self.min_save_interval, 10 * self._save_cost):
            self.save()

    def save(self) -> None:
        """Save the FAISS cache (atomic; stamped with the committed generation)."""
        if not self._dirty:
            return
        start = time.monotonic()
        self.library.save_index()
        self._last_save = time.monotonic()
        self._save_cost = self._last_save - start
        self._dirty = False
        self.counts.saves += 1
