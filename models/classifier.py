"""Image classifier with MediaPipe ``ImageClassifier`` semantics on the model's class head.

Differences from MediaPipe, on purpose: ``classify_batch`` exists; ``classify_async`` returns
whether the frame was accepted; the background class is never returned (so naming it in
``category_allowlist`` is an error, as ``imgsearch classify --allow background`` is); an
allow/deny name that is no category of the model is an error (MediaPipe ignores it); a region
of interest is read in the upright image (EXIF orientation and ``rotation_degrees`` first,
then the crop; MediaPipe crops the unrotated input, then rotates).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import models.options as check
from models.analysis import Analysis
from models.errors import ImageError, ModelSpecError
from models.labels import DEFAULT_LOCALE, check_category_names, display_names
from models.load import DEFAULT_MAX_PIXELS
from models.onnx_model import OnnxModel
from models.sources import ImageSource
from models.tasks import RunningMode, VisionTask, resolve_model


@dataclass(frozen=True)
class Category:
    """``index`` into the model's output (0 = background, never returned). MediaPipe's fields
    in MediaPipe's order, each ``None`` unless given, so ported code that builds or unpacks
    categories by position gets the same names."""

    index: int | None = None
    score: float | None = None
    display_name: str | None = None
    category_name: str | None = None


@dataclass
class Classifications:
    categories: list[Category]
    head_index: int = 0
    head_name: str | None = None


@dataclass
class ImageClassifierResult:
    classifications: list[Classifications]
    timestamp_ms: int | None = None


@dataclass
class ImageClassifierOptions:
    """``max_results``: -1 or ``None`` = all; ``score_threshold``: drop lower scores
    (``None``: none dropped); allow/deny lists: category names, or one name; both set is an
    error. Checked when made and when a task is created from them (:meth:`validate`); the
    task also refuses (:class:`CategoryNameError`, a ``ValueError``) a name that is no
    category of its model, and ``background`` (never returned) in the allowlist: MediaPipe
    ignores such names, and an allowlist of them all filtered out every category silently."""

    model: str | OnnxModel | None = None
    model_path: Sequence[Path | str] | Path | str = ()
    display_names_locale: str = DEFAULT_LOCALE
    max_results: int | None = -1
    score_threshold: float | None = 0.0
    category_allowlist: Sequence[str] | str | None = None
    category_denylist: Sequence[str] | str | None = None
    running_mode: RunningMode = RunningMode.IMAGE
    result_callback: Callable[[ImageClassifierResult, Any, int], None] | None = None
    threads: int = 0
    decode_workers: int = 2
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    batch_size: int = 32

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Normalise (one folder or name -> a list of one, ``max_results=None`` -> -1, numpy
        numbers -> int / float) and check the options."""
        self.model_path = check.search_dirs(self.model_path)
        self.category_allowlist = check.category_names(
            self.category_allowlist, "category_allowlist"
        )
        self.category_denylist = check.category_names(self.category_denylist, "category_denylist")
        if self.category_allowlist and self.category_denylist:
            raise ValueError("category_allowlist and category_denylist are mutually exclusive")
        self.max_results = check.max_results(self.max_results)
        self.score_threshold = check.score_threshold(self.score_threshold)
        check.result_callback(self.result_callback)


class ImageClassifier(VisionTask):
    """Top ImageNet categories of an image (models with a class head only)."""

    _task_name = "ImageClassifier"

    def __init__(self, options: ImageClassifierOptions | None = None):
        options = options or ImageClassifierOptions()
        options.validate()
        model = resolve_model(options.model, options.model_path, options.threads)
        if not model.has_class_head or model.labels is None or model.located.labels_path is None:
            raise ModelSpecError(
                f"model '{model.name}' has no class head (embedding only) and cannot classify; "
                "use a classifier model such as 'mobilenet_v3_small_100'"
            )
        labels: list[str] = model.labels
        bg = model.spec.background_index
        for option in ("category_allowlist", "category_denylist"):
            check_category_names(option, getattr(options, option) or [], labels, model.name, bg)
        names = display_names(model.located.labels_path, options.display_names_locale, len(labels))
        super().__init__(
            model,
            options.running_mode,
            options.result_callback,
            decode_workers=options.decode_workers,
            max_pixels=options.max_pixels,
            batch_size=options.batch_size,
        )
        self.options = options
        self.labels = labels
        self.display_names = names
        keep = np.ones(len(self.labels), dtype=bool)
        if bg is not None and 0 <= bg < len(keep):
            keep[bg] = False
        if options.category_allowlist:
            allowed = set(options.category_allowlist)
            keep &= np.array([name in allowed for name in self.labels])
        elif options.category_denylist:
            denied = set(options.category_denylist)
            keep &= np.array([name not in denied for name in self.labels])
        self._keep = keep

    @classmethod
    def create_from_options(cls, options: ImageClassifierOptions) -> ImageClassifier:
        return cls(options)

    @classmethod
    def create_from_model_name(
        cls, name: str | None = None, model_path: Sequence[Path | str] | Path | str = ()
    ) -> ImageClassifier:
        return cls(ImageClassifierOptions(model=name, model_path=model_path))

    def categories(self, probs: np.ndarray) -> list[Category]:
        """Apply allow/deny lists, threshold and max_results to one probability vector."""
        keep, threshold = self._keep, self.options.score_threshold
        idx = np.flatnonzero(keep if threshold is None else keep & (probs >= threshold))
        idx = idx[np.argsort(-probs[idx], kind="stable")]
        if self.options.max_results is not None and self.options.max_results > 0:
            idx = idx[: self.options.max_results]
        return [
            Category(
                index=int(i),
                score=float(probs[i]),
                display_name=self.display_names[i],
                category_name=self.labels[i],
            )
            for i in idx
        ]

    def _result(self, analysis: Analysis, timestamp_ms: int | None) -> ImageClassifierResult:
        assert analysis.probs is not None
        head = Classifications(self.categories(analysis.probs), 0, self.model.spec.probs_output)
        return ImageClassifierResult([head], timestamp_ms)

    # ------------------------------------------------------------------ API
    def classify(
        self, image: ImageSource, roi: object = None, *, rotation_degrees: int = 0
    ) -> ImageClassifierResult:
        """IMAGE mode: classify one image."""
        self._require(RunningMode.IMAGE, "classify")
        return self._result(self._analyze(image, roi, rotation_degrees, False), None)

    def classify_batch(
        self, images: Sequence[ImageSource], rois: Sequence[object] | None = None
    ) -> list[ImageClassifierResult | ImageError]:
        """IMAGE mode: many images, order kept, errors in their slots."""
        self._require(RunningMode.IMAGE, "classify_batch")
        return [
            item if isinstance(item, ImageError) else self._result(item, None)
            for item in self._analyze_batch(images, rois, False)
        ]

    def classify_for_video(
        self,
        frame: ImageSource,
        timestamp_ms: int,
        roi: object = None,
        *,
        rotation_degrees: int = 0,
    ) -> ImageClassifierResult:
        """VIDEO mode: timestamps must strictly increase."""
        self._require(RunningMode.VIDEO, "classify_for_video")
        with self._video_call([timestamp_ms]) as (timestamp,):
            return self._result(self._analyze(frame, roi, rotation_degrees, False), timestamp)

    def classify_async(
        self,
        frame: ImageSource,
        timestamp_ms: int,
        roi: object = None,
        *,
        rotation_degrees: int = 0,
    ) -> bool:
        """LIVE_STREAM mode: result to ``result_callback``; frames are dropped while busy."""
        self._require(RunningMode.LIVE_STREAM, "classify_async")
        return self._submit_stream(frame, timestamp_ms, roi, rotation_degrees, False, self._result)

    def __enter__(self) -> ImageClassifier:
        return self
