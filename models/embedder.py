"""Image embedder with MediaPipe ``ImageEmbedder`` semantics (options, running modes,
results, quantisation, cosine similarity) on top of :class:`OnnxModel`.

Differences from MediaPipe, on purpose:

- ``l2_normalize`` defaults to ``True`` (the library stores unit vectors);
- ``quantize`` always quantises the *unit-norm* vector (so it is lossless up to rounding even
  with ``l2_normalize=False``) and gives an ``int8`` array (MediaPipe: bytes);
- ``embed_batch`` exists (IMAGE mode; decodes in threads), and ``embed_video_frames``;
- ``embed_async`` returns whether the frame was accepted (False: dropped while busy);
- a region of interest is read in the upright image: EXIF orientation and
  ``rotation_degrees`` are applied first, then the ROI is cropped (MediaPipe crops the ROI
  from the unrotated input, then rotates). The web UI draws regions on the upright image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import models.options as check
from models.analysis import Analysis
from models.errors import ImageError
from models.load import DEFAULT_MAX_PIXELS
from models.onnx_model import OnnxModel, l2_normalize
from models.sources import ImageSource
from models.tasks import RunningMode, VisionTask, resolve_model


@dataclass
class Embedding:
    """One head's embedding: float32 vector, or int8 when quantised."""

    embedding: np.ndarray
    head_index: int = 0
    head_name: str | None = None

    @property
    def quantized(self) -> bool:
        return self.embedding.dtype in (np.int8, np.uint8)


@dataclass
class ImageEmbedderResult:
    """MediaPipe's result (``embeddings``, ``timestamp_ms``); with a model that has a class
    head, also the frame's class ``probabilities`` from the same pass (for video labels)."""

    embeddings: list[Embedding]
    timestamp_ms: int | None = None
    probabilities: np.ndarray | None = field(default=None, repr=False)


@dataclass
class ImageEmbedderOptions:
    """``model``: catalog name (default model if ``None``) or an open :class:`OnnxModel`;
    ``model_path``: a folder or a list of folders searched for it. Checked when made and
    when a task is created from them (:meth:`validate`)."""

    model: str | OnnxModel | None = None
    model_path: Sequence[Path | str] | Path | str = ()
    l2_normalize: bool = True
    quantize: bool = False
    running_mode: RunningMode = RunningMode.IMAGE
    result_callback: Callable[[ImageEmbedderResult, Any, int], None] | None = None
    threads: int = 0
    decode_workers: int = 2
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    batch_size: int = 32

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Normalise (one folder -> a list of one) and check the options: ``TypeError`` for
        a non-bool ``l2_normalize`` / ``quantize`` or a ``result_callback`` that cannot be
        called."""
        self.model_path = check.search_dirs(self.model_path)
        self.l2_normalize = check.flag(self.l2_normalize, "l2_normalize")
        self.quantize = check.flag(self.quantize, "quantize")
        check.result_callback(self.result_callback)


def quantize_embedding(vector: np.ndarray) -> np.ndarray:
    """MediaPipe scalar quantisation of a unit vector: C's ``roundf(x * 128)`` (half steps
    away from zero, as MediaPipe; numpy's ``round`` takes them to even) clipped to int8."""
    unit = l2_normalize(np.asarray(vector, dtype=np.float32))
    scaled = unit.astype(np.float64) * 128.0  # exact, so + 0.5 is exact too
    rounded = np.copysign(np.floor(np.abs(scaled) + 0.5), scaled)
    return np.clip(rounded, -128, 127).astype(np.int8)


def _as_vector(value: Embedding | np.ndarray | Sequence[float]) -> np.ndarray:
    if isinstance(value, Embedding):
        return value.embedding
    return np.asarray(value)


def cosine_similarity(u: Embedding | np.ndarray, v: Embedding | np.ndarray) -> float:
    """Cosine similarity of two float or two quantised embeddings (MediaPipe semantics).

    Quantised vectors (int8, or uint8 bytes as MediaPipe returns them) are read as int8.
    Raises ``ValueError`` for different sizes, a float/quantised mix, or a zero vector.
    """
    a, b = _as_vector(u), _as_vector(v)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError("cosine_similarity needs 1-d embeddings")
    if a.size == 0 or b.size == 0:
        raise ValueError("cannot compute cosine similarity on empty embeddings")
    if a.size != b.size:
        raise ValueError(
            f"cannot compute cosine similarity between embeddings of different sizes "
            f"({a.size} vs. {b.size})"
        )
    qa, qb = a.dtype in (np.int8, np.uint8), b.dtype in (np.int8, np.uint8)
    if qa != qb:
        raise ValueError("cannot compute cosine similarity between quantized and float embeddings")
    if qa:
        a = a.view(np.int8) if a.dtype == np.uint8 else a
        b = b.view(np.int8) if b.dtype == np.uint8 else b
    elif a.dtype.kind != "f" or b.dtype.kind != "f":
        raise ValueError(f"unsupported embedding dtypes {a.dtype} / {b.dtype}")
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    na, nb = float(np.linalg.norm(a64)), float(np.linalg.norm(b64))
    if na <= 0.0 or nb <= 0.0:
        raise ValueError("cannot compute cosine similarity on an embedding with 0 norm")
    return float(np.dot(a64, b64) / (na * nb))


class ImageEmbedder(VisionTask):
    """Embeds images; see :class:`ImageEmbedderOptions` and :class:`RunningMode`."""

    _task_name = "ImageEmbedder"

    def __init__(self, options: ImageEmbedderOptions | None = None):
        options = options or ImageEmbedderOptions()
        options.validate()
        model = resolve_model(options.model, options.model_path, options.threads)
        super().__init__(
            model,
            options.running_mode,
            options.result_callback,
            decode_workers=options.decode_workers,
            max_pixels=options.max_pixels,
            batch_size=options.batch_size,
        )
        self.options = options

    @classmethod
    def create_from_options(cls, options: ImageEmbedderOptions) -> ImageEmbedder:
        return cls(options)

    @classmethod
    def create_from_model_name(
        cls, name: str | None = None, model_path: Sequence[Path | str] | Path | str = ()
    ) -> ImageEmbedder:
        return cls(ImageEmbedderOptions(model=name, model_path=model_path))

    # ------------------------------------------------------------------ result building
    @property
    def _raw(self) -> bool:
        return not self.options.l2_normalize

    def _result(self, analysis: Analysis, timestamp_ms: int | None) -> ImageEmbedderResult:
        if self.options.quantize:
            vector = quantize_embedding(analysis.embedding)
        elif self.options.l2_normalize or analysis.raw_embedding is None:
            vector = analysis.embedding
        else:
            vector = analysis.raw_embedding
        head = Embedding(vector, 0, self.model.spec.embedding_output)
        return ImageEmbedderResult([head], timestamp_ms, analysis.probs)

    # ------------------------------------------------------------------ API
    def embed(
        self, image: ImageSource, roi: object = None, *, rotation_degrees: int = 0
    ) -> ImageEmbedderResult:
        """IMAGE mode: embed one image (path, bytes, file object, PIL image or array)."""
        self._require(RunningMode.IMAGE, "embed")
        return self._result(self._analyze(image, roi, rotation_degrees, self._raw), None)

    def embed_batch(
        self, images: Sequence[ImageSource], rois: Sequence[object] | None = None
    ) -> list[ImageEmbedderResult | ImageError]:
        """IMAGE mode: many images, decoded in a thread pool while ONNX runs; input order is
        kept and a bad image's :class:`ImageError` is returned in its slot."""
        self._require(RunningMode.IMAGE, "embed_batch")
        out: list[ImageEmbedderResult | ImageError] = []
        for item in self._analyze_batch(images, rois, self._raw):
            out.append(item if isinstance(item, ImageError) else self._result(item, None))
        return out

    def embed_for_video(
        self,
        frame: ImageSource,
        timestamp_ms: int,
        roi: object = None,
        *,
        rotation_degrees: int = 0,
    ) -> ImageEmbedderResult:
        """VIDEO mode: one decoded frame; timestamps must strictly increase."""
        self._require(RunningMode.VIDEO, "embed_for_video")
        with self._video_call([timestamp_ms]) as (timestamp,):
            return self._result(self._analyze(frame, roi, rotation_degrees, self._raw), timestamp)

    def embed_video_frames(
        self, frames: Sequence[ImageSource], timestamps_ms: Sequence[int]
    ) -> list[ImageEmbedderResult]:
        """VIDEO mode: a batch of decoded frames in one ONNX pass; their timestamps must
        strictly increase (within the batch and after the previous call). A frame that fails
        raises its :class:`ImageError` and the batch's timestamps stay unused."""
        self._require(RunningMode.VIDEO, "embed_video_frames")
        if len(frames) != len(timestamps_ms):
            raise ValueError(f"{len(frames)} frames but {len(timestamps_ms)} timestamps")
        out = []
        with self._video_call(timestamps_ms) as stamps:
            for item, timestamp in zip(
                self._analyze_batch(frames, None, self._raw), stamps, strict=True
            ):
                if isinstance(item, ImageError):
                    raise item
                out.append(self._result(item, timestamp))
        return out

    def embed_async(
        self,
        frame: ImageSource,
        timestamp_ms: int,
        roi: object = None,
        *,
        rotation_degrees: int = 0,
    ) -> bool:
        """LIVE_STREAM mode: the result goes to ``result_callback(result, image, ts)`` on a
        worker thread. Frames arriving while one is in flight are dropped (returns False)."""
        self._require(RunningMode.LIVE_STREAM, "embed_async")
        return self._submit_stream(
            frame, timestamp_ms, roi, rotation_degrees, self._raw, self._result
        )

    def __enter__(self) -> ImageEmbedder:
        return self

    @staticmethod
    def cosine_similarity(u: Embedding | np.ndarray, v: Embedding | np.ndarray) -> float:
        return cosine_similarity(u, v)
