"""Decode + embed in worker processes: an index run on every core, no GIL between them.

Threads decode in one process share one interpreter lock: every Pillow, NumPy or hashing call
on a small array hands it over, and two decode threads on two cores decoded hymenoptera's
photos at 1.2-1.5 s against 0.8-1.0 s for two processes (``bench/README.md``, issue 17). So
a run with enough work (:data:`PROCESSES_FROM` files or :data:`PROCESSES_FROM_BYTES` bytes)
sends its files' bytes to forked worker processes (:mod:`indexer.process_worker`), each with
its own ONNX session on one thread and the :class:`models.ImageAnalyzer` a threaded run uses
(decode inline, one model pass per chunk; the edits of the whitening's learning sample made
and embedded there too): only the analyses come back (a few kB an image).
Everything else - reading and hashing each file once, moves and copies, the writer - stays
in this process, as with the threads. Each worker may hold the decode budget
(``IMGSEARCH_DECODE_BUDGET_MB``) while it decodes its one image.

The workers are forked when the analyzer is made, before the run starts its own threads;
they leave Ctrl+C to this process (which stops them) and end when it is gone. A worker that
dies (a decoder that crashes the interpreter on a crafted file) breaks the pool: a new one
takes over, every chunk that was in flight is sent again alone, one that breaks the pool
alone is split into one file a task, and a file that breaks it alone is recorded as failed
(``decoder_crashed``) - the rest of the run goes on.
"""

from __future__ import annotations

import io
import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexer.process_worker import Item, WorkerRead, analyze, read_and_analyze, ready, start_worker
from indexer.reading import read_file
from indexer.sampled import EditMaker, SampledSource
from models import Analysis, ImageError, OnnxModel, Ready, usable_cores

__all__ = [
    "PROCESSES_FROM",
    "PROCESSES_FROM_BYTES",
    "DecoderCrashedError",
    "ProcessAnalyzer",
    "worker_processes",
]

log = logging.getLogger(__name__)

#: files a run embeds from which it uses processes, or bytes (each worker opens its own
#: model: ~0.1 s CPU that a small run would not win back)
PROCESSES_FROM = 64
PROCESSES_FROM_BYTES = 32 << 20
#: a chunk (one task, one model pass) holds at most this many files ...
CHUNK_FILES = 16
#: ... and at most this many bytes, so that large photos spread over the workers
CHUNK_BYTES = 4 << 20


#: worker processes at most (each may hold the decode budget: ``IMGSEARCH_DECODE_BUDGET_MB``)
MOST_PROCESSES = 4


def worker_processes(workers: int, sizes: list[int], *, local: bool, allowed: bool = True) -> int:
    """Worker processes for a run that embeds files of ``sizes`` bytes (0: decode in
    threads): one per core the process may use (``workers`` when given), at most
    :data:`MOST_PROCESSES`, when ``allowed`` (``Settings.decode_processes``) and the run runs
    here, has two cores or more and :data:`PROCESSES_FROM` files or
    :data:`PROCESSES_FROM_BYTES` bytes."""
    count = min(MOST_PROCESSES, workers or usable_cores())
    large = len(sizes) >= PROCESSES_FROM or sum(sizes) >= PROCESSES_FROM_BYTES
    if not allowed or not local or not large or count < 2:
        return 0
    return count


class DecoderCrashedError(ImageError):
    """A worker process died decoding the file (the only file it was given)."""

    reason = "decoder_crashed"


@dataclass
class _Slot:
    """Files on their way, in input order: a chunk sent to the workers, or a result at hand."""

    items: list[Item] = field(default_factory=list)
    future: Future[list[Analysis | ImageError]] | None = None
    done: list[Analysis | ImageError] | None = None
    tries: int = 0  # times the pool broke under it


class ProcessAnalyzer:
    """``analyze_iter`` of :class:`models.ImageAnalyzer` on ``processes`` worker processes
    (module doc). Sources: bytes streams (named), paths of streamed files, and
    :class:`models.Ready` results made before (passed through in their place)."""

    def __init__(
        self,
        model: OnnxModel,
        processes: int,
        *,
        batch_size: int = 32,
        frames: bool = False,
        max_pixels: int | None = None,
        quality: bool = False,
        crops: bool = False,
        views: EditMaker | None = None,
    ) -> None:
        self.processes = max(1, int(processes))
        self.views = views  # the learning sample's edits, made by the workers
        self.chunk_files = max(1, min(CHUNK_FILES, int(batch_size)))
        self._options: dict[str, Any] = {
            "batch_size": self.chunk_files,
            "frames": frames,
            "max_pixels": max_pixels,
            "quality": quality,
            "crops": crops,
        }
        self._located = model.located
        self.restarts = 0
        self._pool = self._start()
        log.info("%d worker processes decode and embed", self.processes)

    @classmethod
    def start(cls, model: OnnxModel, processes: int, **options: Any) -> ProcessAnalyzer | None:
        """The analyzer, or None (said in a warning) when its workers cannot be forked (a
        limit on processes or memory): the run then decodes in threads."""
        try:
            return cls(model, processes, **options)
        except OSError as exc:
            log.warning(
                "cannot start %d worker processes (%s): decoding in threads", processes, exc
            )
            return None

    def _start(self) -> ProcessPoolExecutor:
        """A new pool, its workers forked now (from this thread, before others start)."""
        pool = ProcessPoolExecutor(
            self.processes,
            mp_context=multiprocessing.get_context("fork"),
            initializer=start_worker,
            initargs=(self._located, self._options, os.getpid()),
        )
        pool.submit(ready)  # the fork context starts every worker on the first task
        return pool

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def read_first(self, paths: list[Path], sizes: list[int]) -> list[Future[WorkerRead]]:
        """Read, hash, decode and embed a new library's first files in the workers (before
        the library is opened): a future for each, of ``(its read or the error reading
        it, its result)``. Where a worker died under them, each file is read here again and
        left to the run to analyse (result None)."""
        futures: list[Future[WorkerRead]] = []
        chunk: list[tuple[Path, Future[WorkerRead]]] = []
        size = 0
        for path, nbytes in zip(paths, sizes, strict=True):
            chunk.append((path, Future()))
            futures.append(chunk[-1][1])
            size += nbytes
            if len(chunk) >= self.chunk_files or size >= CHUNK_BYTES:
                self._read_chunk(chunk)
                chunk, size = [], 0
        if chunk:
            self._read_chunk(chunk)
        return futures

    def _read_chunk(self, chunk: list[tuple[Path, Future[WorkerRead]]]) -> None:
        task = self._pool.submit(read_and_analyze, [str(path) for path, _ in chunk])

        def hand_out(task: Future[list[WorkerRead]]) -> None:
            try:
                results = task.result()
            except BrokenProcessPool:  # read here; the run analyses them (module doc)
                results = [_read_here(path) for path, _ in chunk]
            except BaseException as exc:  # cancelled, or a task that failed: said by each
                results = [(exc, None)] * len(chunk)
            for (_, future), result in zip(chunk, results, strict=True):
                if not future.cancelled():
                    future.set_result(result)

        task.add_done_callback(hand_out)

    def __enter__(self) -> ProcessAnalyzer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def analyze_iter(self, sources: Iterable[Any]) -> Iterator[Analysis | ImageError]:
        """Results in input order; two chunks per worker in flight."""
        slots: deque[_Slot] = deque()
        chunk, size = _Slot(), 0
        try:
            for source in sources:
                if isinstance(source, Ready):
                    if chunk.items:
                        slots.append(chunk)
                        chunk, size = _Slot(), 0
                    slots.append(_Slot(done=[_ready_result(source)]))
                else:
                    item = _item(source)
                    chunk.items.append(item)
                    size += len(item[1] or b"")
                    if len(chunk.items) >= self.chunk_files or size >= CHUNK_BYTES:
                        slots.append(chunk)
                        chunk, size = _Slot(), 0
                self._pump(slots)
                while sum(s.done is None for s in slots) > self.window:
                    yield from self._take(slots)
            if chunk.items:
                slots.append(chunk)
            while slots:
                yield from self._take(slots)
        finally:
            for slot in slots:
                if slot.future is not None:
                    slot.future.cancel()

    @property
    def window(self) -> int:
        return 2 * self.processes

    def _pump(self, slots: deque[_Slot]) -> None:
        """Send the chunks not yet sent, in order, up to :attr:`window` in flight; a chunk
        under suspicion (it was in flight when a worker died) goes alone."""
        flying = sum(s.future is not None and s.done is None for s in slots)
        for slot in slots:
            if slot.done is not None or slot.future is not None:
                if slot.tries and slot.done is None:
                    return  # a suspect in flight: nothing beside it
                continue
            if slot.tries and flying:
                return  # a suspect waits for the others, then goes alone
            if flying >= self.window:
                return
            try:
                slot.future = self._pool.submit(analyze, slot.items, self.views)
            except BrokenProcessPool:  # it broke under a new library's first files
                self._mend(slots)
                return self._pump(slots)
            flying += 1
            if slot.tries:
                return

    def _take(self, slots: deque[_Slot]) -> list[Analysis | ImageError]:
        """The first slot's results, once they are in (a broken pool mended on the way)."""
        while True:
            self._pump(slots)
            slot = slots[0]
            if slot.done is None:
                assert slot.future is not None
                try:
                    slot.done = slot.future.result()
                except BrokenProcessPool:
                    self._mend(slots)
                    continue
            slots.popleft()
            return slot.done

    def _mend(self, slots: deque[_Slot]) -> None:
        """A worker died: a new pool, and every chunk that was in flight is a suspect, sent
        again alone; a suspect that breaks the pool alone is split into one file a task, and
        a file that breaks it alone is recorded as failed."""
        self.restarts += 1
        flying = [s for s in slots if s.future is not None and s.done is None]
        alone = len(flying) == 1
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._start()
        mended: list[_Slot] = []
        for slot in slots:
            if slot.future is not None and slot.done is None:
                if slot.future.done() and not _broken(slot):
                    slot.done = slot.future.result()  # finished before the pool broke
                elif alone and slot.tries and len(slot.items) > 1:
                    mended += [_Slot(items=[item], tries=1) for item in slot.items]
                    continue
                elif alone and slot.tries:
                    slot.done = [_crashed(slot.items[0][0])]
                else:
                    slot.future, slot.tries = None, slot.tries + 1
            mended.append(slot)
        slots.clear()
        slots.extend(mended)


def _read_here(path: Path) -> WorkerRead:
    try:
        return read_file(path), None
    except (OSError, ImageError) as exc:
        return exc, None


def _crashed(name: str) -> ImageError:
    log.warning("a decode process died on %s, alone: recorded as failed", name)
    return DecoderCrashedError(
        "the decoder's process died on this file (a damaged or crafted image?)", source=name
    )


def _broken(slot: _Slot) -> bool:
    """Whether the slot's task failed with the pool (its result is then to be made again)."""
    assert slot.future is not None
    return slot.future.cancelled() or isinstance(slot.future.exception(), BrokenProcessPool)


def _ready_result(source: Ready) -> Analysis | ImageError:
    done = source.prepared
    result = done.result() if isinstance(done, Future) else done
    if not isinstance(result, Analysis | ImageError):
        raise TypeError("a process analyzer passes on finished analyses only")
    return result


def _item(source: Any) -> Item:
    """A source as a task carries it: its name and bytes (a path: the worker reads it)."""
    if isinstance(source, io.BytesIO):
        place = source.place if isinstance(source, SampledSource) else None
        return str(getattr(source, "name", "") or ""), source.getvalue(), place
    if isinstance(source, str | os.PathLike):
        return str(source), None, None
    raise TypeError(f"a process analyzer reads bytes streams and paths, not {type(source)}")
