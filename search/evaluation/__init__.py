"""Offline evaluation: ground-truth files, metrics, copy sets, evaluation runs. Nothing on
the runtime path imports this package.

Names load on first use (PEP 562): importing the package costs nothing until a name
is used."""

from __future__ import annotations

from typing import TYPE_CHECKING

from search.lazy import lazy_names

_SOURCES: dict[str, str] = {
    "make_copies": "search.evaluation.sets.copies",
    "HOLDOUT_POOLS": "search.evaluation.sets.holdout",
    "HOLDOUT_RECIPES": "search.evaluation.sets.holdout",
    "make_holdout": "search.evaluation.sets.holdout",
    "HOLDOUT_EDITS": "search.evaluation.sets.holdout_edits",
    "burst_shot": "search.evaluation.sets.holdout_edits",
    "draw_scene": "search.evaluation.sets.scenes",
    "render_scene": "search.evaluation.sets.scenes",
    "scene_spec": "search.evaluation.sets.scenes",
    "DescriptorRun": "search.evaluation.descriptor_eval",
    "evaluate_descriptor": "search.evaluation.descriptor_eval",
    "learn_set_whitening": "search.evaluation.descriptor_eval",
    "prepare_set": "search.evaluation.descriptor_eval",
    "score_set": "search.evaluation.descriptor_eval",
    "_Matrices": "search.evaluation.descriptor_scores",
    "_scores": "search.evaluation.descriptor_scores",
    "EDITS": "search.evaluation.sets.edits",
    "apply_edits": "search.evaluation.sets.edits",
    "CopiesError": "search.evaluation.errors",
    "TruthError": "search.evaluation.errors",
    "Embedder": "search.evaluation.plain_eval",
    "evaluate": "search.evaluation.plain_eval",
    "evaluate_folder": "search.evaluation.plain_eval",
    "model_embedder": "search.evaluation.plain_eval",
    "run_evaluation": "search.evaluation.plain_eval",
    "plot_evaluation": "search.evaluation.plain_eval",
    "PLOT_FORMATS": "search.evaluation.plain_eval",
    "DEFAULT_PAIR_THRESHOLD": "search.evaluation.scoring",
    "Evaluation": "search.evaluation.scoring",
    "Scores": "search.evaluation.scoring",
    "evaluate_scores": "search.evaluation.scoring",
    "ranking_depth": "search.evaluation.scoring",
    "GroundTruth": "search.evaluation.truth",
    "TRUTH_FILENAME": "search.evaluation.truth",
    "load_truth": "search.evaluation.truth",
    "parse_truth": "search.evaluation.truth",
    "DEGRADATIONS": "search.evaluation.sets.generated_sets",
    "FOREIGN_KINDS": "search.evaluation.sets.generated_sets",
    "degrade": "search.evaluation.sets.generated_sets",
    "foreign_image": "search.evaluation.sets.generated_sets",
    "write_foreign": "search.evaluation.sets.generated_sets",
    "VideoSet": "search.evaluation.sets.generated_sets",
    "animation_stills": "search.evaluation.sets.animations",
    "make_animation": "search.evaluation.sets.animations",
    "write_animation": "search.evaluation.sets.animations",
    "make_video_set": "search.evaluation.sets.generated_sets",
    "take_stills": "search.evaluation.sets.generated_sets",
}

__all__ = [
    "DEFAULT_PAIR_THRESHOLD",
    "DEGRADATIONS",
    "EDITS",
    "FOREIGN_KINDS",
    "HOLDOUT_EDITS",
    "HOLDOUT_POOLS",
    "HOLDOUT_RECIPES",
    "PLOT_FORMATS",
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
    "animation_stills",
    "apply_edits",
    "burst_shot",
    "degrade",
    "draw_scene",
    "evaluate",
    "evaluate_descriptor",
    "evaluate_folder",
    "evaluate_scores",
    "foreign_image",
    "learn_set_whitening",
    "load_truth",
    "make_animation",
    "make_copies",
    "make_holdout",
    "make_video_set",
    "model_embedder",
    "parse_truth",
    "plot_evaluation",
    "prepare_set",
    "ranking_depth",
    "render_scene",
    "run_evaluation",
    "scene_spec",
    "score_set",
    "take_stills",
    "write_animation",
    "write_foreign",
]


__getattr__, __dir__ = lazy_names(__name__, _SOURCES, globals())

if TYPE_CHECKING:  # type checkers and IDEs see the names eagerly
    from search.evaluation.descriptor_eval import (
        DescriptorRun,
        evaluate_descriptor,
        learn_set_whitening,
        prepare_set,
        score_set,
    )
    from search.evaluation.descriptor_scores import _Matrices, _scores
    from search.evaluation.errors import CopiesError, TruthError
    from search.evaluation.plain_eval import (
        PLOT_FORMATS,
        Embedder,
        evaluate,
        evaluate_folder,
        model_embedder,
        plot_evaluation,
        run_evaluation,
    )
    from search.evaluation.scoring import (
        DEFAULT_PAIR_THRESHOLD,
        Evaluation,
        Scores,
        evaluate_scores,
        ranking_depth,
    )
    from search.evaluation.sets.animations import (
        animation_stills,
        make_animation,
        write_animation,
    )
    from search.evaluation.sets.copies import make_copies
    from search.evaluation.sets.edits import EDITS, apply_edits
    from search.evaluation.sets.generated_sets import (
        DEGRADATIONS,
        FOREIGN_KINDS,
        VideoSet,
        degrade,
        foreign_image,
        make_video_set,
        take_stills,
        write_foreign,
    )
    from search.evaluation.sets.holdout import HOLDOUT_POOLS, HOLDOUT_RECIPES, make_holdout
    from search.evaluation.sets.holdout_edits import HOLDOUT_EDITS, burst_shot
    from search.evaluation.sets.scenes import draw_scene, render_scene, scene_spec
    from search.evaluation.truth import TRUTH_FILENAME, GroundTruth, load_truth, parse_truth
