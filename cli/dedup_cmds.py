"""Duplicate reports and reverse lookup: ``imgsearch dedup`` and ``imgsearch lookup``.

Neither command deletes, moves or writes anything but the report file it is asked for.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click
from tqdm import tqdm

from cli.dedup_notes import warn_of_the_disk
from cli.errors import writable_output
from cli.hits_output import lookup_json, lookup_table
from cli.main import cli
from cli.options import (
    FiniteRange,
    NonEmptyPath,
    check_input_file,
    dash_is_stdout,
    ranged_option,
)
from cli.search_cmds import EMPTY_LIBRARY, clip_note, empty_library, open_engine, user_errors
from cli.stdin_input import STDIN, stdin_image
from models.errors import ImgsearchError
from search.dedup import KEEPER_RULES, DedupError, check_keeper_rules
from search.descriptor import DUPLICATE_Z
from search.units import whole_number

if TYPE_CHECKING:  # the engine loads when a command runs, not for --help or a usage error
    from search.query import SearchEngine

THRESHOLD_HELP = (
    "Copy score (cosine in the library's descriptor space) from which two images count as "
    "near-duplicates [default: IMGSEARCH_DEDUP_THRESHOLD, else the library's calibrated "
    f"decision: {DUPLICATE_Z:g} standard deviations above its background; see README]."
)


@cli.command()
@click.option("--threshold", type=FiniteRange(0.0, 1.0, min_open=True), help=THRESHOLD_HELP)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "csv", "json"]),
    default=None,
    help="Report format [default: from --output's suffix, else json on stdout].",
)
@click.option(
    "-o",
    "--output",
    type=NonEmptyPath(path_type=Path, dir_okay=False, hint="give a file name"),
    callback=lambda _ctx, _param, value: dash_is_stdout(value),
    help="Write the report here (atomically) instead of stdout ('-': stdout); html needs a "
    "file. Missing folders are created.",
)
@click.option(
    "--keeper-rules",
    default=",".join(KEEPER_RULES),
    show_default=True,
    callback=lambda _ctx, _param, value: _keeper_rules(value),
    help="Order of the rules that choose the copy to keep (any of exif, frame, format, "
    "resolution, oldest, filesize; see README).",
)
@click.option(
    "--linkage",
    type=click.Choice(["star", "complete"]),
    default="star",
    show_default=True,
    help="star: every member is similar to its keeper; complete: every pair in a group is.",
)
@click.option("--exact-only", is_flag=True, help="Only byte-identical copies (same sha256).")
@click.option(
    "--verify",
    is_flag=True,
    help="Confirm borderline pairs with local features (ORB + RANSAC): heavy crops and "
    "screenshots join their group.",
)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="The same as --format json.")
@click.pass_context
@user_errors
def dedup(
    ctx: click.Context,
    threshold: float | None,
    fmt: str | None,
    output: Path | None,
    keeper_rules: tuple[str, ...],
    linkage: str,
    exact_only: bool,
    verify: bool,
    no_progress: bool,
    as_json: bool,
) -> None:
    """Report exact and near-duplicate groups with a suggested keeper. Deletes nothing.

    Groups never chain: every member is at least THRESHOLD similar to its group's keeper
    (and, with --linkage complete, to every other member) - except, with --verify, a member
    that local features confirmed under it (marked verified, its own score shown).
    """
    from search.dedup import to_json, write_csv, write_report
    from search.query import library_duplicates

    if as_json and fmt not in (None, "json"):
        raise click.UsageError(f"--json and --format {fmt} ask for two formats: give one")
    suffix = output.suffix.lstrip(".").lower() if output else "json"
    fmt = "json" if as_json else fmt or {"htm": "html"}.get(suffix, suffix)  # as `clusters -o`
    if fmt not in ("html", "csv", "json"):
        raise click.UsageError(
            f"cannot tell the format from {output}: name it .html, .csv or .json, or give --format"
        )
    if fmt == "html" and output is None:
        raise click.UsageError("an html report needs --output FILE.html")
    near_only = [
        name for name, given in (("--threshold", threshold), ("--verify", verify)) if given
    ]
    if exact_only and near_only:  # they were dropped without a word
        raise click.UsageError(
            f"{' and '.join(near_only)} {'decides' if len(near_only) == 1 else 'decide'} "
            "near-duplicates; --exact-only reports exact copies only: give one or the other"
        )
    if output is not None:  # checked (missing folders made) before minutes of work
        writable_output(output, "the report")
    with open_engine(ctx) as engine:
        bar = tqdm(
            desc="dedup", unit="img", disable=no_progress or not sys.stderr.isatty(), leave=False
        )

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        with bar:
            result = library_duplicates(
                engine,
                threshold=threshold,
                keeper_rules=keeper_rules,  # parsed and checked by its option's callback
                linkage=linkage,
                near=not exact_only,
                progress=progress,
                verify=verify,
            )
        videos = engine.videos.duplicates() if not exact_only else []
        if output is None:
            if fmt == "csv":
                write_csv(result, click.get_text_stream("stdout"), videos)
            else:
                report = to_json(result) | {"video_groups": videos}
                click.echo(json.dumps(report, indent=1, ensure_ascii=False))
        else:
            thumbnails = None
            if fmt == "html":
                thumbnails = library_thumbnails(engine)
            write_report(result, output, fmt, thumbnail=thumbnails, video_groups=videos)
    groups, copies = len(result.groups), result.duplicate_count
    warn_of_the_disk(result, videos)
    if exact_only:
        kind = "exact copy" if copies == 1 else "exact copies"
        message = f"{groups} group(s), {copies} {kind} (same bytes)"
    else:
        shown = (
            f"{result.threshold:.3f}" if result.threshold >= 0.001 else f"{result.threshold:.1e}"
        )
        message = f"{groups} group(s), {copies} duplicate(s) at copy score >= {shown}"
    # members below the threshold that joined (their pairs with the keeper confirmed; those
    # attached lower down are counted next)
    joined = sum(m.verified and m.via is None for g in result.groups for m in g.members)
    if joined:
        message += f" or confirmed by local features ({joined} of them)"
    attached = result.stats.get("attached")
    if attached:  # images no group took, confirmed with a member lower down (z 2-3)
        message += f"; {attached} more joined a group through a member their key points match"
    refuted = result.stats.get("verify_refuted")
    if refuted:  # pairs over it that neither key points nor layouts found one picture in
        message += f"; {refuted} pair(s) over it refuted by local features and layouts"
    if videos:
        message += f"; {len(videos)} group(s) of copies of a video"
    click.echo(message + (f"; report: {output}" if output else ""), err=True)


def _keeper_rules(value: str) -> tuple[str, ...]:
    """``--keeper-rules`` parsed before any work: empty ("$UNSET") or an unknown or repeated
    rule is a usage error naming the option."""
    if not value.replace(",", "").strip():
        raise click.BadParameter(
            f"is empty (an unset variable?): give rules in order, e.g. {','.join(KEEPER_RULES)}"
        )
    try:
        return check_keeper_rules(value)
    except DedupError as error:
        raise click.BadParameter(str(error)) from None


def library_thumbnails(engine: SearchEngine) -> Callable[[int], bytes | None]:
    """Thumbnails of a report, by image id, from the library's cache (made once, reused by
    the web UI); None for a missing or unreadable file."""
    from search.library import SIZES, ThumbnailCache
    from search.query import disk_change

    cache = ThumbnailCache.of_library(
        engine.settings.thumbnail_dir,
        read_only=engine.store.read_only,
        max_pixels=engine.settings.max_image_pixels,
    )

    def thumbnail(image_id: int) -> bytes | None:
        try:  # one column query (file and sha256), as the web UI's thumbnails
            file = engine.records.image_file(image_id)
            if file is None or disk_change(file.path) == "gone":
                return None
            return cache.get(image_id, file.path, size=min(SIZES), sha256=file.sha256).read_bytes()
        except (ImgsearchError, OSError):  # a missing or unreadable file has no thumbnail
            return None

    return thumbnail


@cli.command("lookup")
@click.argument(
    "image",
    metavar="IMAGE",
    type=NonEmptyPath(path_type=Path, dir_okay=False, hint="give an image file or an image id"),
)
@click.option("--threshold", type=FiniteRange(0.0, 1.0, min_open=True), help=THRESHOLD_HELP)
@ranged_option(
    "--others",
    default=5,
    low=0,
    high=100,
    help_text="How many of the nearest images below the threshold to list as well.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='JSON: {"threshold", "query", "counts", "results": [{..., "match": "exact"|"near"|'
    '"similar", "evidence"}]}.',
)
@click.pass_context
@user_errors
def lookup_command(
    ctx: click.Context, image: Path, threshold: float | None, others: int, as_json: bool
) -> None:
    """Where is IMAGE in the library, edited or not? Exact copies, near-duplicates, others.

    IMAGE: a photo or video file, or a library image's id (as search results list it: the
    image itself is then left out, its copies and others listed). A
    lookup checks the key points of its doubtful candidates even when a sure copy is found
    (a search stops there): slower than `search`, it finds more of the copies. IMAGE '-'
    reads the image from standard input (a pipe or a redirected file)."""
    image_id = None if image.exists() else whole_number(str(image))
    if image_id is None:
        check_input_file(image)  # unreadable (a locked folder): the lookup says so, exit 1
    query = stdin_image() if str(image) == STDIN else image
    # after the argument is checked: ~0.6 s of imports
    from search.query import EXACT, MODEL_UNAVAILABLE_NOTE, NEAR, SIMILAR, lookup, lookup_image
    from web.text import threshold_text

    with open_engine(ctx) as engine:
        if image_id is None:
            result = lookup(engine, query, threshold=threshold, others=others)
        else:  # its file, or its stored vectors when the file is gone or changed
            result = lookup_image(engine, image_id, threshold=threshold, others=others)
        empty = empty_library(engine, result.matches, as_json)
        state = result.file_state  # answered from its stored vectors: why
        note = engine.records.stored_note(image_id, state) if state and image_id else None
        if result.model_unavailable:  # as a search by its id in the API says
            note = MODEL_UNAVAILABLE_NOTE.format(image_id=image_id)
        why = clip_note(engine, image, "matches", exclude=image_id) if not result.matches else None
    if empty:
        click.echo(EMPTY_LIBRARY)
        return
    if note is not None:
        click.echo(f"note: {note}", err=True)
    if as_json:
        click.echo(json.dumps(lookup_json(result), indent=2))
        return
    if result.of_video and why:  # no video to compare it with: it printed three sections of 0
        return click.echo(why)
    limit = threshold_text(result.threshold)
    if result.z_threshold is not None:
        decision = f"calibrated: z >= {result.z_threshold:g}, copy score >= {limit}"
        below = f"z < {result.z_threshold:g}"
        if any(m.hit.lookalike for m in result.of_kind(SIMILAR)):
            below += "; the look-alikes' vectors were past it: see their evidence"
    else:
        decision, below = f"copy score >= {limit}", f"copy score < {limit}"
    near, others = (
        f"Near-duplicates ({decision})",
        f"Nearest other images (not duplicates: {below})",
    )
    if result.of_video:
        near = "Copies (their frames found in order, as dedup decides for videos)"
        others = f"Nearest other videos (not copies: {result.not_copies})"
    for kind, title in ((EXACT, "Exact copies"), (NEAR, near), (SIMILAR, others)):
        matches = result.of_kind(kind)
        click.echo(f"{title}: {len(matches)}")
        if matches:
            click.echo(lookup_table(matches))
        click.echo()
