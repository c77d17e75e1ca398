"""Decode threads that start few and add more only while the model thread waits for them.

On a small machine the decode threads and the model share the cores: with one model thread
and two decoders on two cores, web-size photos (decode ~5 ms, model ~3 ms an image) cost
~10 % more CPU and ran no faster than with one decoder (three busy threads fighting over two
cores), while 12 MP photos (decode ~40 ms) need every core for decoding.
:class:`DecodePool` therefore holds ``most`` threads but lets only ``active`` of them work at
once, starting from the cores the model leaves free; :meth:`DecodePool.pace` is told after
each batch (the model thread takes decodes through :meth:`DecodePool.result`, which counts
how long it waited) and lets one more thread work while the model thread has waited longer
than it worked over the run so far (decoding is the bottleneck). While fewer threads decode
than there are cores and the caller waits for a decode, it runs the newest decode not yet
started itself (:meth:`DecodePool.result`): the core the model leaves idle between batches
decodes without a third busy thread contending for the two cores and the GIL (509 shared
photos: wall 6.3 -> 5.1 s at the same CPU; a second decode thread instead cost more CPU and
was no faster).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from models.cores import usable_cores

__all__ = ["DecodePool", "free_cores"]

P = ParamSpec("P")
T = TypeVar("T")


def free_cores(model_threads: int) -> int:
    """Cores left to the decoders beside a model on ``model_threads`` threads (0: every core,
    ONNX Runtime's default); at least one."""
    cores = usable_cores()
    used = model_threads if model_threads > 0 else cores
    return max(1, cores - used)


class DecodePool:
    """A thread pool of ``most`` decode threads of which ``active`` may work at once."""

    def __init__(self, most: int, active: int | None = None, name: str = "imgsearch-decode"):
        self.most = max(1, int(most))
        self.active = self.most if active is None else max(1, min(self.most, int(active)))
        self._executor = ThreadPoolExecutor(self.most, thread_name_prefix=name)
        self._turns = threading.Condition()
        self._working = 0
        self._mark: float | None = None  # when the caller's current batch began
        self._waited_now = 0.0  # seconds the caller waited for decodes since then
        self._waited = self._worked = 0.0  # over the batches before
        self._queued: dict[Future[object], tuple[Callable[..., object], tuple, dict]] = {}
        self._stolen: dict[Future[object], Future[object]] = {}  # run by the caller instead
        self._queue_lock = threading.Lock()
        self._cores = usable_cores()

    def submit(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Run ``fn`` in a decode thread when one of the ``active`` turns is free."""
        return self._executor.submit(self._in_turn, fn, *args, **kwargs)

    def offer(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """:meth:`submit` a decode whose result the caller takes through :meth:`result` (and
        nowhere else): the caller may run it itself while it waits for another."""
        future = self._executor.submit(self._in_turn, fn, *args, **kwargs)
        if self.active >= self._cores:  # every core decodes (and ``active`` only grows)
            return future
        with self._queue_lock:
            self._queued[future] = (fn, args, kwargs)  # type: ignore[index]
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: Future[object]) -> None:
        with self._queue_lock:
            self._queued.pop(future, None)

    def _steal(self, wanted: Future[T]) -> bool:
        """Run a decode that no thread has started here, in the caller's thread: ``wanted``
        itself, else the newest one. False when every queued decode has started."""
        if self.active >= self._cores:  # every core decodes already
            return False
        with self._queue_lock:
            order = [wanted] if wanted in self._queued else []
            order += [f for f in reversed(self._queued) if f is not wanted]
        for future in order:
            with self._queue_lock:
                task = self._queued.get(future)
            if task is None or not future.cancel():  # started (or done) meanwhile
                continue
            fn, args, kwargs = task
            ran: Future[object] = Future()
            try:
                ran.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # handed to whoever asks for this result
                ran.set_exception(exc)
            self._stolen[future] = ran
            return True
        return False

    def _in_turn(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        with self._turns:
            while self._working >= self.active:
                self._turns.wait()
            self._working += 1
        try:
            return fn(*args, **kwargs)
        finally:
            with self._turns:
                self._working -= 1
                self._turns.notify()

    def result(self, future: Future[T]) -> T:
        """``future``'s result (of :meth:`submit`), counting the time the caller waited;
        while it is not ready, the caller runs decodes that no thread has started."""
        stolen = self._stolen.pop(future, None)  # type: ignore[call-overload]
        if stolen is not None:
            return stolen.result()  # type: ignore[no-any-return]
        now = time.perf_counter()
        if self._mark is None:  # the first wait starts the count
            self._mark = now
        while not future.done() and self._steal(future):
            stolen = self._stolen.pop(future, None)  # type: ignore[call-overload]
            if stolen is not None:
                return stolen.result()  # type: ignore[no-any-return]
        now = time.perf_counter()
        if not future.done():
            try:
                return future.result()
            finally:
                self._waited_now += time.perf_counter() - now
        return future.result()

    def pace(self) -> None:
        """After a batch: when the caller has waited for decodes longer than it worked, over
        the batches so far, one more decode thread works from now on. (Over all batches, not
        the last one: the decodes run ahead, so waits come in bursts when that lead runs out,
        and one burst made a run of web-size photos take a second decoder it did not need.)"""
        if self._mark is None:
            return
        now = time.perf_counter()
        self._worked += now - self._mark - self._waited_now
        self._waited += self._waited_now
        self._mark, self._waited_now = now, 0.0
        if self._waited > self._worked and self.active < self.most:
            with self._turns:
                self.active += 1
                self._turns.notify()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._turns:  # let queued tasks through so that shutdown never waits on a turn
            self.active = self.most
            self._turns.notify_all()
        self._executor.shutdown(wait=wait, cancel_futures=cancel_futures)
        self._stolen.clear()
