"""One index run: walk the collections, diff them against the store, run the pipeline, report.

The run holds the library's writer locks (SQLite: the whole library; PostgreSQL: its
collections, so runs over other collections write at once, and its end one run at a time),
is recorded with ``store.start_run/finish_run``,
and leaves store and FAISS cache consistent whatever happens: every batch is its own
transaction, and the cache is saved with the generation it reflects (a cache that falls
behind is detected by its stamp and rebuilt when the library is next opened).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from indexer.distributed import parse_executor, probe
from indexer.head_start import HeadStart, decode_workers
from indexer.learning import plan_learning
from indexer.pipeline import Counts, Pipeline
from indexer.plan import make_plan
from indexer.progress import LazyBar, bar
from indexer.quality import measure_unmeasured
from indexer.scan import CollectionError, ScanReport, resolve_roots, scan_collection
from indexer.video import index_videos, take_videos
from indexer.whiten import update_whitening
from indexer.writer import remove_stale_temp_files
from models import OnnxModel, return_freed_memory
from search.descriptor import DescriptorConfig
from search.library import Library
from search.store import LibraryStore, at_or_below, removed_tops

log = logging.getLogger(__name__)

JSON_KEYS = ("added", "updated", "moved", "removed", "failed", "images_per_second")


@dataclass
class IndexOptions:
    """What to index and how (the CLI's options)."""

    paths: Sequence[Path] = ()  # empty: every collection the library already knows
    excludes: Sequence[str] = ()
    workers: int = 0  # 0: one per CPU core
    batch_size: int = 32
    follow_symlinks: bool = False
    progress: bool = True
    index_kind: str | None = None  # rebuild the FAISS cache as this kind when it differs
    descriptor: str | None = None  # record these descriptor options (DescriptorConfig text)
    executor: str | None = None  # decode + embed on a Dask cluster (indexer.distributed)


@dataclass
class IndexSummary(Counts):
    """The result of a run: the pipeline's :class:`Counts` and the run's own figures;
    ``to_json`` is the stable machine-readable form."""

    processed: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # CPU time of this process during the run (all threads)
    images_per_second: float = 0.0
    warnings: list[str] = field(default_factory=list)
    collections: list[str] = field(default_factory=list)
    kept_unreadable: int = 0
    failed_total: int = 0
    images_total: int = 0
    descriptor: str = ""
    whitening: str = ""
    learn_seconds: float = 0.0  # of ``seconds``: learning the whitening (once per library)
    learn_cpu_seconds: float = 0.0  # of ``cpu_seconds``
    skipped_removed: int = 0  # files under paths `imgsearch remove` took out
    learn_photos: int = 0  # photos of the library the whitening was learned from
    learn_edits: int = 0  # edits of them (pairs)
    quality_measured: int = 0  # images indexed before quality flags existed, measured now
    quality_seconds: float = 0.0  # of ``seconds``: measuring them

    @property
    def index_seconds(self) -> float:
        """Of ``seconds``: all but learning the whitening and measuring older images'
        quality (``images_per_second``'s)."""
        return max(0.0, self.seconds - self.learn_seconds - self.quality_seconds)

    def to_json(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "updated": self.updated,
            "moved": self.moved,
            "removed": self.removed,
            "failed": self.failed,
            "images_per_second": round(self.images_per_second, 2),
            "unchanged": self.unchanged,
            "copied": self.copied,
            "processed": self.processed,
            "seconds": round(self.seconds, 3),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "images_total": self.images_total,
            "failed_total": self.failed_total,
            "collections": self.collections,
            "descriptor": self.descriptor,
            "whitening": self.whitening,
            "learn_seconds": round(self.learn_seconds, 3),
            "learn_cpu_seconds": round(self.learn_cpu_seconds, 3),
            "skipped_removed": self.skipped_removed,
            "learn_photos": self.learn_photos,
            "learn_edits": self.learn_edits,
            "index_seconds": round(self.index_seconds, 3),
            "quality_measured": self.quality_measured,
            "quality_seconds": round(self.quality_seconds, 3),
            "failures": [{"path": p, "error": e} for p, e in self.failures],
            "warnings": self.warnings,
        }

    def to_text(self, max_listed: int = 20) -> str:
        lines = [
            f"{self.processed} files processed in {self.index_seconds:.1f} s "
            f"({self.images_per_second:.1f} img/s): {self.added} added, {self.updated} updated, "
            f"{self.moved} moved, {self.removed} removed, {self.failed} failed, "
            f"{self.unchanged} unchanged"
            + (f" ({self.copied} copies reused a vector)" if self.copied else ""),
            f"library: {self.images_total} images indexed, {self.failed_total} failed files",
        ]
        if self.whitening.startswith("learned"):
            lines.append(self.whitening)
            lines.append(f"the whole run took {self.seconds:.1f} s")
        if self.quality_measured:
            lines.append(
                f"quality flags measured for {self.quality_measured} images indexed before "
                f"they existed ({self.quality_seconds:.1f} s)"
            )
        if self.failures:
            lines.append(f"failed files ({self.failed}):")
            lines += [f"  {path}: {error}" for path, error in self.failures[:max_listed]]
            if len(self.failures) > max_listed:
                lines.append(f"  ... and {len(self.failures) - max_listed} more (--json lists all)")
        if self.warnings:
            lines.append(f"warnings ({len(self.warnings)}):")
            lines += [f"  {w}" for w in self.warnings[:max_listed]]
            if len(self.warnings) > max_listed:
                lines.append(f"  ... and {len(self.warnings) - max_listed} more")
        if self.skipped_removed:
            lines.append(
                f"{self.skipped_removed} files left out: removed from the library "
                "(`imgsearch stats` lists them; `imgsearch remove --undo PATH` takes "
                "one back)"
            )
        if self.kept_unreadable:
            lines.append(
                f"{self.kept_unreadable} indexed files kept: their folders could not be listed"
            )
        return "\n".join(lines)


def _roots(library: Library, paths: Sequence[Path]) -> list[Path]:
    if not paths:
        roots = [Path(str(c["root"])) for c in library.store.collections()]
        if not roots:
            raise CollectionError("no collections yet: give the folders to index")
        return roots
    return resolve_roots(paths)


def _overlaps(library: Library, roots: Sequence[Path]) -> list[str]:
    """Warnings for roots nested in (or holding) another collection: files counted twice."""
    known = {Path(str(c["root"])) for c in library.store.collections()} | set(roots)
    warnings = []
    for root in roots:
        for other in sorted(known - {root}):
            if root.is_relative_to(other):
                warnings.append(
                    f"{root} lies inside the collection {other}: its images are recorded in "
                    f"both (copies reuse one vector); index {other} instead to avoid doubles"
                )
    return warnings


def index_collections(
    library: Library,
    model: OnnxModel,
    options: IndexOptions,
    head: HeadStart | None = None,
) -> IndexSummary:
    """Bring the library up to date with ``options.paths``; returns the run's summary.
    ``head``: the walk and first decodes of a new library, made before it was opened."""
    show = options.progress and sys.stderr.isatty()
    return_freed_memory()  # big decodes' buffers go back to the system once freed
    address = parse_executor(options.executor)
    if address is not None:
        probe(address)  # a cluster that is not there is said before the scan
    store = library.store
    roots = _roots(library, options.paths)
    with library.locks.index_run(roots), contextlib.ExitStack() as finishing:
        start, cpu_start = time.monotonic(), time.process_time()
        if head is not None and head.roots == roots:  # the run began with its head start
            start, cpu_start = head.started
        remove_stale_temp_files(library.settings.index_path, library.locks.shared)
        if head is not None and head.roots != roots:
            head.close()  # made for other folders: not used
            head = None
        scans: list[tuple[Path, ScanReport]] = [] if head is None else head.scans
        with bar(show and head is None, desc="scanning", unit=" files") as scanned:
            for root in roots if head is None else ():
                report = scan_collection(
                    root,
                    excludes=options.excludes,
                    skip_dirs=[library.path],
                    follow_symlinks=options.follow_symlinks,
                    on_file=lambda _f: scanned.update(1),
                )
                scans.append((root, report))
        last = store.last_run()
        if last is not None and last.status == "running" and not library.locks.shared:
            store.finish_run(last.id, "interrupted")  # killed earlier: we hold the lock
        run_id = store.start_run()
        summary = IndexSummary(collections=[str(r) for r in roots])
        summary.warnings += _overlaps(library, roots)
        summary.warnings += _record_descriptor(
            library, options.descriptor or library.settings.descriptor
        )
        counts = Counts()
        try:
            if library.locks.shared:  # several runs at once (PostgreSQL): one cache rebuild
                with library.locks.finish():
                    library.index()  # else the writer thread loads it while files decode
            plan = make_plan(store, _without_removed(store, scans))
            summary.skipped_removed = sum(report.skipped_removed for _r, report in scans)
            for _root, report in scans:
                summary.warnings += report.warnings
            summary.kept_unreadable = plan.kept_unreadable
            workers = decode_workers(options.workers)
            # the learning bar shows under the indexing one while the run's photos are edited
            with (
                LazyBar(show, desc="learning the whitening", unit=" photos") as learning,
                bar(show, desc="indexing", unit="img", total=len(plan.work)) as shown,
            ):
                videos = take_videos(plan)  # first: a moved video claims its vanished row
                # a distributed run learns the whitening after the pipeline, from the store
                sample = (
                    None
                    if address
                    else plan_learning(library, plan, model, progress=learning.update)
                )
                pipeline = Pipeline(
                    library,
                    model,
                    workers=workers,
                    batch_size=options.batch_size,
                    progress=shown.update,
                    max_pixels=library.settings.max_image_pixels,
                    learning=sample,
                    executor=address,
                    head=head,
                )
                counts = pipeline.counts
                summary.warnings += index_videos(library, model, plan, videos, counts, shown.update)
                wall, cpu = time.monotonic(), time.process_time()
                counts = pipeline.run(plan)
                shown.close()
                if sample is not None:
                    sample.settle(time.monotonic() - wall, time.process_time() - cpu)
                finishing.enter_context(library.locks.finish())  # one run at a time from here
                library.catch_up()  # other runs' batches (PostgreSQL): one rebuild, saved
                learned = update_whitening(library, model, progress=learning.update, sample=sample)
            summary.quality_measured, summary.quality_seconds = measure_unmeasured(
                store, model, workers, library.settings.max_image_pixels, show=show
            )
            summary.whitening = learned.to_text()
            summary.learn_seconds = learned.seconds
            summary.learn_cpu_seconds = learned.cpu_seconds
            summary.learn_photos, summary.learn_edits = learned.images, learned.pairs
            _finish_index(library, options.index_kind)
            library.recalibrate()
            library.finish_reindex()  # every image has a vector of the new model again
            summary.descriptor = library.descriptor_config().describe()
            for collection_id in {store.ensure_collection(r) for r in roots}:
                store.touch_collection(collection_id)
            summary.processed = len(plan.work) + len(videos)
            finishing.close()
        except BaseException as exc:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            store.finish_run(run_id, status, **_figures(counts, 0.0))
            library.save_index()
            raise
        summary.seconds = time.monotonic() - start
        summary.cpu_seconds = time.process_time() - cpu_start
        if summary.processed:  # learning the whitening is reported apart
            summary.images_per_second = summary.processed / max(1e-9, summary.index_seconds)
        for counted in fields(Counts):
            setattr(summary, counted.name, getattr(counts, counted.name))
        store.finish_run(run_id, "done", **_figures(counts, summary.images_per_second))
        totals = store.counts()
        summary.images_total, summary.failed_total = totals["images"], totals["failed"]
        return summary


def _without_removed(
    store: LibraryStore, scans: list[tuple[Path, ScanReport]]
) -> list[tuple[int, ScanReport]]:
    """Each scan with its collection id, less the files `imgsearch remove` took out (of this
    collection, or of one that overlaps it)."""
    removals = store.removals.listed()
    planned = []
    for root, report in scans:
        tops = removed_tops(root, removals)
        if tops:
            report.drop(lambda rel, tops=tops: any(at_or_below(rel, top) for top in tops))
        planned.append((store.ensure_collection(root), report))
    return planned


def _record_descriptor(library: Library, text: str | None) -> list[str]:
    """Record the descriptor options (``--descriptor``, else the library's or the defaults);
    warn when images indexed before lack framed photos."""
    config = DescriptorConfig.parse(text) if text else library.descriptor_config()
    before = library.descriptor_config()
    library.set_descriptor(config)
    if config.frames and not before.frames and library.store.vector_count():
        return [
            "frames are on now: images indexed before have no framed-photo vector; "
            "`imgsearch reindex` embeds them again"
        ]
    return []


def _figures(counts: Counts, rate: float) -> dict[str, float]:
    figures: dict[str, float] = {
        name: getattr(counts, name) for name in ("added", "updated", "moved", "removed", "failed")
    }
    figures["images_per_second"] = rate
    return figures


def _finish_index(library: Library, kind: str | None) -> None:
    """Rebuild the FAISS cache when another kind was asked for or the index drifted."""
    index = library.index()
    if kind is not None and kind != index.requested_kind:
        log.info("rebuilding the vector index as %s", kind)
        library.rebuild_index(kind)
        return
    reason = index.needs_rebuild()
    if reason:
        log.info("rebuilding the vector index: %s", reason)
        library.rebuild_index()
