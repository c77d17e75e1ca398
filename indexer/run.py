"""One index run: walk the collections, diff them against the store, run the pipeline, report.

The run holds the library's writer locks (SQLite: the whole library; PostgreSQL: its
collections, so runs over other collections write at once, and its end one run at a time),
is recorded in ``store.runs`` (live while it holds its liveness lock: a killed run is told
from a busy one, and recorded as interrupted by the next run), and leaves store and FAISS
cache consistent whatever happens: every batch is its own transaction, and the cache is
saved with the generation it reflects (a cache that falls behind is detected by its stamp
and rebuilt when the library is next opened).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from indexer.distributed import parse_executor, probe
from indexer.excludes import (
    planned_excludes,
    record_excludes,
    refuse_excluding_all,
    said,
    unshared_warnings,
)
from indexer.head_start import HeadStart, decode_active, decode_workers
from indexer.learning import plan_learning
from indexer.linked_roots import relink
from indexer.missing_folders import keep_emptied, moved_collection_hint, unfinished_reindex
from indexer.nesting import nest, overlap_warnings
from indexer.pipeline import Counts, Pipeline
from indexer.plan import behind_link_warnings, make_plan, record_checked
from indexer.processes import worker_processes
from indexer.progress import LazyBar, bar, run_cpu
from indexer.quality import measure_unmeasured
from indexer.scan import CollectionError, ScanReport, resolve_roots, scan_roots
from indexer.summary import IndexSummary
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
    #: the walked collections' patterns from now on (none: drop theirs); None: each its own
    excludes: Sequence[str] | None = None
    workers: int = 0  # 0: one per CPU core
    batch_size: int = 32
    follow_symlinks: bool = False
    progress: bool = True
    index_kind: str | None = None  # rebuild the FAISS cache as this kind when it differs
    descriptor: str | None = None  # record these descriptor options (DescriptorConfig text)
    executor: str | None = None  # decode + embed on a Dask cluster (indexer.distributed)
    checksum: bool = False  # read files of the same size and mtime too: bytes decide


def _roots(library: Library, paths: Sequence[Path]) -> tuple[list[Path], list[str]]:
    """The roots to index, and warnings for the library's collections that are not there.

    Named ``paths`` must all exist (the scan says which does not). Without them every known
    collection is indexed, except one whose folder is gone (renamed, deleted, a drive not
    mounted): its images are kept as they are, with a warning while it has any, so that one
    missing folder neither stops a nightly run nor empties its collection."""
    if paths:
        return resolve_roots(paths), []
    known = library.store.collections()
    if not known:
        raise CollectionError("no collections yet: give the folders to index")
    # at their real paths: a folder replaced by a link to its new place is walked there
    roots = resolve_roots(Path(str(c["root"])) for c in known if os.path.isdir(str(c["root"])))
    gone = [c for c in known if not os.path.isdir(str(c["root"]))]
    warnings = [
        f"{c['root']}: the collection's folder is not there (renamed, deleted or not mounted); "
        f"its {c['images']} images are kept as they were (index its new place by name, or "
        f"`imgsearch remove {c['root']}` to drop them)"
        for c in gone
        if c["images"]
    ]
    if not roots:
        missing = ", ".join(str(c["root"]) for c in gone)
        first = gone[0]["root"]
        raise CollectionError(
            f"no collection of this library is there: {missing} (renamed, moved or not "
            f"mounted?). Mount it, or index its new place by name (`imgsearch index NEWFOLDER`: "
            f"files already embedded are copied, not embedded again), then `imgsearch remove "
            f"{first}` to drop the old place's rows"
        )
    return roots, warnings


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
    roots, gone = _roots(library, options.paths)
    with (
        library.locks.index_run(roots),
        library.locks.run_liveness() as hold,
        contextlib.ExitStack() as finishing,
    ):
        start, cpu_start = time.monotonic(), run_cpu()
        if head is not None and head.roots == roots:  # the run began with its head start
            start, cpu_start = head.started
        remove_stale_temp_files(library.settings.index_path, library.locks.shared)
        if head is not None and head.roots != roots:
            head.close()  # made for other folders: not used
            head = None
        relinked = relink(library, roots)  # a folder that became a link: one collection,
        # its own patterns with it
        settled = planned_excludes(store, roots, options.excludes)
        scans = (
            head.scans
            if head is not None
            else scan_roots(
                roots,
                excludes={Path(s.root): s.patterns for s in settled},
                skip_dir=library.path,
                follow_symlinks=options.follow_symlinks,
                show=show,
            )
        )
        refuse_excluding_all(settled, scans, store.collections())  # before anything changes
        record_excludes(store, settled)  # remembered from now on
        unfinished = store.runs.unfinished()  # killed runs, and on PostgreSQL live ones
        # SQLite: we hold the only writer lock, so none of them lives
        live = library.locks.live_runs(unfinished) if library.locks.shared else set()
        store.runs.interrupt([run for run in unfinished if run not in live])
        run_id = store.runs.start(hold)
        counts = Counts()
        try:  # from here a failure is recorded as the run's status
            summary = IndexSummary(collections=[str(r) for r in roots], excludes=said(settled))
            summary.warnings += relinked
            collections = store.collections()  # as the run begins: read once
            known = [Path(str(c["root"])) for c in collections]
            if options.paths:  # said when a folder is named; the nightly run is quiet
                summary.warnings += overlap_warnings(known, roots)
                summary.warnings += unshared_warnings(known, roots, store.excludes.by_root())
            summary.warnings += gone
            summary.warnings += _record_descriptor(
                library, options.descriptor or library.settings.descriptor
            )
            if library.locks.shared:  # several runs at once (PostgreSQL): one cache rebuild
                with library.locks.finish():
                    library.index()  # else the writer thread loads it while files decode
            summary.warnings += keep_emptied(collections, scans)
            scans = nest(known, scans)  # a file is recorded once: in its innermost collection
            plan = make_plan(store, _without_removed(store, scans), checksum=options.checksum)
            summary.skipped_removed = sum(report.skipped_removed for _r, report in scans)
            for _root, report in scans:
                summary.warnings += report.warnings
                summary.skipped_system += report.skipped_system
                summary.unfollowed += report.unfollowed.values()
            # nested collections' walks meet the same folders: each warning once
            summary.warnings = list(dict.fromkeys(summary.warnings))
            summary.unfollowed = list(dict.fromkeys(summary.unfollowed))
            summary.kept_unreadable = plan.kept_unreadable
            summary.warnings += behind_link_warnings(plan)
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
                processes = worker_processes(
                    options.workers,
                    [item.found.size for item in plan.work],
                    local=address is None,
                    allowed=library.settings.decode_processes,
                )
                if plan.work and not processes:  # the model opens while the first files decode
                    model.open_in_background()
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
                    run_id=run_id,
                    processes=processes,
                    decode_active=decode_active(
                        options.workers,
                        model,
                        [item.found.size for item in plan.work[: 2 * options.batch_size]],
                    ),
                )
                counts = pipeline.counts
                summary.warnings += index_videos(
                    library, model, plan, videos, counts, shown.update, run_id=run_id
                )
                wall, cpu = time.monotonic(), run_cpu()
                counts = pipeline.run(plan)
                shown.close()
                if sample is not None:
                    sample.settle(time.monotonic() - wall, run_cpu() - cpu)
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
            if not library.finish_reindex():  # every image has a vector of the new model
                summary.reindex_unfinished = unfinished_reindex(library, roots)
            summary.descriptor = library.descriptor_config().describe()
            for collection_id in {store.ensure_collection(r) for r in roots}:
                store.touch_collection(collection_id)
            record_checked(store, plan)  # its animated stills are videos now
            summary.processed = len(plan.work) + len(videos)
            finishing.close()
        except BaseException as exc:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            store.runs.finish(run_id, status, **_figures(counts, 0.0))
            library.save_index()
            raise
        summary.seconds = time.monotonic() - start
        summary.cpu_seconds = run_cpu() - cpu_start  # the worker processes' too
        if summary.processed:  # learning the whitening is reported apart
            summary.images_per_second = summary.processed / max(1e-9, summary.index_seconds)
        for counted in fields(Counts):
            setattr(summary, counted.name, getattr(counts, counted.name))
        summary.warnings += moved_collection_hint(collections, summary.copied)
        store.runs.finish(run_id, "done", **_figures(counts, summary.images_per_second))
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
    warnings = _unnamed_changes(text, before, config)
    if config.frames and not before.frames and library.store.vector_count():
        warnings.append(
            "frames are on now: images indexed before have no framed-photo vector; "
            "`imgsearch reindex` embeds them again"
        )
    if config.crops and not before.crops and library.store.vector_count():
        warnings.append(
            "crops are on now: images indexed before have no crops; "
            "`imgsearch reindex` embeds them again"
        )
    return warnings


def _unnamed_changes(
    text: str | None, before: DescriptorConfig, after: DescriptorConfig
) -> list[str]:
    """Options that descriptor ``text`` changed without naming them: it starts from the
    defaults (`--descriptor verify=on` turned a library's whiten=off back on without a word)."""
    parts = [p.strip() for p in (text or "").split(",") if p.strip()]
    if not parts or any(p in ("default", "best", "plain") for p in parts):
        return []  # the whole descriptor given: every change is asked for
    named = {p.partition("=")[0] for p in parts}
    old, new = before.options(), after.options()
    keys = [k for k in new if new[k] != old[k] and k not in named]
    if not keys:
        return []
    was = ",".join(f"{k}={old[k]}" for k in keys)
    now = ", ".join(f"{k}={new[k]}" for k in keys)
    return [
        f"--descriptor {text} also set {now} (the library had {was}): it starts from the "
        f"defaults; give '{text},{was}' to keep them"
    ]


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
    if kind is None and index.requested_kind != "auto":  # IMGSEARCH_INDEX's kind, or the
        kind = index.requested_kind  # remembered one: later rebuilds build it too
    if kind is not None:  # a new library's index was this kind from the start: keep it asked
        library.remember_index_kind(kind)
    reason = index.needs_rebuild()
    if reason:
        log.info("rebuilding the vector index: %s", reason)
        library.rebuild_index()
