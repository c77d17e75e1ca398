"""Offline evaluation: ground-truth files, metrics, copy sets, evaluation runs. Nothing on
the runtime path imports this package."""

from __future__ import annotations

from search.evaluation.copies import make_copies
from search.evaluation.descriptor_eval import (
    DescriptorRun,
    evaluate_descriptor,
    learn_set_whitening,
    prepare_set,
    score_set,
)
from search.evaluation.descriptor_scores import _Matrices, _scores
from search.evaluation.edits import EDITS, apply_edits
from search.evaluation.errors import CopiesError, TruthError
from search.evaluation.plain_eval import (
    Embedder,
    evaluate,
    evaluate_folder,
    model_embedder,
    run_evaluation,
)
from search.evaluation.plot import plot_evaluation
from search.evaluation.scoring import (
    DEFAULT_PAIR_THRESHOLD,
    Evaluation,
    Scores,
    evaluate_scores,
    ranking_depth,
)
from search.evaluation.truth import TRUTH_FILENAME, GroundTruth, load_truth, parse_truth
from search.evaluation.video_sets import VideoSet, make_video_set, take_stills

__all__ = [
    "DEFAULT_PAIR_THRESHOLD",
    "EDITS",
    "TRUTH_FILENAME",
    "CopiesError",
    "DescriptorRun",
    "Embedder",
    "Evaluation",
    "GroundTruth",
    "Scores",
    "TruthError",
    "VideoSet",
    "_Matrices",
    "_scores",
    "apply_edits",
    "evaluate",
    "evaluate_descriptor",
    "evaluate_folder",
    "evaluate_scores",
    "learn_set_whitening",
    "load_truth",
    "make_copies",
    "make_video_set",
    "model_embedder",
    "parse_truth",
    "plot_evaluation",
    "prepare_set",
    "ranking_depth",
    "run_evaluation",
    "score_set",
    "take_stills",
]
