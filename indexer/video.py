"""Indexing video files and animated images (GIF / WebP / APNG of more than one frame, told
by their headers here, not while walking): hash (streamed), move / touch shortcuts, else
decode keyframes (``models.open_video``: PyAV, or Pillow for animations) and embed them
through the VIDEO running mode, and write the video as one ``images`` row with its
frames (time, span, shot, vector) in ``video_frames``.

Runs before the image pipeline of the same run (:func:`index_videos`), through its own
:class:`indexer.pipeline.Writer`: videos claim their moves first, and the pipeline then removes
what is left of the vanished rows. Memory is bounded by one batch of small stills, whatever
the video's length.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from indexer.pipeline import Counts, Record, Writer, error_text
from indexer.plan import Plan, WorkItem, WorkKind
from models import (
    ImageEmbedder,
    ImageEmbedderOptions,
    ImageError,
    OnnxModel,
    RunningMode,
    TopLabels,
    file_mtime_ns,
    is_video_file,
    open_image_file,
    open_video,
)
from search.library import Library
from search.store import STATUS_FAILED, ImageMove, ImageUpsert, VideoFrameVector

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_VIDEO_BYTES = 64 * 2**30  # videos are streamed, never read whole: a generous cap
FRAME_BATCH = 8  # stills embedded in one ONNX pass (bounds memory: 2 x 8 stills of 256 px RGB)
MERGE_COSINE = 0.97  # a sampled frame this close to the last kept one of its shot joins it
TOP_LABELS = 5  # a video's labels: the best over its sampled frames
HASH_CHUNK = 1 << 20


@dataclass
class VideoOptions:
    """How videos are sampled: every ``interval_s`` (the first frame that far or further),
    plus one after every cut."""

    interval_s: float = 2.0
    batch: int = FRAME_BATCH
    merge_cosine: float = MERGE_COSINE


def take_videos(plan: Plan) -> list[WorkItem]:
    """Take the videos (and animated images: GIF, WebP, APNG of more than one frame, told by
    their headers here, in the indexing step, never while walking) out of ``plan.work`` (the
    image pipeline keeps the rest)."""
    videos, images = [], []
    for item in plan.work:
        (videos if is_video_file(item.found.path) else images).append(item)
    plan.work = images
    return videos


def file_sha256(item: WorkItem) -> tuple[str, int, int]:
    """(sha256, size, mtime_ns) of a regular file, read in chunks."""
    digest, size = hashlib.sha256(), 0
    with open_image_file(item.found.path, MAX_VIDEO_BYTES) as handle:
        mtime_ns = file_mtime_ns(os.fstat(handle.fileno()))
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size, mtime_ns


def prefetch(items: Iterator[T], depth: int) -> Generator[T, None, None]:
    """``items`` produced by a thread at most ``depth`` ahead of the consumer, so that decoding
    (FFmpeg, without the GIL) overlaps embedding (ONNX Runtime, without it too). The producer's
    errors are raised here; leaving the loop early stops the producer before returning."""
    box: queue.Queue[tuple[bool, object]] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def offer(entry: tuple[bool, object]) -> bool:
        while not stop.is_set():
            try:
                box.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer((True, item)):
                    return
            offer((False, None))
        except BaseException as error:  # handed to the consumer, raised there
            offer((False, error))

    thread = threading.Thread(target=produce, name="video-decode", daemon=True)
    thread.start()
    try:
        while True:
            more, value = box.get()
            if not more:
                if isinstance(value, BaseException):
                    raise value
                return
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()


def embed_video(
    model: OnnxModel, path: str, options: VideoOptions
) -> tuple[list[VideoFrameVector], dict[str, object]]:
    """Sample and embed a video: its kept frames and facts (width, height, duration, codec,
    ``labels``: each class's best probability over the sampled frames, top 5, so that a label
    seen in one shot finds the video). The video is decoded by a thread while the previous
    batch of stills is embedded."""
    embedder = ImageEmbedder(
        ImageEmbedderOptions(model=model, running_mode=RunningMode.VIDEO, decode_workers=0)
    )
    kept: list[VideoFrameVector] = []
    best: np.ndarray | None = None  # each class's best probability so far
    with embedder, open_video(path) as reader:
        batch: list = []

        def flush() -> None:
            nonlocal best
            results = embedder.embed_video_frames(
                [s.image for s in batch], [s.timestamp_ms for s in batch]
            )
            for still, result in zip(batch, results, strict=True):
                if result.probabilities is not None:
                    probs = result.probabilities
                    best = probs if best is None else np.maximum(best, probs)
                vector = result.embeddings[0].embedding
                last = kept[-1] if kept else None
                if (
                    last is not None
                    and last.shot == still.shot
                    and float(np.dot(last.vector, vector)) >= options.merge_cosine
                ):
                    kept[-1] = VideoFrameVector(
                        last.timestamp_ms, still.timestamp_ms, last.shot, last.vector
                    )
                else:
                    kept.append(
                        VideoFrameVector(still.timestamp_ms, still.timestamp_ms, still.shot, vector)
                    )
            batch.clear()

        # closed on the way out, errors included: the decoding thread stops before the reader
        with closing(prefetch(reader.sample(options.interval_s), options.batch)) as stills:
            for still in stills:
                batch.append(still)
                if len(batch) >= options.batch:
                    flush()
        if batch:
            flush()
        info = reader.info()  # an animation's duration is known once it was walked
        cut = reader.cut
    duration = max(info.duration_ms, kept[-1].end_ms if kept else 0)
    facts = {
        "width": info.width,
        "height": info.height,
        "format": info.codec.upper()[:16],
        "duration_ms": duration,
        "cut": cut,
        "labels": []
        if best is None
        else TopLabels(model.labels, model.spec.background_index)(best, TOP_LABELS),
    }
    return kept, facts


def index_videos(
    library: Library,
    model: OnnxModel,
    plan: Plan,
    items: list[WorkItem],
    counts: Counts,
    progress: Callable[[int], None],
    options: VideoOptions | None = None,
    run_id: int | None = None,
) -> list[str]:
    """Index ``items`` (video files of ``plan``) into ``library``; counts go to ``counts``
    (and with each batch to the record of run ``run_id``). Returns warnings: animations cut
    short by a cap (indexed up to it)."""
    if not items:
        return []  # no writer thread (it opens the vector index) on the way to the first image
    options = options or VideoOptions()
    writer = Writer(library, 8, counts, progress, run_id=run_id)
    writer.start()
    warnings: list[str] = []
    try:
        for item in items:
            notes: list[str] = []
            record = _record(model, plan, item, options, notes)
            if record is None:  # gone since the walk: the next run tidies up
                progress(1)
                continue
            writer.put(record)
            warnings += [f"{item.found.path}: {note}" for note in notes]
        writer.finish()
        return warnings
    except BaseException:
        if writer.is_alive():
            writer.queue.put(Writer._STOP, timeout=30)
            writer.join(timeout=30)
        raise


def _record(
    model: OnnxModel, plan: Plan, item: WorkItem, options: VideoOptions, notes: list[str]
) -> Record | None:
    """The video's record; an animation cut short by a cap adds why to ``notes``. None for a
    file deleted since the walk (no failure to record, as for photos)."""
    found, existing = item.found, item.existing
    outcomes = {WorkKind.NEW: "added", WorkKind.ANIMATED: "converted_to_video"}
    outcome = outcomes.get(item.kind, "updated")
    try:
        sha, size, mtime_ns = file_sha256(item)
    except (OSError, ImageError) as error:
        return None if not os.path.lexists(found.path) else _failed(item, None, error)
    move_id = None
    if (
        item.kind is WorkKind.CHANGED
        and existing is not None
        and existing.sha256 == sha
        and (existing.status == STATUS_FAILED or item.had_vector)
    ):
        return Record(
            "unchanged",
            found.rel_path,
            move=ImageMove(existing.id, item.collection_id, found.rel_path, size, mtime_ns),
        )
    if item.kind is WorkKind.NEW:
        move_id = plan.claim_move(sha)
    if move_id is not None:
        return Record(
            "moved",
            found.rel_path,
            move=ImageMove(move_id, item.collection_id, found.rel_path, size, mtime_ns),
        )
    upsert = ImageUpsert(item.collection_id, found.rel_path, size, mtime_ns, sha)
    try:
        frames, facts = embed_video(model, str(found.path), options)
    except ImageError as error:
        return None if not os.path.lexists(found.path) else _failed(item, upsert, error)
    except Exception as error:  # a decoder's unexpected error: recorded, the run goes on
        log.debug("video %s failed", found.path, exc_info=True)
        return None if not os.path.lexists(found.path) else _failed(item, upsert, error)
    if not frames:
        return _failed(item, upsert, ImageError("no frame could be decoded", reason="not_a_video"))
    upsert.width, upsert.height = int(facts["width"]), int(facts["height"])  # type: ignore[call-overload]
    upsert.format = str(facts["format"])
    upsert.duration_ms = int(facts["duration_ms"])  # type: ignore[call-overload]
    upsert.vector = frames[0].vector
    upsert.labels = list(facts["labels"])  # type: ignore[call-overload]
    upsert.video_frames = frames
    if facts.get("cut"):
        notes.append(str(facts["cut"]))
    return Record(outcome, found.rel_path, upsert=upsert)


def _failed(item: WorkItem, upsert: ImageUpsert | None, error: BaseException) -> Record:
    found = item.found
    failed = ImageUpsert(
        item.collection_id,
        found.rel_path,
        upsert.file_size if upsert else found.size,
        upsert.mtime_ns if upsert else found.mtime_ns,
        upsert.sha256 if upsert else None,
        status=STATUS_FAILED,
        error=error_text(error),
    )
    return Record("failed", str(found.path), upsert=failed, error=failed.error)
