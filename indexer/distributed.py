"""Decode + embed on a Dask distributed cluster: ``imgsearch index DIR --executor dask://HOST:PORT``.

Why Dask and not Ray: ``dask[distributed]`` is pure Python (~25 MB installed with dask, no
object store or raylet daemons), its scheduler hands each task to a free worker *thread*, so
CPU-bound ONNX work is scheduled one chunk per core (``dask worker --nthreads 1 --nworkers
N``, or N threads of one process: ONNX Runtime and Pillow release the GIL), and a user runs
it with two shell commands (``dask scheduler``, ``dask worker tcp://HOST:8786``) or a
``LocalCluster`` in a test. Ray's wheel alone is ~60+ MB and runs its own object store.

Only the model's work moves: the client still walks, reads each file once (workers need no
access to the photos: they get the bytes), hashes, decides moves and copies, and writes - one
writer, one transaction per batch (:mod:`indexer.writer`). :class:`DaskAnalyzer` has the
contract of :class:`models.ImageAnalyzer`'s ``analyze_iter``: it sends ``batch_size`` images
per task, keeps two tasks per worker thread in flight and yields the results in input order.
Each worker runs the same :class:`models.ImageAnalyzer` as a local run, so rows are the same
(vectors within float tolerance: ONNX batches differ). A task is pure - bytes in, analyses
out - so when a worker dies, the scheduler gives its chunk to another worker (up to
``distributed.scheduler.allowed-failures`` times) and nothing reaches the store before the
whole chunk is back: a batch is never half-written.

Workers need this project installed (``pip install -e '.[distributed]'`` in a clone of it:
the name ``imgsearch`` on PyPI is another project) and the model file
at the client's path (or on their ``IMGSEARCH_MODEL_PATH``); the file's sha256 is checked.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import os
import socket
import threading
import warnings
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models import Analysis, ImageAnalyzer, ImageError, ImgsearchError, OnnxModel, locate_model

log = logging.getLogger(__name__)

SCHEMES = ("dask://", "tcp://")
#: fault injection for the tests: the first task to create this file kills its worker
KILL_ONCE_ENV = "IMGSEARCH_TEST_KILL_WORKER_ONCE"


class ExecutorError(ImgsearchError):
    """A bad ``--executor``, the missing extra, or a cluster that cannot be reached."""


def parse_executor(text: str | None) -> str | None:
    """The scheduler address of ``--executor`` (``tcp://HOST:PORT``), None for ``local``."""
    value = (text or "").strip()
    if value in ("", "local"):
        return None
    if value.startswith("dask://"):
        value = "tcp://" + value.removeprefix("dask://")
    if not value.startswith("tcp://") or ":" not in value.removeprefix("tcp://"):
        raise ExecutorError(
            f"--executor {text!r}: give 'local' or a Dask scheduler as dask://HOST:PORT "
            "(started with `dask scheduler`)"
        )
    return value


def check_executor(text: str | None) -> str | None:
    """:func:`parse_executor`, and for a cluster the extra installed (before any work)."""
    address = parse_executor(text)
    if address is not None and importlib.util.find_spec("distributed") is None:
        _client_class()
    return address


def probe(address: str, timeout: float = 5.0) -> None:
    """Raise :class:`ExecutorError` now when nothing listens at the scheduler's address, or
    something that is no Dask scheduler: a scheduler sends its handshake as a connection
    opens; the dashboard's port (which `dask scheduler` prints beside it) accepted the
    connection, said nothing, and the run hung without a word."""
    host, _, port = address.removeprefix("tcp://").rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout) as conn:
            conn.settimeout(timeout)
            greeted = conn.recv(1)
    except TimeoutError:
        greeted = b""
    except (OSError, ValueError) as exc:
        raise ExecutorError(
            f"cannot reach the Dask scheduler at {address}: {exc} "
            "(start one with `dask scheduler`, or leave --executor out and IMGSEARCH_EXECUTOR "
            "unset to index locally)"
        ) from exc
    if not greeted:
        raise ExecutorError(
            f"{address} answers, but not as a Dask scheduler (no handshake in {timeout:g} s: "
            "the dashboard's port? `dask scheduler` prints the scheduler's, tcp://HOST:8786)"
        )


def _client_class() -> Any:
    try:
        from distributed import Client
    except ImportError as exc:
        raise ExecutorError(
            "--executor dask://... needs Dask distributed: pip install -e '.[distributed]' in "
            "imgsearch's folder"
        ) from exc
    return Client


@dataclass(frozen=True)
class WorkerJob:
    """What a worker needs to build the same analyzer as the client (picklable, hashable)."""

    model_name: str
    model_dir: str
    model_sha256: str
    batch_size: int
    frames: bool
    max_pixels: int | None
    quality: bool = False
    crops: bool = False  # descriptor crops=on: five crops an image (models.crops)


_ANALYZERS: dict[WorkerJob, ImageAnalyzer] = {}
_ANALYZERS_LOCK = threading.Lock()


def _worker_analyzer(job: WorkerJob) -> ImageAnalyzer:
    """One analyzer per job and worker process; its model's sha256 is checked once."""
    with _ANALYZERS_LOCK:
        analyzer = _ANALYZERS.get(job)
        if analyzer is None:
            search = [Path(job.model_dir)]
            search += [Path(p) for p in os.environ.get("IMGSEARCH_MODEL_PATH", "").split(":") if p]
            try:
                located = locate_model(job.model_name, search, verify=True)
            except ImgsearchError as error:  # said as a worker's, not as this machine's
                raise ExecutorError(
                    f"the Dask worker on {socket.gethostname()} cannot use the model: {error} "
                    f"(each worker needs the file at {job.model_dir} or in a folder of its own "
                    "IMGSEARCH_MODEL_PATH; --model-path sets the client's only)"
                ) from None
            if located.sha256 and job.model_sha256 and located.sha256 != job.model_sha256:
                raise ExecutorError(
                    f"the Dask worker on {socket.gethostname()} found another "
                    f"{job.model_name} (another sha256): {located.path}"
                )
            # one ONNX thread per task: the worker's threads are its cores (one task each)
            model = OnnxModel(located, threads=1)
            analyzer = ImageAnalyzer(
                model,
                decode_workers=0,
                batch_size=job.batch_size,
                frames=job.frames,
                max_pixels=job.max_pixels,
                quality=job.quality,
                crops=job.crops,
            )
            _ANALYZERS[job] = analyzer
        return analyzer


def analyze_chunk(job: WorkerJob, items: list[tuple[str, bytes]]) -> list[Analysis | ImageError]:
    """The worker's task: decode + embed ``items`` (name, bytes); errors sit in their slots."""
    marker = os.environ.get(KILL_ONCE_ENV)
    if marker:
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            pass
        else:
            os._exit(17)  # a worker killed in the middle of a chunk
    sources = []
    for name, data in items:
        source = io.BytesIO(data)
        source.name = name
        sources.append(source)
    results = _worker_analyzer(job).analyze_batch(sources)
    for result in results:  # what the client needs, not what travels for nothing
        if isinstance(result, Analysis):
            result.probs = result.raw_embedding = None
    return results


class DaskAnalyzer:
    """``analyze_iter`` of :class:`models.ImageAnalyzer`, run on a Dask cluster."""

    def __init__(
        self,
        address: str,
        model: OnnxModel,
        *,
        batch_size: int = 32,
        frames: bool = False,
        max_pixels: int | None = None,
        quality: bool = False,
        crops: bool = False,
        timeout: float = 30.0,
    ) -> None:
        client_class = _client_class()
        # each chunk's files go with its task, by design (bytes in, analyses out): Dask's
        # advice to scatter them, 6 lines a chunk, is no news to the user
        warnings.filterwarnings("ignore", message="Sending large graph", category=UserWarning)
        try:
            self.client = client_class(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ExecutorError(
                f"cannot reach the Dask scheduler at {address}: {exc} "
                "(start one with `dask scheduler`, or leave --executor out and IMGSEARCH_EXECUTOR "
                "unset to index locally)"
            ) from exc
        try:  # a scheduler without workers took the run and never gave a chunk back
            self.client.wait_for_workers(1, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            self.client.close()
            raise ExecutorError(
                f"the Dask scheduler at {address} has no workers (waited {timeout:g} s): start "
                f"them with `dask worker {address}`, or index locally without --executor"
            ) from exc
        located = model.located
        self.job = WorkerJob(
            model_name=model.spec.name,
            model_dir=str(Path(located.path).resolve().parent),
            model_sha256=located.sha256 or "",
            batch_size=max(1, batch_size),
            frames=frames,
            max_pixels=max_pixels,
            quality=quality,
            crops=crops,
        )
        self.batch_size = max(1, batch_size)
        self.tasks = 0

    def threads(self) -> int:
        """Worker threads of the cluster now (at least 1)."""
        try:
            return max(1, sum(self.client.nthreads().values()))
        except Exception:  # a scheduler that went away: the next submit says so
            return 1

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> DaskAnalyzer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def analyze_iter(self, sources: Iterable[Any]) -> Iterator[Analysis | ImageError]:
        """Results in input order; two chunks per worker thread in flight."""
        in_flight: deque[Any] = deque()
        window = 2 * self.threads()
        chunk: list[tuple[str, bytes]] = []

        def submit(items: list[tuple[str, bytes]]) -> None:
            in_flight.append(self.client.submit(analyze_chunk, self.job, items, pure=False))
            self.tasks += 1

        try:
            for source in sources:
                chunk.append((_name(source), _bytes(source)))
                if len(chunk) == self.batch_size:
                    submit(chunk)
                    chunk = []
                    while len(in_flight) >= window:
                        yield from _result(in_flight.popleft())
            if chunk:
                submit(chunk)
            while in_flight:
                yield from _result(in_flight.popleft())
        finally:
            for future in in_flight:
                future.cancel()


def _result(future: Any) -> list[Analysis | ImageError]:
    """A chunk's results; a cluster's own failure (a chunk that killed worker after worker,
    a lost scheduler) as an :class:`ExecutorError` that says what happened."""
    try:
        return future.result()  # type: ignore[no-any-return]
    except ImgsearchError:
        raise
    except Exception as exc:
        raise ExecutorError(
            f"the Dask cluster failed a chunk of images ({type(exc).__name__}: {exc}); "
            "what was committed stays, and the next run resumes"
        ) from exc


def _name(source: Any) -> str:
    return str(getattr(source, "name", "") or "")


def _bytes(source: Any) -> bytes:
    if isinstance(source, io.BytesIO):
        return source.getvalue()
    if isinstance(source, bytes | bytearray):
        return bytes(source)
    with open(source, "rb") as handle:  # type: ignore[arg-type]
        return handle.read()
