"""``imgsearch embed`` and ``imgsearch classify`` (``models list``: :mod:`cli.models_list`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import click
import numpy as np

from cli.main import cli
from cli.options import (
    IMAGE_HINT,
    MODEL_NAME,
    NonEmptyPath,
    bad_roi,
    failed_status,
    names_option,
    ranged_option,
    roi_option,
)
from cli.stdin_input import stdin_sources
from cli.video_embed import (
    embed_videos,
    embedding_entry,
    is_video_path,
    refuse_unused_options,
)
from models import (
    DEFAULT_MODEL_NAME,
    CategoryNameError,
    ImageClassifier,
    ImageClassifierOptions,
    ImageClassifierResult,
    ImageEmbedder,
    ImageEmbedderOptions,
    ImageEmbedderResult,
    ImageError,
    ImgsearchError,
    RegionOfInterest,
)
from search.units import plural, utf8_text

CHUNK = 256  # images per embed_batch call, so output streams for long lists


def settings_of(ctx: click.Context) -> Any:
    settings = ctx.find_root().obj
    if settings is None:  # invoked without the root group's callback (tests)
        from search.settings import Settings

        settings = Settings.from_env()
    return settings


def search_path_of(ctx: click.Context) -> list[Any]:
    """The model search path, with the folder the library remembers (when there is one)."""
    from search.library import model_search_path

    return list(model_search_path(settings_of(ctx)))


def _model_name(ctx: click.Context, option: str | None, *, classes: bool = False) -> str:
    """``--model``, IMGSEARCH_MODEL, the library's model (where there is a library; for
    ``classes``, one with a class head), the default: `embed` in a library indexed with
    another model used the default one."""
    settings = settings_of(ctx)
    if option or settings.model:
        return option or settings.model  # type: ignore[return-value]
    from search.library import has_labels, library_model_name

    name = library_model_name(settings)
    if name and classes and not has_labels(name, tuple(search_path_of(ctx))):
        return DEFAULT_MODEL_NAME
    return name or DEFAULT_MODEL_NAME


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _error_entry(path: str, exc: ImgsearchError) -> dict[str, Any]:
    reason = getattr(exc, "reason", type(exc).__name__)
    message = getattr(exc, "message", str(exc))
    return {"path": path, "error": message, "reason": reason}


def _emit(obj: dict[str, Any], as_json: bool, text: str) -> None:
    click.echo(json.dumps(obj) if as_json else text)


def _run_batches(
    ctx: click.Context,
    images: Sequence[str],
    roi: RegionOfInterest | None,
    run_batch: Callable[[Sequence[str], list | None], list],
    report: Callable[[str, Any], tuple[dict[str, Any], str]],
    as_json: bool,
    video_hint: str | None = None,
) -> None:
    """Run ``run_batch`` over chunks of ``images``; print one entry per image (an error entry
    for a bad file, the rest still processed; ``video_hint`` added to a video's) and exit
    non-zero at the end if any failed (:func:`failed_status`)."""
    failed = 0
    roi_errors: list[str] = []
    sources = stdin_sources(images)  # "-": the image on standard input
    for chunk in _chunks(images, CHUNK):
        rois = [roi] * len(chunk) if roi is not None else None
        read = [sources.get(path, path) for path in chunk]
        for path, result in zip(chunk, run_batch(read, rois), strict=True):
            if isinstance(result, ImageError):
                failed += 1
                if result.reason == "bad_roi":
                    roi_errors.append(str(result))
                elif video_hint and result.reason == "not_an_image" and is_video_path(path):
                    note = f"{result.message}; {video_hint}"
                    result = ImageError(note, source=result.source, reason=result.reason)
                line = utf8_text(f"{path}\tERROR: {result}")
                _emit(_error_entry(utf8_text(path), result), as_json, line)
            else:  # a name that is not UTF-8 with \xNN escapes, never a lone surrogate
                entry, text = report(utf8_text(path), result)
                _emit(entry, as_json, text)
    if roi_errors:  # the region does not fit: a usage error, like a malformed one (exit 2)
        more = f" (and {len(roi_errors) - 1} more)" if len(roi_errors) > 1 else ""
        raise bad_roi(roi_errors[0] + more)
    if failed:
        click.echo(f"{failed} of {plural(len(images), 'image')} failed", err=True)
        ctx.exit(failed_status(images))


# ---------------------------------------------------------------------------- embed


def _embed_text(path: str, result: ImageEmbedderResult) -> str:
    vec = result.embeddings[0].embedding
    head = ", ".join(f"{v:.4f}" if vec.dtype.kind == "f" else str(int(v)) for v in vec[:6])
    norm = float(np.linalg.norm(vec.astype(np.float64)))
    return f"{path}\tdim={vec.size}\tnorm={norm:.4f}\t[{head}, ...]"


@cli.command("embed")
@click.argument("images", nargs=-1, required=True, type=NonEmptyPath(hint=IMAGE_HINT))
@click.option(
    "--model",
    type=MODEL_NAME,
    help="Catalog model name. [default: IMGSEARCH_MODEL, else the library's model, else "
    f"{DEFAULT_MODEL_NAME}]",
)
@roi_option("Region of interest")
@click.option("--quantize", is_flag=True, help="int8 scalar-quantised embeddings.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per image.")
@click.option(
    "--running-mode",
    type=click.Choice(["image", "video"]),
    default="image",
    show_default=True,
    help="video: IMAGES are video files; one embedding per sampled frame with its timestamp.",
)
@ranged_option(
    "--interval",
    default=2.0,
    low=0.1,
    high=3600,
    help_text="video: seconds between sampled frames, or a frame more (and one after every cut).",
)
@click.pass_context
def embed_cmd(
    ctx: click.Context,
    images: tuple[str, ...],
    model: str | None,
    roi: RegionOfInterest | None,
    quantize: bool,
    as_json: bool,
    running_mode: str,
    interval: float,
) -> None:
    """Embed IMAGES; bad files get an error entry and a non-zero exit code at the end.

    With --running-mode video, IMAGES are video files: one embedding per sampled frame.
    An IMAGES name '-' reads that image from standard input (a pipe or a redirected file)."""
    refuse_unused_options(ctx, running_mode, roi)
    settings = settings_of(ctx)
    options = ImageEmbedderOptions(
        model=_model_name(ctx, model),
        model_path=search_path_of(ctx),
        quantize=quantize,
        threads=settings.threads,
        max_pixels=settings.max_image_pixels,
    )
    if running_mode == "video":
        try:
            failed = embed_videos(options, images, interval, as_json, stdin_sources(images))
        except (ImgsearchError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
        if failed:
            ctx.exit(failed_status(images))
        return
    try:
        embedder = ImageEmbedder(options)
    except (ImgsearchError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None

    def report(path: str, result: ImageEmbedderResult) -> tuple[dict[str, Any], str]:
        entry = {
            "path": path,
            "model": embedder.model.name,
            "running_mode": "image",
            "embeddings": [embedding_entry(e) for e in result.embeddings],
        }
        return entry, _embed_text(path, result)

    with embedder:
        hint = "it is a video: embed it with --running-mode video"
        _run_batches(ctx, images, roi, embedder.embed_batch, report, as_json, hint)


# ---------------------------------------------------------------------------- classify


def _classify_text(path: str, result: ImageClassifierResult) -> str:
    cats = result.classifications[0].categories
    lines = [path]
    if not cats:
        lines.append("    (no category above the threshold)")
    lines += [f"    {c.score:7.4f}  {c.index:5d}  {c.display_name}" for c in cats]
    together: dict[str, list[float]] = {}
    for c in cats:
        together.setdefault(str(c.display_name), []).append(float(c.score or 0.0))
    lines += [  # MediaPipe's categories are the model's classes: ImageNet names two "crane"s
        f"    ({name}: {len(scores)} classes of the model share this name, "
        f"{sum(scores):.4f} together)"
        for name, scores in together.items()
        if len(scores) > 1
    ]
    return "\n".join(lines)


def _check_max_results(_ctx: click.Context, _param: click.Parameter, value: int) -> int:
    if value == 0:
        raise click.BadParameter("0 categories: give a number >= 1, or -1 for all")
    return value


@cli.command("classify")
@click.argument("images", nargs=-1, required=True, type=NonEmptyPath(hint=IMAGE_HINT))
@click.option(
    "--model",
    type=MODEL_NAME,
    help="Catalog model name (needs a class head). [default: IMGSEARCH_MODEL, else the "
    f"library's model when it has classes, else {DEFAULT_MODEL_NAME}]",
)
@ranged_option(
    "--max-results",
    default=5,
    low=-1,
    callback=_check_max_results,
    help_text="Categories per image: 1 or more, or -1 for all.",
)
@ranged_option(
    "--score-threshold",
    default=0.0,
    low=0.0,
    high=1.0,
    help_text="Drop categories scoring below this.",
)
@names_option("--allow", "Only these category names (repeatable).")
@names_option("--deny", "Never these category names (repeatable).")
@click.option("--locale", default="en", show_default=True, help="Display-name locale.")
@roi_option("Region of interest")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per image.")
@click.pass_context
def classify_cmd(
    ctx: click.Context,
    images: tuple[str, ...],
    model: str | None,
    max_results: int,
    score_threshold: float,
    allow: tuple[str, ...],
    deny: tuple[str, ...],
    locale: str,
    roi: RegionOfInterest | None,
    as_json: bool,
) -> None:
    """ImageNet categories of IMAGES (background never listed).

    An IMAGES name '-' reads that image from standard input (a pipe or a redirected file)."""
    if allow and deny:
        raise click.UsageError("--allow and --deny are mutually exclusive")
    settings = settings_of(ctx)
    options = ImageClassifierOptions(
        model=_model_name(ctx, model, classes=True),
        model_path=search_path_of(ctx),
        max_results=max_results,
        score_threshold=score_threshold,
        category_allowlist=list(allow) or None,
        category_denylist=list(deny) or None,
        display_names_locale=locale,
        threads=settings.threads,
        max_pixels=settings.max_image_pixels,
    )
    try:
        classifier = ImageClassifier(options)
    except CategoryNameError as exc:  # no category of the model, or background allowed
        option = "--allow" if exc.option == "category_allowlist" else "--deny"
        raise click.BadParameter(exc.detail, param_hint=f"'{option}'") from None
    except (ImgsearchError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None

    def report(path: str, result: ImageClassifierResult) -> tuple[dict[str, Any], str]:
        cats = result.classifications[0].categories
        entry = {
            "path": path,
            "model": classifier.model.name,
            "categories": [
                {
                    "index": c.index,
                    "score": c.score,
                    "category_name": c.category_name,
                    "display_name": c.display_name,
                }
                for c in cats
            ],
        }
        return entry, _classify_text(path, result)

    with classifier:
        hint = "it is a video: classify a still of it (embed --running-mode video: its frames)"
        _run_batches(ctx, images, roi, classifier.classify_batch, report, as_json, hint)
