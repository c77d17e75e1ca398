"""A new library's first decodes, started before the library is opened.

Opening a library costs SQLAlchemy's import and the store's first statements (~0.4 s of the
main thread here), and the model's session ~0.15 s more; none of it is needed to decode a
photo. For a library that does not exist yet every file a walk finds is new, so
:meth:`HeadStart.begin` walks the folders, opens the model in the background and sends the
first files (read + sha256 + :meth:`models.ImageAnalyzer.prepare`, the pipeline's own steps)
to the decode threads at once, while the caller goes on importing and opening the library.
The pipeline (:mod:`indexer.pipeline`) then takes those results in plan order instead of
reading and decoding the files again (:meth:`HeadStart.take`): one path of data, started
early. A run that will decode in worker processes (:mod:`indexer.processes`) forks them here,
before any thread or model session, and they read, hash, decode and embed those first files
(an early file of the whitening's learning sample, known only later, is read again and sent
with its place, for its edits). Whatever the pipeline does not take (analyzer options that
turned out different) is dropped and done the usual way, so the rows and vectors are those of
a run without it.

Imports only the standard library, :mod:`models` and the light parts of :mod:`indexer` and
:mod:`search` (no SQLAlchemy, no ONNX Runtime on this thread).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from indexer.process_worker import WorkerRead
from indexer.processes import ProcessAnalyzer, worker_processes
from indexer.progress import process_age, run_cpu
from indexer.reading import FileRead, decoder_source, read_file
from indexer.scan import ScanReport, resolve_roots, scan_roots
from models import (
    DEFAULT_MODEL_NAME,
    Analysis,
    ImageAnalyzer,
    ImageError,
    OnnxModel,
    Prepared,
    Ready,
    free_cores,
    is_video_name,
    locate_model,
    return_freed_memory,
    usable_cores,
)
from search.descriptor import DescriptorConfig
from search.settings import Settings

if TYPE_CHECKING:  # it imports the library (SQLAlchemy): not before the first decodes
    from indexer.learning import LearningSample

__all__ = ["Early", "HeadStart", "decode_active", "decode_workers", "log_first_decode"]


log = logging.getLogger(__name__)


@dataclass
class Early:
    """A file read, hashed and prepared (decoded, preprocessed) before the plan existed - or
    analysed already, by a worker process (:mod:`indexer.processes`); ``prepared`` None: read
    only (a worker died under it), the run analyses it."""

    read: FileRead
    prepared: Prepared | Analysis | ImageError | None


def decode_workers(requested: int = 0) -> int:
    """Reader and decode threads of a run: ``requested``, else one per core (at most 4)."""
    return requested or min(4, usable_cores())


LARGE_FILE_BYTES = 512 * 1024  # a mean file size above it: decoding is the bottleneck


def decode_active(requested: int, model: OnnxModel, sizes: Sequence[int]) -> int | None:
    """Decode threads that work from the start (None: all of them): all when ``requested``
    or when the run's first files (``sizes``) are large - a 12 MP JPEG takes ~30 ms to
    decode against the model's ~3 ms - else those of the cores the model leaves free; more
    join while the model waits for decodes (:class:`models.DecodePool`). On 2 cores, web-size
    photos took ~10 % less CPU with one decoder than with two and were no slower."""
    if requested or (sizes and sum(sizes) / len(sizes) > LARGE_FILE_BYTES):
        return None
    return free_cores(model.threads)


def log_first_decode(logger: logging.Logger) -> None:
    """Log how long the process took to send its first file to the decoders."""
    logger.info(
        "the first file goes to the decoders %.3f s after the process started "
        "(%.3f s CPU, %.3f s of it on this thread)",
        process_age(),
        time.process_time(),
        time.thread_time(),
    )


@dataclass
class HeadStart:
    """The walk of a new library's folders, its model, and the first files in the decoders."""

    roots: list[Path]
    scans: list[tuple[Path, ScanReport]]
    model: OnnxModel
    analyzer: ImageAnalyzer | ProcessAnalyzer
    options: dict[str, object]  # the analyzer's options these files were prepared with
    futures: dict[Path, Future[Early]] = field(default_factory=dict)
    #: when it began (``time.monotonic()``, ``time.process_time()``): the run's own start
    started: tuple[float, float] = (0.0, 0.0)
    taken: int = 0  # early results the pipeline took

    @classmethod
    def begin(
        cls,
        settings: Settings,
        paths: Sequence[Path],
        *,
        excludes: Sequence[str] = (),
        follow_symlinks: bool = False,
        descriptor: str | None = None,
        workers: int = 0,
        batch_size: int = 32,
        show: bool = False,
    ) -> HeadStart | None:
        """Walk ``paths`` and send their first ``2 x batch_size`` photos to the decoders;
        None (nothing started) unless this run creates a new SQLite library from folders."""
        if not paths or settings.database_url is not None or settings.database_path.exists():
            return None
        started = time.monotonic(), run_cpu()
        roots = resolve_roots(paths)
        scans = scan_roots(
            roots,
            excludes=excludes,
            skip_dir=settings.library,
            follow_symlinks=follow_symlinks,
            show=show,
        )
        located = locate_model(settings.model or DEFAULT_MODEL_NAME, settings.model_path)
        config = DescriptorConfig.parse(descriptor or settings.descriptor)
        options: dict[str, object] = {
            "batch_size": batch_size,
            "frames": config.frames,
            "quality": True,
            "max_pixels": settings.max_image_pixels,
            "crops": config.crops,
        }
        found = [f for _root, report in scans for f in report.files if not is_video_name(f.path)]
        processes = worker_processes(
            workers, [f.size for f in found], local=True, allowed=settings.decode_processes
        )
        # the workers fork before this process opens a session (or starts any thread)
        model = OnnxModel(located, threads=settings.threads, lazy=True)
        first = found[: 2 * batch_size]
        in_workers = ProcessAnalyzer.start(model, processes, **options) if processes else None
        if in_workers is not None:
            head = cls(roots, scans, model, in_workers, options, started=started)
            log_first_decode(log)
            reads = in_workers.read_first([f.path for f in first], [f.size for f in first])
            head.futures = {f.path: _as_early(r) for f, r in zip(first, reads, strict=True)}
            return head
        model.open_in_background()
        analyzer = ImageAnalyzer(
            model,
            decode_workers=decode_workers(workers),
            decode_active=decode_active(workers, model, [f.size for f in first]),
            **options,  # type: ignore[arg-type]
        )
        head = cls(roots, scans, model, analyzer, options, started=started)
        return_freed_memory()
        pool = analyzer.pool()
        for index, f in enumerate(first):
            if not index:
                log_first_decode(log)
            head.futures[f.path] = pool.submit(head._prepare, f.path)
        return head

    def _prepare(self, path: Path) -> Early:
        """Read, hash and prepare one file (in a decode thread), as the pipeline would."""
        read = read_file(path)
        source = decoder_source(read, read.data, str(path))
        read.data = b""
        return Early(read, self.analyzer.prepare(source))

    def usable(
        self, model: OnnxModel, options: dict[str, object], workers: int, processes: int
    ) -> bool:
        """Were the early files prepared as the pipeline would prepare them now?"""
        analyzer = self.analyzer
        if isinstance(analyzer, ProcessAnalyzer):
            same = processes == analyzer.processes
        else:
            same = not processes and workers == analyzer.decode_workers
        return (
            same
            and model is self.model
            and all(options.get(k) == v for k, v in self.options.items())
        )

    def ready(
        self, prepared: Prepared | ImageError, position: int, learning: LearningSample | None
    ) -> Ready:
        """An early decode for the analyzer. A photo of the run's learning sample gets its
        edits made from that decode now, in the decode threads (what
        :meth:`ImageAnalyzer.prepare` does last when the sample is known beforehand)."""
        if learning is None or position not in learning.in_run:
            return Ready(prepared)
        assert isinstance(self.analyzer, ImageAnalyzer)  # a worker's: sent again (edits_wanted)
        marked = learning.source(position, b"")  # only its place in the sample is used
        pool = self.analyzer.pool()
        if pool is None:
            return Ready(self.analyzer.add_views(prepared, marked))
        return Ready(pool.submit(self.analyzer.add_views, prepared, marked))

    def edits_wanted(self, position: int, learning: LearningSample | None) -> bool:
        """Whether an early file of the run's learning sample was analysed by a worker
        before the sample was known: its edits were not made (it is sent again)."""
        sampled = learning is not None and position in learning.in_run
        return sampled and isinstance(self.analyzer, ProcessAnalyzer)

    @staticmethod
    def read_again(path: Path, read: FileRead) -> bytes | None:
        """An early file's bytes again (None: unreadable now, or no longer those bytes)."""
        try:
            again = read_file(path)
        except (OSError, ImageError):
            return None
        return again.data if again.sha256 == read.sha256 else None

    def take(self, path: Path) -> Future[Early] | None:
        """The early result for ``path`` (once), None when it was not started."""
        future = self.futures.pop(path, None)
        self.taken += future is not None
        return future

    def close(self) -> None:
        """Drop what was not taken; stop the decode threads."""
        if self.futures or self.taken:
            log.info(
                "%d files were read and decoded before the library was opened, %d of them used",
                self.taken + len(self.futures),
                self.taken,
            )
            self.taken = 0
        for future in self.futures.values():
            future.cancel()
        self.futures.clear()
        self.analyzer.close()


def _as_early(read: Future[WorkerRead]) -> Future[Early]:
    """A worker's read of an early file as the pipeline takes it: an :class:`Early`, or the
    error reading it raised (nothing once the head start dropped it: cancelled)."""
    early: Future[Early] = Future()

    def done(read: Future[WorkerRead]) -> None:
        try:
            got, result = read.result()
        except BaseException as exc:
            got, result = exc, None
        with contextlib.suppress(InvalidStateError):  # cancelled meanwhile
            if isinstance(got, BaseException):
                early.set_exception(got)
            else:
                early.set_result(Early(got, result))

    read.add_done_callback(done)
    return early
