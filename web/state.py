"""The one query engine of a server process, shared by all request threads.

The engine is opened once. When no library exists yet the server still starts, answers 503
with a clear message and tries again at most once per interval, so a library made by an index
run is picked up without a restart. Once open, ``engine.refresh()`` (a cheap generation check
that reloads the FAISS cache when an index run committed) runs at most once per interval, one
at a time, in a background thread: no request waits for a reload (at 100 k vectors that can
take seconds); every request keeps searching the index it holds, and the next ones get the
new one as soon as it is swapped in. A server also checks on its own (:meth:`EngineHolder.poll`)
every interval: checked only by requests, the first search after a quiet night's index run was
answered from the old index while ``/stats`` already counted the new photos.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from search.settings import Settings
from search.store import LibraryNotFoundError, database_replaced

if TYPE_CHECKING:
    from search.query import SearchEngine

log = logging.getLogger(__name__)

REFRESH_INTERVAL_S = 1.0


def _open_engine(settings: Settings) -> SearchEngine:
    from search.query import SearchEngine  # imported late: the engine loads ONNX/FAISS

    return SearchEngine.open(settings)


class EngineHolder:
    """Holds the shared engine; :meth:`get` returns it (fresh) or raises why there is none."""

    def __init__(
        self,
        settings: Settings,
        engine: SearchEngine | None = None,
        *,
        opener: Callable[[Settings], SearchEngine] = _open_engine,
        interval: float = REFRESH_INTERVAL_S,
        background: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.interval = interval
        self.background = background
        #: Seconds from any fixed start; tests put a fake one here to step over the interval.
        self.clock = clock
        self._opener = opener
        self._engine = engine
        self._open_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._last_check = clock() if engine is not None else float("-inf")
        self._next_refresh = self._last_check + interval
        self._last_error: Exception | None = None
        self._closed = threading.Event()
        self._poller: threading.Thread | None = None

    @property
    def engine(self) -> SearchEngine | None:
        """The engine if one is open (no refresh, no open attempt)."""
        return self._engine

    def read_only(self) -> bool:
        """Is the open library read-only (nothing may be written)?"""
        return bool(self._engine is not None and self._engine.store.read_only)

    def get(self) -> SearchEngine:
        """The engine, refreshed if the last check is older than the interval.

        Raises :class:`LibraryNotFoundError` (or the error the last open attempt raised) while
        there is no library to serve.
        """
        engine = self._engine
        if engine is None:
            return self._open()
        now = self.clock()
        if now >= self._next_refresh and self._refresh_lock.acquire(blocking=False):
            self._next_refresh = float("inf")  # set again when this refresh has finished
            if self.background:
                threading.Thread(
                    target=self._refresh, args=(engine,), name="imgsearch-refresh", daemon=True
                ).start()
            else:
                self._refresh(engine)
        return engine

    def poll(self) -> None:
        """Check the library every interval from a background thread, requests or not (a
        server calls it once it is up), so an idle server has the new index by its first
        search after an index run."""
        if self._poller is not None:
            return
        self._poller = threading.Thread(target=self._poll, name="imgsearch-poll", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._closed.wait(self.interval):
            engine = self._engine
            if engine is None or self.clock() < self._next_refresh:
                continue
            if self._refresh_lock.acquire(blocking=False):
                self._next_refresh = float("inf")
                self._refresh(engine)

    def _refresh(self, engine: SearchEngine) -> None:
        """Reload the index if the library's generation moved (the refresh lock is held); a
        library whose database file was deleted or replaced is opened again (or none is)."""
        started = self.clock()
        try:
            if database_replaced(engine.store):
                self._forget(engine)
            elif engine.refresh():
                log.info("library changed: now serving its new generation")
        except Exception:  # keep serving the generation we have; say why in the log
            if not self._closed.is_set():  # (a server closing under its poll: nothing to say)
                log.exception("refreshing the library failed; serving the previous generation")
        finally:
            took = self.clock() - started
            # A reload that had to rebuild the index from the database (seconds to minutes at
            # 100 k vectors) is not started again right away: at most a third of the time.
            self._next_refresh = self.clock() + max(self.interval, 2.0 * took)
            if took > self.interval:
                log.warning(
                    "reloading the library took %.1f s; next check in %.0f s",
                    took,
                    max(self.interval, 2.0 * took),
                )
            self._refresh_lock.release()

    def _forget(self, engine: SearchEngine) -> None:
        """Serve the library at the path again: the next request opens it (503 while there
        is none). ``engine`` is left to the requests still holding it, not closed under them."""
        log.warning("the library's database file was deleted or replaced: opening it again")
        with self._open_lock:
            if self._engine is engine:
                self._engine, self._last_error = None, None
                self._last_check = float("-inf")

    def _open(self) -> SearchEngine:
        with self._open_lock:
            if self._engine is not None:
                return self._engine
            now = self.clock()
            last = self._last_error
            if now - self._last_check < self.interval and last is not None:
                if isinstance(last, LibraryNotFoundError):
                    raise LibraryNotFoundError(str(last))  # a fresh one per request thread
                raise last
            self._last_check = now
            try:
                self._engine = self._opener(self.settings)
            except LibraryNotFoundError as error:
                self._last_error = error
                raise
            except Exception as error:
                log.error("cannot open the library at %s: %s", self.settings.library, error)
                self._last_error = error
                raise
            self._last_error = None
            self._next_refresh = self.clock() + self.interval
            log.info("serving the library at %s", self.settings.library)
            return self._engine

    def try_open(self) -> bool:
        """Open now if possible (at start-up); False while there is no library yet."""
        try:
            self.get()
        except LibraryNotFoundError:
            return False
        return True

    def close(self) -> None:
        self._closed.set()
        engine, self._engine = self._engine, None
        if engine is not None and hasattr(engine, "close"):
            engine.close()
