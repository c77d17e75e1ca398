"""Evaluate a :class:`search.descriptor.descriptors.DescriptorConfig` as a library uses it.

Every file of the ground truth is both a library image and a query, as in
:func:`search.evaluation.plain_eval.run_evaluation`, but compared like the search engine
compares them:

1. each file is decoded once and embedded as the library stores it (whole image, plus the
   photo inside a frame when ``frames`` is on) and as a query (its views: quarter turns, the
   framed photo's turns; :func:`models.views.analyze_views`);
2. with ``whiten`` on and at least ``whitening.MIN_IMAGES`` files, the whitening is learned
   from edits of a sample of the files themselves (self-supervised, no ground truth used),
   exactly as a library of those files would learn it;
3. rankings use the descriptor's rank score (copy score fused with label similarity), pair
   metrics the symmetric copy score ``max(C(a, b), C(b, a))``; with the key-point check on
   (``local=on``, the default, or ``verify=on``) a query's grey-band candidates are checked
   geometrically as the engine checks them, and raised where confirmed
   (:func:`search.evaluation.descriptor_scores.grey_band_boosts`).

The result is an ordinary :class:`search.evaluation.scoring.Evaluation` plus what was learned
(:class:`DescriptorRun`: whitening size, calibration, timings). The score matrices are in
:mod:`search.evaluation.descriptor_scores`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models import ImageAnalyzer, ImageError, OnnxModel
from search.descriptor import (
    DEFAULT_SAMPLE,
    MIN_IMAGES,
    Descriptor,
    DescriptorConfig,
    StoredImage,
    Whitening,
    WhiteningError,
    learn_from_images,
    sample_indices,
)
from search.evaluation.descriptor_scores import (
    FileViews,
    Progress,
    _Matrices,
    _scores,
    grey_band_boosts,
)
from search.evaluation.errors import TruthError
from search.evaluation.scoring import Evaluation, evaluate_scores, ranking_depth
from search.evaluation.truth import GroundTruth


@dataclass
class DescriptorRun:
    """What an evaluation learned and spent, for the report."""

    config: DescriptorConfig
    model: str = ""
    whitening: Whitening | None = None
    whitening_note: str = ""
    calibration: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    verified_pairs: int = 0
    errors: list[ImageError] = field(default_factory=list)

    def details(self) -> dict[str, Any]:
        return {
            "descriptor": self.config.describe(),
            "whitening": None
            if self.whitening is None
            else {
                "pairs": self.whitening.pairs,
                "images": self.whitening.images,
                "dimension": self.whitening.dimension,
            },
            "whitening_note": self.whitening_note,
            "calibration": self.calibration,
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
            "verified_pairs": self.verified_pairs,
        }


def describe_files(
    paths: Sequence[Path], analyzer: ImageAnalyzer, config: DescriptorConfig
) -> tuple[list[FileViews | None], list[ImageError]]:
    """Views and stored vectors of every file (None and an error for undecodable files)."""
    out: list[FileViews | None] = []
    errors: list[ImageError] = []
    for path in paths:
        try:
            vs = analyzer.analyze_views(
                path, rotations=config.angles, frames=config.frames, unblock=config.unblock
            )
        except ImageError as exc:
            errors.append(exc)
            out.append(None)
            continue
        frame = None
        if vs.frame is not None:
            frame = vs.embeddings[vs.names.index("frame")]
        stored = StoredImage(
            vs.embeddings[0], frame, bool(vs.frame and vs.frame.dominant), vs.analysis.labels
        )
        size = (vs.analysis.width, vs.analysis.height)
        out.append(FileViews(stored, vs.embeddings, vs.names, size, vs.layout))
    return out, errors


def learn_for_files(
    paths: Sequence[Path], model: OnnxModel, background: np.ndarray, *, seed: int = 0
) -> Whitening:
    """The whitening a library of these files would learn (sample, edits, all vectors)."""
    sample = sample_indices(len(paths), DEFAULT_SAMPLE, seed)
    images = []
    for i in sample:
        try:
            images.append(model.load(paths[i]).image.convert("RGB"))
        except ImageError:
            continue
    return learn_from_images(images, model.embed_images, background, seed=seed)


@dataclass
class PreparedSet:
    """A ground truth's files described once (views with every rotation and frames), so
    that several configurations can be scored without embedding again."""

    truth: GroundTruth
    names: list[str]
    files: list[FileViews]
    paths: list[Path]
    missing: list[str]
    errors: list[ImageError]
    seconds: float

    @property
    def background(self) -> np.ndarray:
        return np.stack([f.stored.vector for f in self.files])


def prepare_set(
    truth: GroundTruth, model: OnnxModel, config: DescriptorConfig | None = None
) -> PreparedSet:
    """Describe every file of ``truth`` for ``config`` (default: all views and frames)."""
    config = config or DescriptorConfig()
    truth.check_files()
    paths = truth.paths()
    t0 = time.perf_counter()
    with ImageAnalyzer(model, decode_workers=0, top_labels=5) as analyzer:
        described, errors = describe_files(paths, analyzer, config)
    keep = [i for i, f in enumerate(described) if f is not None]
    if len(keep) < 2:
        raise TruthError(f"{truth.name}: fewer than 2 files could be evaluated")
    return PreparedSet(
        truth,
        [truth.files[i] for i in keep],
        [described[i] for i in keep],  # type: ignore[misc]
        [paths[i] for i in keep],
        [truth.files[i] for i, f in enumerate(described) if f is None],
        errors,
        time.perf_counter() - t0,
    )


def learn_set_whitening(
    prepared: PreparedSet, model: OnnxModel, *, seed: int = 0
) -> tuple[Whitening | None, str]:
    """The whitening a library of the set's files would learn, or None and why not."""
    if len(prepared.files) < MIN_IMAGES:
        return None, f"none: {len(prepared.files)} files < {MIN_IMAGES}"
    try:
        return learn_for_files(prepared.paths, model, prepared.background, seed=seed), ""
    except WhiteningError as exc:
        return None, f"none: {exc}"


def score_set(
    prepared: PreparedSet,
    config: DescriptorConfig,
    whitening: Whitening | None,
    *,
    threshold: float | None = None,
    seed: int = 0,
    model: str = "",
    progress: Progress | None = None,
) -> tuple[Evaluation, DescriptorRun]:
    """Evaluate ``config`` on a prepared set with a given (or no) whitening."""
    say = progress or (lambda _msg: None)
    run = DescriptorRun(config, model, whitening if config.whiten else None)
    run.errors = list(prepared.errors)
    run.seconds["views"] = prepared.seconds
    descriptor = Descriptor(config, run.whitening)
    cal = descriptor.calibrate([f.stored for f in prepared.files], seed=seed)
    run.calibration = {
        "median": round(cal.median, 4),
        "spread": round(cal.spread, 4),
        "mean": round(cal.mean, 4),
        "sd": round(cal.sd, 4),
    }
    if threshold is None and not config.is_plain:  # the calibrated duplicate decision
        threshold = cal.duplicate_threshold()
    t0 = time.perf_counter()
    mx = _Matrices(descriptor, prepared.files)
    copy = mx.copy_matrix()  # scored once: for the check's candidates and the rankings
    boost: dict[tuple[int, int], float] = {}
    if config.checks_grey_band:
        boost = grey_band_boosts(prepared.files, prepared.paths, copy, descriptor, say)
        run.verified_pairs = len(boost)
        run.seconds["verify"] = time.perf_counter() - t0
    depth = ranking_depth(len(prepared.files), None, prepared.truth)
    ev = evaluate_scores(
        prepared.names,
        _scores(mx, depth, boost, copy),
        prepared.truth,
        threshold,
        missing=prepared.missing,
    )
    run.seconds["scoring"] = time.perf_counter() - t0
    return ev, run


def evaluate_descriptor(
    truth: GroundTruth,
    model: OnnxModel,
    config: DescriptorConfig | None = None,
    *,
    threshold: float | None = None,
    whitening: Whitening | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> tuple[Evaluation, DescriptorRun]:
    """Evaluate ``config`` on ``truth``'s files (see the module docstring).

    ``whitening`` overrides the self-learned one (e.g. a library's stored transform).
    ``threshold`` applies to the copy score (pair precision/recall).
    """
    config = config or DescriptorConfig()
    say = progress or (lambda _msg: None)
    prepared = prepare_set(truth, model, config)
    note, seconds = "", 0.0
    if config.whiten and whitening is None:
        t0 = time.perf_counter()
        if len(prepared.files) >= MIN_IMAGES:
            files = len(prepared.files)
            sample = f"{DEFAULT_SAMPLE} of {files}" if files > DEFAULT_SAMPLE else f"all {files}"
            say(f"learning the whitening from edits of {sample} files")
        whitening, note = learn_set_whitening(prepared, model, seed=seed)
        seconds = time.perf_counter() - t0
    ev, run = score_set(
        prepared, config, whitening, threshold=threshold, seed=seed, model=model.name, progress=say
    )
    run.whitening_note = note if config.whiten else ""
    if seconds:
        run.seconds["whitening"] = seconds
    return ev, run
