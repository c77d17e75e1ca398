"""Query commands: search, similar, labels, stats (maintenance: cli/admin_cmds.py)."""

from __future__ import annotations

import functools
import os
import shlex
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from cli.errors import library_error_text
from cli.hits_output import emit_hits
from cli.main import cli
from cli.options import (
    CLI_FLAG_NAMES,
    IMAGE_HINT,
    FiniteRange,
    NonEmptyPath,
    NonEmptyText,
    bad_roi,
    check_input_file,
    flag_options,
    roi_option,
)
from cli.stdin_input import STDIN, image_with_bytes, stdin_image
from models.errors import ImgsearchError, RoiError
from models.roi import RegionOfInterest
from search.query import MAX_K, MAX_OFFSET, label_query_problem, singular_suggestion  # (limits)
from search.settings import Settings
from search.units import utf8_text, whole_number

if TYPE_CHECKING:  # the engine (SQLAlchemy, FAISS, ONNX) loads when a command runs, not
    # for its --help or a usage error
    from search.query import QualityFilter, SearchEngine

F = TypeVar("F", bound=Callable[..., Any])

JSON_HELP = (
    'Print JSON instead of a table: {"results": [{"rank", "score", "id", "path", "width", '
    '"height", "size", "labels": [{"name", "score"}], "exact", ...}]}.'
)


EMPTY_LIBRARY = (
    "no results: the library has no indexed images yet (run `imgsearch index DIR` with the "
    "folder of your photos)"
)


def clip_note(
    engine: SearchEngine,
    query: object,
    what: str = "results",
    min_score: float | None = None,
    flags: QualityFilter | None = None,
    exclude: int | None = None,
) -> str | None:
    """Why a video (or animated image) query found nothing: the library holds no (other)
    video, or the filter emptied it (:func:`search.query.empty_clip_note`)."""
    from search.query import empty_clip_note

    videos = engine.videos.count(exclude)
    other = exclude is not None
    return empty_clip_note(videos, min_score, flags, query=query, what=what, other=other)


def empty_library(engine: SearchEngine, found: object, as_json: bool) -> bool:
    """Whether an answer found nothing because nothing is indexed (said in words, as
    :data:`EMPTY_LIBRARY`; JSON answers stay as they are)."""
    return not found and not as_json and engine.store.vector_count() == 0


def user_errors(func: F) -> F:
    """Turn imgsearch's typed errors into a clear message and exit status 1, no traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RoiError as error:  # only --roi makes these (e.g. a pixel box beyond the image)
            raise bad_roi(str(error)) from None
        except ImgsearchError as error:
            raise click.ClickException(library_error_text(error)) from None

    return wrapper  # type: ignore[return-value]


@contextmanager
def open_engine(ctx: click.Context) -> Iterator[SearchEngine]:
    from search.query import SearchEngine

    settings: Settings = ctx.obj
    engine = SearchEngine.open(settings)
    try:
        yield engine
    finally:
        engine.close()


def quality_filter(flags: tuple[str, ...], exclude_flags: tuple[str, ...]) -> QualityFilter | None:
    """``--flag`` / ``--exclude-flag`` as the engine's filter (None: no filter)."""
    from search.query import QualityFilter

    return QualityFilter.parse(flags, exclude_flags, CLI_FLAG_NAMES)


def k_option(default: int) -> Callable[[F], F]:
    return click.option(
        "-k",
        "--k",
        "--top",
        "k",
        type=click.IntRange(1, MAX_K),
        default=default,
        show_default=True,
        help="Number of results.",
    )


min_score_option = click.option(
    "--min-score",
    type=FiniteRange(-1.0, 1.0),
    default=None,
    help="Only results whose score (the rank score that orders them, 1.0 for the same image; "
    "not the copy score) is at least this.",
)
json_option = click.option("--json", "as_json", is_flag=True, help=JSON_HELP)


@cli.command()
@click.argument("image", type=NonEmptyPath(dir_okay=False, path_type=Path, hint=IMAGE_HINT))
@roi_option("Search with a region of the query")
@k_option(10)
@min_score_option
@flag_options
@json_option
@click.pass_context
@user_errors
def search(
    ctx: click.Context,
    image: Path,
    roi: RegionOfInterest | None,
    k: int,
    min_score: float | None,
    flags: tuple[str, ...],
    exclude_flags: tuple[str, ...],
    as_json: bool,
) -> None:
    """Find the library images most similar to IMAGE (or to a region of it).

    IMAGE '-' reads the image from standard input (a pipe or a redirected file)."""
    check_input_file(image)  # said before the library and the model are opened
    query = stdin_image() if str(image) == STDIN else image
    from models import is_video_data, is_video_file

    wanted = quality_filter(flags, exclude_flags)
    with open_engine(ctx) as engine:
        hits = engine.search_image(query, roi=roi, k=k, min_score=min_score, flags=wanted)
        empty = empty_library(engine, hits, as_json)
        note = None
        video = is_video_data(query) if isinstance(query, bytes) else is_video_file(image)
        if not hits and not empty and video:  # JSON says it too
            note = clip_note(engine, image, min_score=min_score, flags=wanted)
    if empty:
        click.echo(EMPTY_LIBRARY)
        return
    if note and not as_json:
        click.echo(note)
        return
    emit_hits(
        hits,
        as_json,
        query={
            "image": utf8_text(str(image)),  # a name that is not UTF-8: \\xNN escapes
            "roi": roi.text() if roi else None,
            "k": k,
            "min_score": min_score,
            **(wanted.to_dict() if wanted else {}),
        },
        **({"note": note} if note else {}),
    )


@cli.command()
@click.argument(
    "path_or_id", type=NonEmptyPath(hint="give an image file or an image id", stored=True)
)
@k_option(10)
@min_score_option
@flag_options
@json_option
@click.pass_context
@user_errors
def similar(
    ctx: click.Context,
    path_or_id: str,
    k: int,
    min_score: float | None,
    flags: tuple[str, ...],
    exclude_flags: tuple[str, ...],
    as_json: bool,
) -> None:
    """Images most similar to a library image, given by id or by its file path (itself
    excluded; copies with the same bytes or pixels are marked exact).

    PATH_OR_ID: the image's id (as search results list it) or the path of its file; '-'
    reads the image from standard input and takes the library image with those bytes."""
    from search.query import ImageNotFoundError

    data = stdin_image("'PATH_OR_ID'") if path_or_id == STDIN else None
    wanted = quality_filter(flags, exclude_flags)
    with open_engine(ctx) as engine:
        try:
            if data is not None:
                image_id = image_with_bytes(engine, data)
            else:
                image_id = engine.records.image_id_for(path_or_id)
        except ImageNotFoundError as error:
            if whole_number(path_or_id) is None and not os.path.lexists(path_or_id):
                from models.files import url_hint  # a name of nothing: a usage error

                raise click.BadParameter(
                    f"{error}, and no file has that name{url_hint(path_or_id)}",
                    param_hint="'PATH_OR_ID'",
                ) from None
            if not Path(path_or_id).is_file():
                raise
            raise click.ClickException(  # any photo can be the query of a search
                f"{error} (not indexed, or not under this path): search with it instead: "
                f"imgsearch search {shlex.quote(path_or_id)}"
            ) from None
        hits = engine.similar(image_id, k=k, min_score=min_score, flags=wanted)
        info = engine.records.get_image(image_id)
        state = engine.records.file_state(image_id)
        note = None if state is None else engine.records.stored_note(image_id, state)
        video = not hits and info is not None and info.media == "video"
        why = clip_note(engine, image_id, "results", min_score, wanted, image_id) if video else None
    # as `lookup ID` says: a gone (or changed) file's answer comes from its stored vectors (it
    # said nothing), and a video is compared with videos only (it said "no results")
    if note is not None:
        click.echo(f"note: {note}", err=True)
    if why and not as_json:
        click.echo(why)
        return
    query = {"id": image_id, "k": k, "min_score": min_score, **(wanted.to_dict() if wanted else {})}
    emit_hits(hits, as_json, query=query, **({"note": why} if why else {}))


def _label_words(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """WORD checked before any work: too long, or a control character, is a usage error."""
    problem = label_query_problem(value)
    if problem is not None:
        raise click.BadParameter(problem)
    return value


@cli.command()
@click.argument("word", type=NonEmptyText("give a label word, e.g. ant"), callback=_label_words)
@k_option(50)
@click.option(
    "--offset",
    type=click.IntRange(0, MAX_OFFSET),
    default=0,
    help="Skip this many images (the next page: --offset 50 with the default -k).",
)
@json_option
@click.pass_context
@user_errors
def labels(ctx: click.Context, word: str, k: int, offset: int, as_json: bool) -> None:
    """Images with WORD as whole words of a top class label (score = that label's probability).

    How many images the label matches in all is said after them (--json: "total")."""
    with open_engine(ctx) as engine:
        hits = engine.search_labels(word, k=k, offset=offset)
        total = engine.records.count_labels(word)
        # a plural ("ants", a folder's name) labels nothing: say the singular that does
        labelled = engine.records.count_labels
        hint = None if total else singular_suggestion(word, lambda f: labelled(f) > 0)
    query = {"label": word, "k": k, "offset": offset}
    emit_hits(hits, as_json, query=query, label=word, total=total)
    if hint is not None:
        click.echo(
            f"no image is labelled {word!r}; labels are singular: imgsearch labels {hint}", err=True
        )
    if not as_json and total:
        shown = f"{offset + 1}-{offset + len(hits)}" if hits else f"none past the first {offset}"
        more = f" (the next: --offset {offset + len(hits)})" if offset + len(hits) < total else ""
        click.echo(f"images labelled {word!r}: {shown} of {total}{more}")
