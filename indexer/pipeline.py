"""The overlapped index pipeline: read + hash -> decide -> decode + embed -> batched writes.

Threads, each stage bounded so memory stays flat:

* ``workers`` reader threads read each file once, hash those bytes (sha256) and hand them on;
* the calling thread decides in plan order - a vanished file's bytes under a new name are a
  *move*, bytes already embedded are a *copy* (the vector is reused), anything else goes to
  :class:`models.ImageAnalyzer`, which decodes the same bytes in its own pool while the
  calling thread runs ONNX, or, for a run of 64 files or more, to worker processes that
  decode and embed them (:mod:`indexer.processes`);
* one writer thread (:mod:`indexer.writer`) commits records in batches through
  :meth:`Library.apply` (one transaction each) and saves the FAISS cache every few batches.

When the run will learn the library's whitening, the photos of its learning sample
(:mod:`indexer.learning`) are edited in the decode threads (or workers) while they are decoded
anyway, and the edits embedded in an extra model pass of their batch.
"""

from __future__ import annotations

import contextlib
import io
import logging
import queue
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from indexer.distributed import DaskAnalyzer
from indexer.head_start import Early, HeadStart, log_first_decode
from indexer.learning import LearningSample
from indexer.plan import Plan, WorkItem, WorkKind
from indexer.processes import ProcessAnalyzer
from indexer.progress import process_age
from indexer.reading import FileRead, decoder_source, read_file
from indexer.records import embedded_record, failed_record, ok_outcome, upsert_of
from indexer.writer import Counts, Record, Writer, error_text
from models import Analysis, ImageAnalyzer, ImageError, OnnxModel, Ready
from search.library import Library
from search.store import STATUS_FAILED, ImageMove

__all__ = ["Counts", "Pipeline", "Record", "Writer", "error_text", "process_age", "read_and_hash"]

log = logging.getLogger(__name__)
Analyzer = ImageAnalyzer | DaskAnalyzer | ProcessAnalyzer


@dataclass
class _Leader:
    """The first file of a run with given bytes; later ones reuse its result."""

    result: Analysis | ImageError | None = None
    followers: list[tuple[WorkItem, FileRead]] = field(default_factory=list)


def read_and_hash(item: WorkItem) -> FileRead:
    """Read the item's file once and hash it (:func:`indexer.reading.read_file`)."""
    return read_file(item.found.path)


class Pipeline:
    """Runs a :class:`Plan` through reader threads, the analyzer and the writer."""

    def __init__(
        self,
        library: Library,
        model: OnnxModel,
        *,
        workers: int = 2,
        batch_size: int = 32,
        progress: Callable[[int], None] | None = None,
        max_pixels: int | None = None,
        learning: LearningSample | None = None,
        executor: str | None = None,
        head: HeadStart | None = None,
        run_id: int | None = None,
        decode_active: int | None = None,
        processes: int = 0,
    ) -> None:
        self.library = library
        self.run_id = run_id  # the index run recorded in the store: each batch counts there
        self.processes = processes  # worker processes that decode + embed (0: threads here)
        self.head = head  # a new library's first files, read and decoded before the plan
        self.executor = executor  # a Dask scheduler's address: decode + embed there
        self.learning = learning  # its photos are edited and embedded as they pass
        self.model = model
        self.workers = max(1, workers)
        self.decode_active = decode_active  # None: all ``workers`` decode from the start
        self.batch_size = max(1, batch_size)
        self.progress = progress or (lambda n: None)
        self.max_pixels = max_pixels
        self.counts = Counts()

    def run(self, plan: Plan) -> Counts:
        """Process every work item, then drop the rows whose files are gone."""
        self.counts.unchanged += plan.unchanged
        writer = Writer(
            self.library, self.batch_size, self.counts, self.progress, run_id=self.run_id
        )
        config = self.library.descriptor_config()
        analyzer_args: dict[str, object] = {
            "batch_size": self.batch_size,
            "frames": config.frames,  # the photo inside a frame
            "quality": True,  # quality flags from the decoded pixels
            "crops": config.crops,  # five crops an image (models.crops)
        }
        if self.max_pixels is not None:
            analyzer_args["max_pixels"] = self.max_pixels
        if self.learning is not None:
            analyzer_args["views"] = self.learning.edits_of
        analyzer = self._analyzer(analyzer_args)  # worker processes fork before our threads
        writer.start()
        try:
            with (
                ThreadPoolExecutor(self.workers, thread_name_prefix="imgsearch-read") as readers,
                analyzer,
            ):
                self._embed_all(plan, readers, analyzer, writer)
            if self.head is not None:  # what it started and the plan did not take
                self.head.close()
            writer.flush()  # every copy has its source before any row is removed
            for image_id, state in sorted(plan.vanished.items()):
                writer.put(Record("removed", state.rel_path, removal=image_id))
            writer.finish()
            writer.save()
        except BaseException:
            if writer.is_alive():  # keep what is committed; drop the batch in flight
                with contextlib.suppress(queue.Full):
                    writer.queue.put(Writer._STOP, timeout=30)
                writer.join(timeout=30)
            raise
        return self.counts

    def _analyzer(self, args: dict[str, object]) -> Analyzer:
        """Decode + embed here (threads), or on the Dask cluster at ``executor``; the head
        start's analyzer when its early files were prepared with these options."""
        head, self.head = self.head, None
        processes = self.processes
        if (
            head is not None
            and self.executor is None
            and head.usable(self.model, args, self.workers, processes)
        ):
            self.head = head
            head.analyzer.views = args.get("views")  # type: ignore[assignment]
            return head.analyzer
        if head is not None:
            head.close()
        if self.executor is None and processes:
            self.model.settle()  # no half-opened session goes into the fork
            workers = ProcessAnalyzer.start(self.model, processes, **args)
            if workers is not None:
                return workers
            self.model.open_in_background()
        if self.executor is None:
            active = self.decode_active  # more join while the model waits
            return ImageAnalyzer(self.model, self.workers, decode_active=active, **args)  # type: ignore[arg-type]
        if "views" in args:
            raise ValueError("a distributed run learns its whitening after the pipeline")
        return DaskAnalyzer(self.executor, self.model, **args)  # type: ignore[arg-type]

    # -- the decision stage -----------------------------------------------------------------

    def _embed_all(
        self, plan: Plan, readers: ThreadPoolExecutor, analyzer: Analyzer, writer: Writer
    ) -> None:
        leaders: dict[str, _Leader] = {}
        waiting: deque[tuple[WorkItem, FileRead]] = deque()  # sent to the analyzer, in order

        started = [] if self.head is None else [True]  # the head start said when

        def sources() -> Iterator[io.BytesIO | str | Ready]:
            reads: deque[tuple[int, WorkItem, Future[FileRead] | Future[Early]]] = deque()
            items = iter(enumerate(plan.work))
            lookahead = 4 * self.workers  # reading is quick: stay just ahead of the decoders
            while True:
                for position, item in items:
                    early = self._early(position, item)
                    if early is None:
                        reads.append((position, item, readers.submit(read_and_hash, item)))
                    else:
                        reads.append((position, item, early))
                    if len(reads) >= lookahead:
                        break
                if not reads:
                    return
                position, item, future = reads.popleft()
                try:
                    done = future.result()
                    read, ready = (
                        (done.read, done.prepared) if isinstance(done, Early) else (done, None)
                    )
                except FileNotFoundError:  # gone since the walk: the next run tidies up
                    self.progress(1)
                    self.counts.gone += 1  # said (it was in no count: renamed files unseen)
                    continue
                except (OSError, ImageError) as exc:
                    writer.put(failed_record(item, None, exc))
                    continue
                data, read.data = read.data, b""  # only the analyzer's stream keeps the bytes
                if self._shortcut(plan, item, read, leaders, writer):
                    continue
                leaders[read.sha256] = _Leader()
                waiting.append((item, read))
                if not started:
                    started.append(True)
                    log_first_decode(log)
                if ready is not None and not self.head.edits_wanted(position, self.learning):  # type: ignore[union-attr]
                    yield self.head.ready(ready, position, self.learning)  # type: ignore[union-attr]
                    continue
                if ready is not None:  # analysed early by a worker, without its edits
                    data = self.head.read_again(item.found.path, read)  # type: ignore[union-attr]
                    if data is None:  # gone or changed since: indexed as read, not learned from
                        yield self.head.ready(ready, position, None)  # type: ignore[union-attr]
                        continue
                learning = self.learning
                if learning is None or data is None:  # a streamed file is learned from none
                    source = decoder_source(read, data, str(item.found.path))
                else:
                    source = learning.source(position, data)
                    source.name = str(item.found.path)
                del data
                yield source

        for result in analyzer.analyze_iter(sources()):
            item, read = waiting.popleft()
            record = embedded_record(item, read, result)
            record.leader_sha = read.sha256
            writer.put(record)
            if self.learning is not None and isinstance(result, Analysis):
                self.learning.add(result)  # in plan order: the sum does not depend on timing
            leader = leaders[read.sha256]
            leader.result = result
            for follower, follower_read in leader.followers:
                writer.put(embedded_record(follower, follower_read, result, copied=True))
            leader.followers.clear()

    def _shortcut(
        self,
        plan: Plan,
        item: WorkItem,
        read: FileRead,
        leaders: dict[str, _Leader],
        writer: Writer,
    ) -> bool:
        """Handle ``item`` without decoding when its bytes are known; False to embed it."""
        sha = read.sha256
        existing = item.existing
        self._forget_committed(plan, leaders, writer)
        if (
            item.kind is WorkKind.CHANGED
            and existing is not None
            and existing.sha256 == sha
            and (existing.status == STATUS_FAILED or item.had_vector)
        ):
            # touched, same bytes: only size/mtime change; the vector stays
            writer.put(
                Record(
                    "unchanged",
                    item.found.rel_path,
                    move=ImageMove(
                        existing.id,
                        item.collection_id,
                        item.found.rel_path,
                        read.size,
                        read.mtime_ns,
                    ),
                )
            )
            return True
        if item.kind is WorkKind.NEW:
            moved = plan.claim_move(sha)
            if moved is not None:
                writer.put(
                    Record(
                        "moved",
                        item.found.rel_path,
                        move=ImageMove(
                            moved, item.collection_id, item.found.rel_path, read.size, read.mtime_ns
                        ),
                    )
                )
                return True
        source_id = plan.copy_source(sha)
        if source_id is not None:
            upsert = upsert_of(item, read)
            upsert.copy_vector_from = source_id
            source = self.library.store.reads.image(source_id)
            if source is not None:  # same bytes: same size, format and capture time
                upsert.width, upsert.height = source.width, source.height
                upsert.format, upsert.exif_datetime = source.format, source.exif_datetime
                upsert.pixel_sha256 = source.pixel_sha256
                upsert.measured(source.quality_flags, source.quality)
            writer.put(Record(ok_outcome(item), item.found.rel_path, upsert=upsert, copied=True))
            return True
        leader = leaders.get(sha)
        if leader is None:
            return False
        if leader.result is None:
            leader.followers.append((item, read))
        else:
            writer.put(embedded_record(item, read, leader.result, copied=True))
        return True

    def _early(self, position: int, item: WorkItem) -> Future[Early] | None:
        """The head start's result for a new file (None: read and decode it here)."""
        if self.head is None or item.kind is not WorkKind.NEW:
            return None
        return self.head.take(item.found.path)

    @staticmethod
    def _forget_committed(plan: Plan, leaders: dict[str, _Leader], writer: Writer) -> None:
        """Committed first embeds become copy sources; their in-memory results are dropped."""
        while True:
            try:
                sha, image_id = writer.committed.get_nowait()
            except queue.Empty:
                return
            plan.copy_sources.setdefault(sha, image_id)
            leader = leaders.get(sha)
            if leader is not None and leader.result is not None and not leader.followers:
                del leaders[sha]
