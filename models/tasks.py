"""MediaPipe-style task plumbing shared by the embedder and the classifier: running modes,
timestamps, the live-stream worker that drops frames while busy."""

from __future__ import annotations

import contextlib
import enum
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import models.options as check
from models.analysis import Analysis
from models.analyzer import ImageAnalyzer
from models.errors import ImageError, RunningModeError, TimestampError
from models.load import DEFAULT_MAX_PIXELS
from models.onnx_model import OnnxModel, open_model
from models.sources import ImageSource

log = logging.getLogger(__name__)


class RunningMode(enum.Enum):
    """IMAGE: single images / batches; VIDEO: decoded frames with increasing timestamps;
    LIVE_STREAM: asynchronous frames, results delivered to ``result_callback``."""

    IMAGE = "image"
    VIDEO = "video"
    LIVE_STREAM = "live_stream"


def resolve_model(
    model: str | OnnxModel | None, model_path: Sequence[Path | str] | Path | str, threads: int
) -> OnnxModel:
    """An :class:`OnnxModel` from an instance or a catalog name (sha256-checked, shared);
    ``model_path`` is one folder or a sequence of folders."""
    if isinstance(model, OnnxModel):
        return model
    if model is not None and not isinstance(model, str):
        raise TypeError(f"model must be a catalog name or an OnnxModel, got {type(model)}")
    return open_model(model, check.search_dirs(model_path), threads=threads)


class VisionTask:
    """Base of :class:`ImageEmbedder` and :class:`ImageClassifier`."""

    _task_name = "task"

    def __init__(
        self,
        model: OnnxModel,
        running_mode: RunningMode,
        result_callback: Callable[..., Any] | None,
        *,
        decode_workers: int = 2,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        batch_size: int = 32,
    ):
        if not isinstance(running_mode, RunningMode):
            running_mode = RunningMode(running_mode)
        check.result_callback(result_callback)
        if running_mode is RunningMode.LIVE_STREAM and result_callback is None:
            raise ValueError("result_callback must be provided in LIVE_STREAM running mode")
        if running_mode is not RunningMode.LIVE_STREAM and result_callback is not None:
            raise ValueError("result_callback can only be set in LIVE_STREAM running mode")
        self.model = model
        self.running_mode = running_mode
        self.result_callback = result_callback
        self._analyzer = ImageAnalyzer(
            model,
            decode_workers,
            top_labels=0,
            batch_size=batch_size,
            max_pixels=max_pixels,
            keep_probs=True,
        )
        self._ts_lock = threading.Lock()
        self._last_ts: int | None = None
        self._busy = threading.Event()
        self._submit_lock = threading.Lock()
        self._stream: ThreadPoolExecutor | None = None
        self._stream_thread: threading.Thread | None = None  # the stream's worker, once started
        self._close_after_callback = False
        self._closed = False
        self.dropped_frames = 0

    # ------------------------------------------------------------------ guards
    def _require(self, mode: RunningMode, method: str) -> None:
        if self._closed:
            raise RunningModeError(f"{self._task_name} is closed")
        if self.running_mode is not mode:
            raise RunningModeError(
                f"{method}() needs running mode {mode.name}, but this {self._task_name} was "
                f"created with {self.running_mode.name}"
            )

    def _checked_timestamps(self, timestamps_ms: Sequence[object]) -> list[int]:
        """The timestamps of one call as ints, each after the one before it and after the
        last recorded one (:class:`TimestampError` if not); nothing is recorded here."""
        checked = [check.timestamp(t) for t in timestamps_ms]
        last = self._last_ts
        for timestamp in checked:
            if last is not None and timestamp <= last:
                raise TimestampError(
                    f"input timestamp must be monotonically increasing: got {timestamp} ms "
                    f"after {last} ms"
                )
            last = timestamp
        return checked

    @contextlib.contextmanager
    def _video_call(self, timestamps_ms: Sequence[object]) -> Iterator[list[int]]:
        """A VIDEO-mode call: its timestamps are checked before any work, and recorded only
        when the call succeeds (a rejected call or a frame that fails to decode does not
        move the clock). Calls are serialised."""
        with self._ts_lock:
            checked = self._checked_timestamps(timestamps_ms)
            yield checked
            if checked:
                self._last_ts = checked[-1]

    # ------------------------------------------------------------------ running
    def _analyze(
        self, image: ImageSource, roi: object, rotation_degrees: int, raw: bool
    ) -> Analysis:
        rotation = check.rotation(rotation_degrees)
        return self._analyzer.analyze(image, roi, raw=raw, rotation_degrees=rotation)

    def _analyze_batch(
        self, images: Sequence[ImageSource], rois: Sequence[object] | None, raw: bool
    ) -> list[Analysis | ImageError]:
        if rois is not None and len(rois) != len(images):
            raise ValueError(f"{len(images)} images but {len(rois)} regions of interest")
        return list(self._analyzer.analyze_iter(images, rois, raw=raw))

    def _submit_stream(
        self,
        image: ImageSource,
        timestamp_ms: int,
        roi: object,
        rotation_degrees: int,
        raw: bool,
        make_result: Callable[[Analysis, int], Any],
    ) -> bool:
        """Decode now (errors raise to the caller), run the model on the stream worker.

        Returns ``False`` (frame dropped, as MediaPipe's flow limiter does) while the previous
        frame is still being processed (its timestamp counts, as in MediaPipe). A call that
        raises (a bad timestamp or rotation, a frame that fails to decode) does not move the
        timestamp clock."""
        rotation = check.rotation(rotation_degrees)
        with self._submit_lock:
            if self._closed:  # by another thread (or the callback) since the caller's check
                raise RunningModeError(f"{self._task_name} is closed")
            (timestamp,) = self._checked_timestamps([timestamp_ms])
            if self._busy.is_set():
                self.dropped_frames += 1
                self._last_ts = timestamp
                return False
            prepared = self._analyzer.prepare(image, roi, rotation)
            if isinstance(prepared, ImageError):
                raise prepared
            if self._stream is None:
                self._stream = ThreadPoolExecutor(1, thread_name_prefix="imgsearch-stream")
            self._busy.set()
            self._last_ts = timestamp
            self._stream.submit(self._stream_work, prepared, timestamp, raw, make_result)
            return True

    def _stream_work(
        self,
        prepared: Any,
        timestamp_ms: int,
        raw: bool,
        make_result: Callable[[Analysis, int], Any],
    ) -> None:
        self._stream_thread = threading.current_thread()
        try:
            analysis = self._analyzer.infer_prepared(prepared, raw=raw)
            if isinstance(analysis, ImageError):  # pragma: no cover - prepared is good
                raise analysis
            result = make_result(analysis, timestamp_ms)
            self._busy.clear()  # the next frame may start while the callback runs
            callback = self.result_callback
            assert callback is not None
            callback(result, prepared.decoded.image, timestamp_ms)
        except Exception:
            log.exception(
                "%s live-stream processing failed at %d ms", self._task_name, timestamp_ms
            )
        finally:
            self._busy.clear()
            if self._close_after_callback:  # close() was called from the callback
                self._release()

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Finish in-flight stream work and release threads (the shared model stays open).

        Called from ``result_callback`` (say, to stop after some results), it marks the task
        closed and returns; its threads are released once the callback returns (a thread
        cannot wait for itself)."""
        with self._submit_lock:  # no frame is submitted after this
            self._closed = True
        if threading.current_thread() is self._stream_thread:
            self._close_after_callback = True
            return
        stream = self._stream
        if stream is not None:
            stream.shutdown(wait=True)
        self._release()

    def _release(self) -> None:
        """Let the stream's worker end and close the decoders (once; from any thread)."""
        with self._submit_lock:
            stream, self._stream = self._stream, None
            if stream is not None:  # waited for already, or it is this very thread: frames
                stream.shutdown(wait=False, cancel_futures=True)  # queued behind it are dropped
            self._analyzer.close()

    def __enter__(self) -> VisionTask:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
