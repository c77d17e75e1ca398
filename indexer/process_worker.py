"""The worker processes' side of :mod:`indexer.processes`: each opens its own model (one
ONNX thread) and the analyzer a threaded run uses, then decodes and embeds the chunks it is
sent. Forked from the command's process: nothing here is imported anew."""

from __future__ import annotations

import gc
import io
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from indexer.reading import FileRead, decoder_source, read_file
from indexer.sampled import EditMaker, SampledSource
from models import Analysis, ImageAnalyzer, ImageError, OnnxModel
from models.onnx_model import LocatedModel

ORPHAN_POLL_S = 0.2
#: fault injection for the tests: a worker given a file whose name contains this dies
CRASH_ON_ENV = "IMGSEARCH_TEST_CRASH_DECODER_ON"

#: (name, bytes - None: a streamed file read from its path -, its place in the whitening's
#: learning sample or None)
Item = tuple[str, bytes | None, int | None]
#: a file read by a worker: the read (or the error reading raised) and its result
WorkerRead = tuple[FileRead | BaseException, Analysis | ImageError | None]

_ANALYZER: ImageAnalyzer | None = None


def start_worker(located: LocatedModel, options: dict[str, Any], parent: int) -> None:
    """A worker's initializer: Ctrl+C is the parent's to handle, SIGTERM and SIGHUP end it
    (the command's own handlers are not for it: a broken pool's survivors are stopped by
    SIGTERM), and it ends when the parent is gone; its own model, on one thread."""
    gc.freeze()  # what it inherited is never collected here (the parent's database
    # connections among it: closed by a worker, SQLite could act on the parent's files)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    threading.Thread(target=_orphaned, args=(parent,), daemon=True).start()
    global _ANALYZER
    _ANALYZER = ImageAnalyzer(OnnxModel(located, threads=1), decode_workers=0, **options)


def _orphaned(parent: int) -> None:
    """End the worker once its parent is gone (killed: it never said to stop); asked every
    :data:`ORPHAN_POLL_S` seconds (a busy worker's check waits its turn for the interpreter:
    every second ended it 1.8-2.0 s after a ``kill -9``)."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_POLL_S)
    os._exit(0)


def ready() -> int:
    return os.getpid()


def analyze(items: list[Item], views: EditMaker | None = None) -> list[Analysis | ImageError]:
    """A worker's task: decode + embed ``items`` (and the edits ``views`` makes of the
    learning sample's photos among them); errors sit in their slots."""
    sources: list[io.BytesIO | str] = []
    for name, data, place in items:
        if data is None:
            sources.append(name)
            continue
        source = io.BytesIO(data) if place is None else SampledSource(data, place)
        source.name = name
        sources.append(source)
    return _analyze_sources(sources, views)


def _analyze_sources(
    sources: list[io.BytesIO | str], views: EditMaker | None = None
) -> list[Analysis | ImageError]:
    assert _ANALYZER is not None
    _ANALYZER.views = views
    marker = os.environ.get(CRASH_ON_ENV)
    for source in sources:
        name = source if isinstance(source, str) else str(getattr(source, "name", ""))
        if marker and marker in name:
            os._exit(70)  # a decoder that takes the interpreter down
    results = _ANALYZER.analyze_batch(sources)
    for result in results:  # what the parent needs, not what travels for nothing
        if isinstance(result, Analysis):
            result.probs = result.raw_embedding = None
    return results


def read_and_analyze(paths: list[str]) -> list[WorkerRead]:
    """A worker's task for a new library's first files: read, hash, decode + embed each
    (what the run's reader threads and the workers do later); a read's error in its slot."""
    done: list[WorkerRead] = []
    sources: list[io.BytesIO | str] = []
    for path in paths:
        try:
            read = read_file(Path(path))
        except (OSError, ImageError) as exc:
            done.append((exc, None))
            continue
        sources.append(decoder_source(read, read.data, path))
        read.data = b""
        done.append((read, None))
    results = iter(_analyze_sources(sources))
    return [(read, None if isinstance(read, BaseException) else next(results)) for read, _ in done]
