"""Evaluate a :class:`search.descriptor.descriptors.DescriptorConfig` as a library uses it.

Every file of the ground truth is both a library image and a query, as in
:func:`search.evaluation.plain_eval.run_evaluation`, but compared like the search engine compares
them:

1. each file is decoded once and embedded as the library stores it (whole image, plus the
   photo inside a frame when ``frames`` is on) and as a query (its views: quarter turns, the
   framed photo's turns; :func:`models.views.analyze_views`);
2. with ``whiten`` on and at least ``whitening.MIN_IMAGES`` files, the whitening is learned
   from edits of a sample of the files themselves (self-supervised, no ground truth used),
   exactly as a library of those files would learn it;
3. rankings use the descriptor's rank score (copy score fused with label similarity), pair
   metrics the symmetric copy score ``max(C(a, b), C(b, a))``, optionally raised for pairs
   that ``verify`` confirms geometrically (:mod:`search.descriptor.verify`).

The result is an ordinary :class:`search.evaluation.plain_eval.Evaluation` plus what was learned
(:class:`DescriptorRun`: whitening size, calibration, timings).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models import ImageAnalyzer, ImageError, OnnxModel, load_image
from search.descriptor import (
    MIN_IMAGES,
    Descriptor,
    DescriptorConfig,
    StoredImage,
    Whitening,
    WhiteningError,
    label_vectors,
    learn_from_images,
    sample_indices,
)
from search.evaluation import metrics as m
from search.evaluation.errors import TruthError
from search.evaluation.plain_eval import (
    EXACT_MAX_FILES,
    Evaluation,
    Scores,
    evaluate_scores,
    ranking_depth,
)
from search.evaluation.truth import GroundTruth

VERIFY_CANDIDATES = 30  # pairs checked per file: its best candidates by copy score
BLOCK = 128  # query files per block of the score matrices
Progress = Callable[[str], None]


@dataclass
class FileViews:
    """One file as library image (``stored``) and as query (``views``/``names``)."""

    stored: StoredImage
    views: np.ndarray
    names: tuple[str, ...]


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
            vs = analyzer.analyze_views(path, rotations=config.angles, frames=config.frames)
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
        out.append(FileViews(stored, vs.embeddings, vs.names))
    return out, errors


def learn_for_files(
    paths: Sequence[Path], model: OnnxModel, background: np.ndarray, *, seed: int = 0
) -> Whitening:
    """The whitening a library of these files would learn (sample, edits, all vectors)."""
    sample = sample_indices(len(paths), 1000, seed)
    images = []
    for i in sample:
        try:
            images.append(model.load(paths[i]).image.convert("RGB"))
        except ImageError:
            continue
    return learn_from_images(images, model.embed_images, background, seed=seed)


class _Matrices:
    """Copy / label / rank scores between query views and stored rows, by blocks."""

    def __init__(self, descriptor: Descriptor, files: list[FileViews]) -> None:
        self.d = descriptor
        self.n = len(files)
        self.rows, self.owner = descriptor.stored_rows([f.stored for f in files])
        self.queries = [
            descriptor.query_rows(f.views, f.names, f.stored.frame_dominant) for f in files
        ]
        self.labels = None
        if descriptor.config.labels:
            self.labels = label_vectors([f.stored.labels for f in files], {})

    def copy_block(self, start: int, stop: int) -> np.ndarray:
        q = self.queries[start:stop]
        sizes = [len(v) for v in q]
        sims = np.concatenate(q) @ self.rows.T
        out = np.full((stop - start, self.n), -np.inf, np.float32)
        at = 0
        for r, size in enumerate(sizes):
            np.maximum.at(out[r], self.owner, sims[at : at + size].max(axis=0))
            at += size
        return out

    def label_block(self, start: int, stop: int) -> np.ndarray | None:
        return None if self.labels is None else self.labels[start:stop] @ self.labels.T

    def stored_graph(self) -> np.ndarray:
        """Copy scores between stored images from their stored rows only [n, n] (what a
        library can look up for its own images; -inf on the diagonal)."""
        sims = self.rows @ self.rows.T
        out = np.full((self.n, self.n), -np.inf, np.float32)
        for a in range(len(self.rows)):
            np.maximum.at(out[self.owner[a]], self.owner, sims[a])
        np.fill_diagonal(out, -np.inf)
        return out


def _scores(mx: _Matrices, depth: int, boost: dict[tuple[int, int], float]) -> Scores:
    """Rankings by rank score and pairs by symmetric copy score (+ verified boosts, then the
    duplicate-graph expansion)."""
    n = mx.n
    d = mx.d
    copy = np.empty((n, n), np.float32)
    for start in range(0, n, BLOCK):
        copy[start : start + BLOCK] = mx.copy_block(start, min(n, start + BLOCK))
    np.fill_diagonal(copy, -np.inf)
    for (a, b), v in boost.items():  # verified pairs: the copy score of a confirmed copy
        copy[a, b] = max(copy[a, b], v)
        copy[b, a] = max(copy[b, a], v)
    pair = np.maximum(copy, copy.T)
    if d.config.expand:
        graph = mx.stored_graph()
        copy = d.expand(copy, graph)
        pair = d.expand(pair, graph)
        pair = np.maximum(pair, pair.T)
    rank_scores = np.empty((n, depth), np.float32)
    rank_idx = np.empty((n, depth), np.int64)
    for start in range(0, n, BLOCK):
        stop = min(n, start + BLOCK)
        r = d.rank_scores(copy[start:stop], mx.label_block(start, stop))
        r[np.arange(stop - start), np.arange(start, stop)] = -np.inf
        top = np.argsort(-r, axis=1, kind="stable")[:, :depth]
        rank_idx[start:stop] = top
        rank_scores[start:stop] = np.take_along_axis(r, top, axis=1)
    if n <= EXACT_MAX_FILES:
        i, j = np.triu_indices(n, 1)
        s = pair[i, j]
    else:
        p = pair.copy()
        np.fill_diagonal(p, -np.inf)
        top = np.argsort(-p, axis=1)[:, :depth]
        i, j, s = m.candidate_pairs(np.take_along_axis(p, top, 1), top)
    return Scores(rank_scores, rank_idx, i, j, s, lambda a, b: float(pair[a, b]))


def _verify(
    paths: Sequence[Path], mx: _Matrices, descriptor: Descriptor, progress: Progress
) -> dict[tuple[int, int], float]:
    """Copy scores for the candidate pairs that local features confirm."""
    from search.descriptor import count_inliers, local_features, verified_score

    n = mx.n
    pair = np.full((n, n), -np.inf, np.float32)
    for start in range(0, n, BLOCK):
        pair[start : start + BLOCK] = mx.copy_block(start, min(n, start + BLOCK))
    pair = np.maximum(pair, pair.T)
    np.fill_diagonal(pair, -np.inf)
    k = min(VERIFY_CANDIDATES, n - 1)
    top = np.argpartition(-pair, k - 1, axis=1)[:, :k]
    candidates = {(min(a, b), max(a, b)) for a in range(n) for b in top[a].tolist()}
    progress(f"verifying {len(candidates)} candidate pairs with local features")
    features = []
    for path in paths:
        try:
            features.append(local_features(load_image(path, draft_size=(1024, 1024)).image))
        except ImageError:
            features.append(None)
    cal = descriptor.calibration
    high = min(0.999, cal.score(8.0)) if cal is not None else 0.9
    boost = {}
    for a, b in sorted(candidates):
        fa, fb = features[a], features[b]
        if fa is None or fb is None:
            continue
        v = verified_score(count_inliers(fa, fb))
        if v > 0:
            boost[(a, b)] = high + (1.0 - high) * (v - 0.5) * 2 * 0.999
    return boost


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
    boost: dict[tuple[int, int], float] = {}
    if config.verify:
        boost = _verify(prepared.paths, mx, descriptor, say)
        run.verified_pairs = len(boost)
        run.seconds["verify"] = time.perf_counter() - t0
    depth = ranking_depth(len(prepared.files), None, prepared.truth)
    ev = evaluate_scores(
        prepared.names,
        _scores(mx, depth, boost),
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
            say(f"learning the whitening from edits of up to 1000 of {len(prepared.files)} files")
        whitening, note = learn_set_whitening(prepared, model, seed=seed)
        seconds = time.perf_counter() - t0
    ev, run = score_set(
        prepared, config, whitening, threshold=threshold, seed=seed, model=model.name, progress=say
    )
    run.whitening_note = note if config.whiten else ""
    if seconds:
        run.seconds["whitening"] = seconds
    return ev, run
