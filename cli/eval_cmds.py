"""``imgsearch eval``: measure retrieval quality against ground truth; make hard copy sets.

``imgsearch eval FOLDER --truth FILE [--json] [--plot PNG] [--descriptor OPTIONS]`` is short
for ``eval run``. Files are compared the way a library compares them: ``--descriptor``
selects the options of :class:`search.descriptor.DescriptorConfig` (default: the library
defaults - query views, frames, learned whitening, label fusion); ``--descriptor plain`` is the
plain embedding with exact cosine (:func:`search.evaluation.plain_eval.model_embedder`).
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from cli.errors import writable_output
from cli.main import cli
from cli.options import MODEL_NAME, FiniteRange, NonEmptyPath, NonEmptyText
from models.errors import ImgsearchError
from search.descriptor import DUPLICATE_Z, DescriptorConfig, DescriptorError
from search.evaluation import (
    DEFAULT_PAIR_THRESHOLD,
    PLOT_FORMATS,
    TRUTH_FILENAME,
    DescriptorRun,
    Embedder,
    Evaluation,
    GroundTruth,
    evaluate_descriptor,
    evaluate_folder,
    load_truth,
    plot_evaluation,
)
from search.settings import Settings
from search.units import plural


def _plot_path(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """``--plot``'s file, refused (exit 2) unless its suffix names a format it is written in."""
    if value is not None and value.suffix.lower().lstrip(".") not in PLOT_FORMATS:
        raise click.BadParameter(
            f"{value} is not an image file name: end it in "
            + ", ".join(f".{f}" for f in PLOT_FORMATS),
            ctx=ctx,
            param=param,
        )
    return value


class _DefaultRunGroup(click.Group):
    """A group whose first argument, when it is not a subcommand, goes to ``run``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["run", *args]
        return super().parse_args(ctx, args)


@cli.group("eval", cls=_DefaultRunGroup, no_args_is_help=True)
def eval_group() -> None:
    """Evaluate search quality on a folder with ground truth (`eval FOLDER --truth FILE`),
    or generate a hard copy-detection set (`eval make-copies SRC OUT`)."""


def _embedder(settings: Settings) -> Embedder:
    """Where the vectors come from: the models package, plain (no library yet)."""
    from search.evaluation import model_embedder

    return model_embedder(
        settings.model,
        settings.model_path,
        threads=settings.threads,
        batch_size=settings.batch_size,
        decode_workers=settings.workers or 2,
    )


def _evaluate_descriptor(
    settings: Settings,
    gt: GroundTruth,
    config: DescriptorConfig,
    threshold: float | None,
    quiet: bool = False,
) -> tuple[Evaluation, DescriptorRun]:
    """Evaluate ``config`` with the settings' model (:mod:`search.evaluation.descriptor_eval`)."""
    from models import open_model

    model = open_model(settings.model, list(settings.model_path), threads=settings.threads)

    def say(msg: str) -> None:
        if not quiet:
            click.echo(msg, err=True)

    ev, run = evaluate_descriptor(gt, model, config, threshold=threshold, progress=say)
    return ev, run


def _say(message: str) -> None:
    click.echo(message, err=True)


def _resolve_truth(folder: Path, truth: Path | None, split: str | None) -> GroundTruth:
    """Find the ground truth (``--truth``, else FOLDER's or its parent's ground_truth.json);
    file names resolve against FOLDER, or FOLDER/images when the truth file sits in FOLDER."""
    if truth is None:
        for candidate in (folder / TRUTH_FILENAME, folder.parent / TRUTH_FILENAME):
            if candidate.is_file():
                truth = candidate
                break
        else:
            raise click.UsageError(f"no {TRUTH_FILENAME} in {folder} or its parent: pass --truth")
    truth_file = truth / TRUTH_FILENAME if truth.is_dir() else truth
    root = folder
    if truth_file.parent.resolve() == folder.resolve() and (folder / "images").is_dir():
        root = folder / "images"
    return load_truth(truth_file, root=root, split=split)


def _print_report(
    ev: Evaluation, took: float, model: str, run: dict[str, Any] | None = None
) -> None:
    click.echo(
        f"{ev.truth_name} ({ev.kind}): {ev.n_files} files, {ev.n_queries} queries, "
        f"model {model}, {took:.1f} s"
    )
    if run is not None:
        white = run["whitening"]
        learned = (
            f"{white['pairs']} pairs, {white['images']} images"
            if white
            else run["whitening_note"].removeprefix("whitening ") or "off"
        )
        cal = run["calibration"]
        click.echo(
            f"  descriptor {run['descriptor']}; whitening: {learned}; background "
            f"mean {cal['mean']}, sd {cal['sd']}"
        )
        if "indexing" in run:
            idx, q = run["indexing"], run["query_ms"]
            click.echo(
                f"  library: {idx['added']} indexed, {idx['failed']} failed in "
                f"{idx['seconds']} s ({idx['images_per_second']} img/s incl. learning); "
                f"query p50 {q['p50']} ms, p90 {q['p90']} ms"
            )
    for key, value in ev.metrics.items():
        click.echo(f"  {key:<15}{value:8.4f}")
    if ev.missing:
        shown = ", ".join(ev.missing[:5])
        click.echo(f"  {len(ev.missing)} file(s) could not be embedded: {shown}")
    if ev.kind != "clusters":
        return
    p99 = "none reaches 0.99" if ev.p99_threshold is None else f"score >= {ev.p99_threshold:.4f}"
    if ev.p99_threshold is not None and run is not None:
        cal = run["calibration"]
        p99 += f" (duplicate z {(ev.p99_threshold - cal['mean']) / cal['sd']:.2f})"
    click.echo(f"  pair threshold {ev.threshold:.3f}; P99 threshold: {p99}")
    wide = max([28, *(len(edit) + 1 for edit in ev.per_edit)])  # whole names: edits differ
    click.echo(f"\n  {'edit':<{wide}}{'n':>5}{'recall@1':>10}{'cos(orig)':>11}{'found@P99':>11}")
    rows = sorted(ev.per_edit.items(), key=lambda kv: (kv[1]["recall@1"], kv[0]))
    for edit, row in rows:
        cos = "-" if row["mean_cosine"] is None else f"{row['mean_cosine']:.3f}"
        click.echo(
            f"  {edit:<{wide}}{row['n']:>5}{row['recall@1']:>10.3f}{cos:>11}"
            f"{row['detected_at_p99']:>11.3f}"
        )
    if ev.misses:
        click.echo(f"\n  {plural(len(ev.misses), 'copy')} without their original at rank 1; worst:")
        for miss in ev.misses[:10]:
            rank = "beyond depth" if miss["rank"] is None else f"rank {miss['rank']}"
            click.echo(
                f"    {miss['copy']}: {rank}, cos {miss['cosine']}; top {miss['top']} "
                f"({miss['top_score']})"
            )


@eval_group.command("run")
@click.argument("folder", type=NonEmptyPath(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--truth",
    type=click.Path(exists=True, path_type=Path),
    help="ground_truth.json (groups / clusters / items). [default: FOLDER's or its parent's]",
)
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@click.option(
    "--plot",
    type=NonEmptyPath(dir_okay=False, path_type=Path, hint="give a file name"),
    callback=lambda ctx, param, value: _plot_path(ctx, param, value),
    help="Write the PR curve to this file: .png, .svg or .pdf (the format follows the suffix).",
)
@click.option(
    "--threshold",
    type=FiniteRange(-1.0, 1.0),
    help="Score threshold for pair precision/recall on duplicate sets [default: plain: the "
    f"dedup threshold setting, else {DEFAULT_PAIR_THRESHOLD}; other descriptors: the "
    f"calibrated duplicate decision, duplicate z {DUPLICATE_Z:g}].",
)
@click.option(
    "--split",
    type=NonEmptyText("give a split name (e.g. val), or leave it out"),
    help="Only items of this split (labelled ground truth, e.g. 'val').",
)
@click.option(
    "--descriptor",
    "descriptor_text",
    default=None,
    help="How images are compared [default: the library's options where there is a "
    "library, else default]: default (the library defaults), plain (one plain "
    "embedding), or comma-separated changes: rotations=1|2|4, frames=on|off, whiten=on|off, "
    "labels=WEIGHT, verify=on|off (e.g. 'default,verify=on' or 'plain,frames=on'). "
    "'library' (optionally 'library,OPTIONS') indexes the files into a fresh library and "
    "measures its searches: the code path of `imgsearch search`, the web UI and the API.",
)
@click.option(
    "--model",
    "model_name",
    type=MODEL_NAME,
    help="Catalog model to embed with. [default: IMGSEARCH_MODEL, else the library's model, "
    "else mobilenet_v3_small_100]",
)
@click.pass_obj
def run_cmd(
    settings: Settings,
    folder: Path,
    truth: Path | None,
    as_json: bool,
    plot: Path | None,
    threshold: float | None,
    split: str | None,
    descriptor_text: str | None,
    model_name: str | None,
) -> None:
    """Embed FOLDER's images and score retrieval against the ground truth."""
    from search.library import library_descriptor, library_model_name, model_search_path

    # the library's model, folder and descriptor options where there is a library (README:
    # "with the library's model and settings"; a library switched to another model was
    # evaluated with the default one)
    settings = replace(
        settings,
        model_path=model_search_path(settings),
        model=model_name or settings.model or library_model_name(settings),
    )
    inherited = descriptor_text is None  # the library's options, not the user's
    if descriptor_text is None:
        descriptor_text = library_descriptor(settings) or "default"
    run: dict[str, Any] | None = None
    if plot is not None:
        writable_output(plot, "the plot")
    try:
        library_path = descriptor_text.startswith("library")
        if library_path:
            descriptor_text = descriptor_text.removeprefix("library").lstrip(",:") or "default"
        config = DescriptorConfig.parse(descriptor_text)
        if config.crops and not library_path and inherited:  # a library's crops=on: stored
            library_path = True  # crops are only in a library, so measured through one
        elif config.crops and not library_path:  # stored crops: only a library has them
            raise click.BadParameter(
                f"crops are measured through a library: --descriptor 'library,{descriptor_text}'",
                param_hint="'--descriptor'",
            )
        gt = _resolve_truth(folder, truth, split)
        if threshold is not None and gt.kind != "clusters":  # it was dropped without a word
            raise click.BadParameter(
                f"is for copy sets (clusters ground truth: pair precision and recall); "
                f"{gt.name} is a '{gt.kind}' set: leave it out",
                param_hint="'--threshold'",
            )
        start = time.perf_counter()
        if library_path:
            from cli.eval_library import evaluate_library

            ev, run = evaluate_library(
                settings,
                gt,
                threshold=threshold,
                descriptor=config.describe(),
                progress=None if as_json else _say,
            )
            model = run["model"]
            run.pop("query_seconds", None)  # per file: for the bench
            run["local_check"].pop("checked_queries", None)
            if plot is not None:
                plot_evaluation(ev, plot)
        elif config.is_plain:
            embed = _embedder(settings)
            ev = evaluate_folder(
                gt, embed, threshold if threshold is not None else settings.dedup_threshold, plot
            )
            model = getattr(embed, "model_name", settings.model or "default")
        else:
            ev, details = _evaluate_descriptor(settings, gt, config, threshold, quiet=as_json)
            run, model = details.details(), details.model
            if plot is not None:
                plot_evaluation(ev, plot)
        took = time.perf_counter() - start
    except DescriptorError as exc:
        raise click.BadParameter(str(exc), param_hint="--descriptor") from exc
    except ImgsearchError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        out = ev.to_dict()
        out["details"].update(model=model, seconds=round(took, 2))
        if run is not None:
            out["details"]["descriptor"] = run
        click.echo(json.dumps(out, indent=2))
    else:
        _print_report(ev, took, model, run)
    if plot is not None and not as_json:
        click.echo(f"plot: {plot}")
