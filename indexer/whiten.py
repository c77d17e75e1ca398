"""Teach a library its whitening at the end of an index run (self-supervised, from its photos).

A library of at least :data:`search.descriptor.whitening.MIN_IMAGES` images, with whitening on
in its descriptor, learns a whitening from edits of a seeded sample of its own photos (about two
edits per library image, 1 to 4 per photo: :func:`edits_per_image`) when it has none
yet, or when it has grown :data:`RELEARN_GROWTH` times since the last one (up to
:data:`RELEARN_UNTIL` images: the sample is 1000 photos however large the library). The
library then rebuilds its index in the whitened space.

An index run chooses the sample when it is planned and edits the photos it embeds while it
has them decoded (:mod:`indexer.learning`); what is left here are the sampled images from
before the run (or the whole sample, when the run did not plan one). They are streamed:
:data:`THREADS` threads each take :data:`CHUNK` photos at a time, decode them (JPEG draft),
edit them (defined on a copy whose shorter side is :data:`search.descriptor.WORK_SIDE`, made at
the resolution the network reads) and embed them; the edits' differences to the photos'
stored vectors are added to one covariance (:class:`search.descriptor.whitening.EditCovariance`) in
sample order, so memory does not grow with the sample and the result does not depend on
thread timing.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from models import ImageError, OnnxModel
from search.descriptor import (
    DEFAULT_EDITS_PER_IMAGE,
    DEFAULT_SAMPLE,
    MIN_IMAGES,
    EditCovariance,
    WhiteningError,
    edit_side,
    photo_edits,
    sample_indices,
    shrink_for,
    whitening_from_edits,
)
from search.library import Library
from search.store import LibraryStore

try:  # a declared dependency; an environment installed before it learns unlimited
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

if TYPE_CHECKING:
    from indexer.learning import LearningSample

log = logging.getLogger(__name__)

BACKGROUND_SAMPLE = 50_000  # library vectors that give the mean and the principal axes
RELEARN_GROWTH = 4.0  # learn again when the library has grown this many times
RELEARN_UNTIL = 64_000  # ... as long as the last one was learned from fewer images than this
EDITS_PER_IMAGE = DEFAULT_EDITS_PER_IMAGE  # at most, per photo of the sample
EDIT_BUDGET = 2.0  # edits per library image (1.0 halves the time: dev-set recall -0.09, README)
THREADS = 2  # the sample is edited and embedded in this many threads (ONNX releases the GIL)
CHUNK = 16  # photos a thread takes at a time (their edits are one ONNX batch)

Progress = Callable[[int, int], None]  # (photos done, photos in the sample)


@dataclass(frozen=True)
class WhiteningRun:
    """What :func:`update_whitening` did: ``action`` learned / kept / skipped, and why."""

    action: str
    reason: str
    images: int = 0  # photos of the sample that were read and edited
    pairs: int = 0  # (photo, edit) pairs learned from
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # of this process, all threads

    def to_text(self) -> str:
        if self.action == "learned":
            return (
                f"learned the whitening from {self.pairs} edits of {self.images} photos "
                f"in {self.seconds:.1f} s ({self.reason})"
            )
        return f"whitening {self.action}: {self.reason}"


def whitening_due(library: Library, count: int | None = None) -> tuple[str, str]:
    """``(action, why)``: ``learn`` now, or leave the whitening as it is (``kept`` when the
    library has one, ``skipped`` when not); ``count``: of a library of that many images
    instead of its images with a vector now."""
    current = library.whitening()
    idle = "kept" if current is not None else "skipped"
    if not library.descriptor_config().whiten:
        return idle, "whitening is off"
    if count is None:
        count = library.store.vector_count()
    if count < MIN_IMAGES:
        return idle, f"fewer than {MIN_IMAGES} images"
    if current is None:
        # (a re-index with another model drops the last one: "first time" said it wrongly)
        return "learn", f"the first for its model: the library has {count} images"
    if count >= RELEARN_GROWTH * max(1, current.images) and current.images < RELEARN_UNTIL:
        return "learn", f"again: the library grew from {current.images} to {count} images"
    return "kept", "learned for this library size"


def edits_per_image(library_images: int, sample: int) -> int:
    """Edits of each sampled photo: :data:`EDIT_BUDGET` per library image spread over the
    sample, 1 to :data:`EDITS_PER_IMAGE`: a library of 500-1499 images learns from two edits
    of each of up to 1000 photos, one of 2000+ from four (learned again as it grows 4x)."""
    share = int(library_images * EDIT_BUDGET) // max(1, sample)
    return max(1, min(EDITS_PER_IMAGE, share))


def one_per_content(store: LibraryStore, ids: list[int]) -> list[int]:
    """``ids`` less the exact copies (same sha256) of an image before them: a copy reuses its
    original's vector, so a run leaves it out of its own sample, and an interrupted run's
    copies made the next run learn from 509 photos where one run learned from 507."""
    content = store.reads.contents()
    seen: set[str] = set()
    kept = []
    for image_id in ids:
        sha = content.get(image_id)
        if sha is not None:
            if sha in seen:
                continue
            seen.add(sha)
        kept.append(image_id)
    return kept


def update_whitening(
    library: Library,
    model: OnnxModel,
    *,
    seed: int = 0,
    progress: Progress | None = None,
    sample: LearningSample | None = None,
) -> WhiteningRun:
    """Learn and store the whitening when :func:`whitening_due` says so, from ``sample``
    when the run planned one (its photos of the run are learned from already), else from a
    sample of the library; ``progress`` is called with (photos done, photos in the sample)
    as it is streamed."""
    action, reason = whitening_due(library)
    if action != "learn":
        return WhiteningRun(action, reason)
    started, cpu = time.monotonic(), time.process_time()
    store = library.store
    all_ids = store.descriptors.sample_ids(BACKGROUND_SAMPLE, seed)
    rows = store.descriptors.rows(all_ids, labels=False)
    ids = [i for i in all_ids if i in rows]
    if len(ids) < MIN_IMAGES:  # images removed since the count
        return WhiteningRun("skipped", f"fewer than {MIN_IMAGES} images")
    background = np.empty((len(ids), rows[ids[0]].vector.size), np.float32)
    for n, image_id in enumerate(ids):
        background[n] = rows[image_id].vector
    photos = one_per_content(store, ids)  # a copy's row holds its original's vector
    del rows
    if sample is None:
        chosen = [photos[i] for i in sample_indices(len(photos), DEFAULT_SAMPLE, seed)]
        places = {image_id: n for n, image_id in enumerate(chosen)}
        edits, per_image, done, base = EditCovariance(background.shape[1]), 0, 0, 0
    else:  # the run's part is learned from; the images from before it are left
        places = {image_id: place for place, image_id in sample.stored}
        edits, per_image, done = sample.edits, sample.per_image, len(sample.in_run)
        base, seed = sample.photos, sample.seed
    # each photo's stored vector is the anchor of its edits (no second embedding of it)
    vectors = store.descriptors.rows(list(places), labels=False)
    paths = _paths(library, list(places))
    items = [(places[i], path, vectors[i].vector) for i, path in paths if i in vectors]
    per_image = per_image or edits_per_image(len(ids), len(items))
    with _one_blas_thread():
        read = base + _stream_edits(items, model, edits, per_image, seed, progress, done)
        try:
            if not read:
                raise WhiteningError("no photo of the sample could be read")
            whitening = whitening_from_edits(edits, background, shrink=shrink_for(len(ids)))
        except WhiteningError as error:
            return WhiteningRun("skipped", str(error))
    library.set_whitening(whitening)
    return WhiteningRun(
        "learned",
        reason,
        read,
        whitening.pairs,
        time.monotonic() - started + (sample.seconds if sample else 0.0),
        time.process_time() - cpu + (sample.cpu_seconds if sample else 0.0),
    )


def _one_blas_thread() -> contextlib.AbstractContextManager[object]:
    """numpy's BLAS in one thread while learning: the covariance products run beside the
    ONNX threads, and the eigendecompositions of a 1024 x 1024 matrix (two until the whitening
    took a Cholesky factor and the Gram matrix of the background instead) took 2-20x longer
    in two BLAS threads than in one whenever another process wanted a core (measured: 0.35 s
    alone, 1-7 s on a busy 2-core machine)."""
    if threadpool_limits is None:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


Item = tuple[int, Path, np.ndarray]  # (place in the sample, file, its stored vector)


def _edit_chunk(
    items: Sequence[Item], model: OnnxModel, per_image: int, seed: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """(anchors, edits' embeddings, photos read) of one chunk of the sample."""
    anchors: list[np.ndarray] = []
    views = []
    read = 0
    side = edit_side(model.input_size, model.spec.crop_fraction)  # what the network reads
    for place, path, anchor in items:
        try:
            image = model.load(path).image
        except (ImageError, OSError) as error:  # changed or gone since it was indexed
            log.info("whitening sample: skipping %s: %s", path, error)
            continue
        read += 1
        views += photo_edits(image, per_image, seed=seed, place=place, side=side)
        anchors += [anchor] * per_image
    if not views:
        return np.zeros((0, 0), np.float32), np.zeros((0, 0), np.float32), read
    return np.stack(anchors), model.embed_images(views), read


def _chunks(sample: Sequence[Item]) -> Iterator[Sequence[Item]]:
    for start in range(0, len(sample), CHUNK):
        yield sample[start : start + CHUNK]


def _stream_edits(
    sample: Sequence[Item],
    model: OnnxModel,
    edits: EditCovariance,
    per_image: int,
    seed: int,
    progress: Progress | None,
    done: int = 0,
) -> int:
    """Edit and embed ``sample`` in :data:`THREADS` threads, a few chunks in flight, adding
    each chunk to ``edits`` in sample order; returns how many photos were read. ``done``:
    photos of the sample learned from before (the progress counts on from there)."""
    read = 0
    total = done + len(sample)
    if progress:
        progress(done, total)
    with ThreadPoolExecutor(THREADS, thread_name_prefix="imgsearch-whiten") as pool:
        flight: deque[tuple[int, Future[tuple[np.ndarray, np.ndarray, int]]]] = deque()

        def settle() -> None:
            nonlocal read, done
            size, future = flight.popleft()
            anchors, positives, ok = future.result()
            if ok:
                edits.add(anchors, positives)
            read, done = read + ok, done + size
            if progress:
                progress(done, total)

        try:
            for chunk in _chunks(sample):
                future = pool.submit(_edit_chunk, chunk, model, per_image, seed)
                flight.append((len(chunk), future))
                if len(flight) > 2 * THREADS:
                    settle()
            while flight:
                settle()
        except BaseException:  # Ctrl-C or a failed chunk: do not wait for the queued ones
            for _size, queued in flight:
                queued.cancel()
            raise
    return read


def _paths(library: Library, ids: list[int]) -> list[tuple[int, Path]]:
    rows = library.store.reads.images(ids)
    return [(i, rows[i].file_path) for i in ids if i in rows]
