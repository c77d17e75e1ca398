"""``imgsearch index`` and ``imgsearch reindex``: bring a library up to date with its folders."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from cli.index_options import (
    check_descriptor,
    descriptor_problem,
    exclude_options,
    given_excludes,
    run_options,
)
from cli.main import cli
from cli.options import MODEL_NAME, NonEmptyPath
from cli.rerun import rerun_command
from cli.stats_cmds import keep_run_figures, run_figures
from cli.stops import say, stop_status
from indexer.scan import CollectionError, NotAFolderError, check_collection_root
from models import usable_cores
from models.errors import ImgsearchError
from search.settings import INDEX_KINDS, Settings

if TYPE_CHECKING:  # imported by the commands themselves: `--help` stays light
    from indexer.run import IndexSummary


def _report(summary: IndexSummary, as_json: bool) -> None:
    """Print the summary; a run that leaves a re-index unfinished (searches refused) fails."""
    if as_json:
        click.echo(json.dumps(summary.to_json(), indent=2))
    else:
        click.echo(summary.to_text())
    if summary.reindex_unfinished:
        raise click.ClickException(summary.reindex_unfinished)


def _name_library(summary: IndexSummary, figures: dict[str, Any], created: bool) -> None:
    """Which library the run wrote to, from ``stats``' figures: its folder, and a server's
    database URL (without its password); whether this run created it."""
    summary.library = str(figures["library"])
    summary.database = str(figures["database"])
    summary.library_created = created


def indexing_threads(settings: Settings) -> int:
    """ONNX Runtime threads of an index run's model: ``IMGSEARCH_THREADS`` when set, else half
    the cores (at least one). The decode threads work beside the model; with the model on
    every core the two fought over them (2 cores, `bench/index_learning.py`, alternated: a
    first run with learning 11.2-12.3 s wall, 18.5-19.6 s CPU with one model thread against
    13.8-14.7 s, 22.7-23.8 s with two)."""
    return settings.threads or max(1, usable_cores() // 2)


def _check_before_creating(
    settings: Settings, paths: tuple[Path, ...], descriptor: str | None = None
) -> bool:
    """Say wrong input before a library is created: a folder that is not there, and for a
    library that does not exist yet, no folder at all or a model file that cannot be found
    (a failed first run used to leave an empty library behind, on PostgreSQL too). Returns
    whether the library exists already."""
    for path in paths:
        try:
            check_collection_root(path)
        except NotAFolderError as error:  # a usage error, as every command's path argument
            raise click.BadParameter(str(error), param_hint="'PATHS'") from None
    if descriptor is None and settings.descriptor:
        problem = descriptor_problem(settings.descriptor)
        if problem is not None:
            raise CollectionError(f"IMGSEARCH_DESCRIPTOR: {problem}")
    if settings.database_url is not None:  # a server's database: is a library in it yet?
        from search.store import peek_meta

        if peek_meta(settings.resolved_database_url, "library_id") is not None:
            return True
    elif settings.database_path.exists():
        return True
    if not paths:
        raise CollectionError("no collections yet: give the folders to index")
    from models import DEFAULT_MODEL_NAME, locate_model

    locate_model(settings.model or DEFAULT_MODEL_NAME, settings.model_path, verify=False)
    return False


@cli.command("index")
@click.argument("paths", nargs=-1, type=NonEmptyPath(path_type=Path, stored=True))
@exclude_options
@click.option(
    "--model",
    default=None,
    type=MODEL_NAME,
    help="Model to index with (default: the library's, else mobilenet_v3_small_100).",
)
@click.option(
    "--index",
    "index_kind",
    type=click.Choice(INDEX_KINDS),
    default=None,
    help="FAISS index kind (remembered); the cache is rebuilt when it differs [default: the "
    "library's kind, else IMGSEARCH_INDEX, else auto].",
)
@click.option(
    "--follow-symlinks",
    is_flag=True,
    help="Enter symlinked folders too (each real folder once, so loops end).",
)
@click.option(
    "--checksum",
    is_flag=True,
    help="Also read the files whose size and date are as indexed, and re-embed those whose "
    "bytes changed (a file rewritten in place by a tool that keeps its date; reads every "
    "file, as rsync --checksum does).",
)
@click.option(
    "--descriptor",
    default=None,
    metavar="OPTIONS",
    callback=check_descriptor,
    help="How the library compares images, recorded for it: default, plain, or "
    "changes such as 'whiten=off' or 'default,frames=off' (rotations=1|2|4, "
    "labels=WEIGHT, expand=K, dims=N; on|off: frames, whiten, regions, local, unblock, "
    "verify, crops (off by default: five crops an image stored, ~2.5x the indexing CPU); "
    "README: 'Finding copies') [default: the library's, else "
    "IMGSEARCH_DESCRIPTOR, else default].",
)
@run_options
@click.pass_obj
def index_command(
    settings: Settings,
    paths: tuple[Path, ...],
    excludes: tuple[str, ...],
    no_exclude: bool,
    model: str | None,
    index_kind: str | None,
    follow_symlinks: bool,
    checksum: bool,
    descriptor: str | None,
    workers: int,
    executor: str | None,
    batch_size: int | None,
    as_json: bool,
    no_progress: bool,
) -> None:
    """Index the images under PATH... (incremental: only new and changed files are read).

    Each PATH becomes a collection of the library (created on first use). Without PATH, every
    collection the library already has is brought up to date. Moved and renamed files keep
    their vectors, identical copies reuse one, deleted files are dropped, and unreadable
    files are recorded with the reason and listed in the summary. Safe to interrupt at any
    moment: the next run picks up where this one stopped.

    Photos inside frames (screenshots, captions, padding) get a second vector; from 100
    images up the library learns a whitening from edits of its own photos (shrunk towards
    the plain space below 500; ~10 CPU s for 500 photos, again when it has grown 4x) and
    re-indexes in that space.

    --exclude patterns are remembered for each collection: every later run applies them
    (nightly ones without options too) until --exclude replaces them or --no-exclude.
    """
    given = given_excludes(excludes, no_exclude)
    settings = settings.with_overrides(
        model=model,
        index_kind=index_kind,
        workers=workers or None,
        batch_size=batch_size,
        threads=indexing_threads(settings),
    )
    head, started = None, False
    try:
        existed = _check_before_creating(settings, paths, descriptor)
        if executor in (None, "local"):  # a new library's first files decode from here on
            from indexer.head_start import HeadStart

            head = HeadStart.begin(
                settings,
                paths,
                excludes=given or (),
                follow_symlinks=follow_symlinks,
                descriptor=descriptor,
                workers=settings.workers,
                batch_size=settings.batch_size,
                show=not no_progress and sys.stderr.isatty(),
            )
        from indexer.run import IndexOptions, index_collections  # SQLAlchemy: while they decode
        from search.library import Library
        from search.query import LibraryAdmin

        options = IndexOptions(
            paths=paths,
            excludes=given,
            workers=settings.workers,
            batch_size=settings.batch_size,
            follow_symlinks=follow_symlinks,
            progress=not no_progress,
            index_kind=index_kind,
            descriptor=descriptor,
            executor=executor,
            checksum=checksum,
        )
        with Library.open(settings, create=True) as library:
            started = True
            library.resume_switch()  # a re-index stopped at its very start: its model now
            opened = head.model if head is not None else None
            # opened once the run knows it has files to embed: an unchanged re-run never does
            onnx = library.load_model(settings.model, bind=True, lazy=True, opened=opened)
            summary = index_collections(library, onnx, options, head)
            if summary.removed or summary.updated:  # their cached files are never read again
                summary.pruned, summary.pruned_bytes = LibraryAdmin(library).prune_after_changes()
            figures = run_figures(library)
        keep_run_figures(settings, figures)
        _name_library(summary, figures, created=not existed)
    except ImgsearchError as error:
        raise click.ClickException(str(error)) from None
    except KeyboardInterrupt as stop:
        _interrupted(stop, started=started)
    finally:
        if head is not None:
            head.close()
    _report(summary, as_json)


def _interrupted(stop: KeyboardInterrupt, *, started: bool, then: str | None = None) -> NoReturn:
    """Ctrl+C, SIGTERM or SIGHUP: what is kept and what to run - this very command again (its
    library, model folder and excludes with it: without them the advice indexed into
    another library), or ``then`` (a command of the same library, e.g. ``index`` after an
    interrupted ``reindex``); exit 130, 143 or 129, as shells report them. ``started``: the
    library was opened, so what was indexed is saved."""
    command = rerun_command(then)
    kept = "the images indexed so far are saved" if started else "nothing was indexed yet"
    goes_on = " (it goes on where this run stopped)" if started else ""
    say(f"interrupted: {kept}; run `{command}` to finish{goes_on}")  # (not to a hung-up terminal)
    raise SystemExit(stop_status(stop))


@cli.command("reindex")
@click.option(
    "--model",
    default=None,
    type=MODEL_NAME,
    help="The model to switch the whole library to [default: the library's own: "
    "embed every image again, e.g. to find framed photos after frames=on].",
)
@exclude_options
@run_options
@click.pass_obj
def reindex_command(
    settings: Settings,
    model: str | None,
    excludes: tuple[str, ...],
    no_exclude: bool,
    workers: int,
    executor: str | None,
    batch_size: int | None,
    as_json: bool,
    no_progress: bool,
) -> None:
    """Re-embed every image of every collection (with another model, or the library's).

    The old vectors are dropped first (vectors of two models are never mixed); if the run
    is interrupted, `imgsearch index` finishes it with the new model. Every collection's
    folder must be there and hold files (a drive not mounted, or its empty mount point, is
    refused before anything changes). Each collection's remembered --exclude patterns apply
    (--exclude / --no-exclude: as index's).
    """
    given = given_excludes(excludes, no_exclude)
    from indexer.missing_folders import check_collections_there
    from indexer.run import IndexOptions, index_collections
    from search.library import Library

    settings = settings.with_overrides(
        model=model,
        workers=workers or None,
        batch_size=batch_size,
        threads=indexing_threads(settings),
    )
    options = IndexOptions(
        excludes=given,
        workers=settings.workers,
        batch_size=settings.batch_size,
        progress=not no_progress,
        executor=executor,
    )
    try:
        with Library.open(settings) as library:
            if model is None:
                recorded = library.model_stamp()
                if recorded is None:
                    raise click.UsageError("the library has no model yet: give --model")
                model = recorded.name
            # one hold of the library from the switch to the end of the run: a reader never
            # sees the re-index without a live writer (it would call it interrupted)
            before = library.model_stamp()
            with library.writer_lock():
                check_collections_there(library)  # before any vector is dropped
                library.switch_model(model)
                onnx = library.load_model(model, bind=True, background=True)
                summary = index_collections(library, onnx, options)
            figures = run_figures(library)
            summary.warnings += _switched(before.name if before else None, model, onnx)
        keep_run_figures(settings, figures)
        _name_library(summary, figures, created=False)
    except ImgsearchError as error:
        raise click.ClickException(str(error)) from None
    except KeyboardInterrupt as stop:
        _interrupted(stop, started=True, then="index")  # index finishes a re-index
    _report(summary, as_json)


def _switched(before: str | None, after: str, onnx: Any) -> list[str]:
    """What a re-index with another model changed that the user would not see otherwise: the
    model's name, and the labels it drops when the new one has no class head (an audit: the
    switch said nothing, and the results just lost their labels)."""
    from models import DEFAULT_MODEL_NAME

    if before is None or before == after:
        return []
    said = [f"the library's model is now {after} (was {before})"]
    if not onnx.spec.has_class_head:
        said.append(
            f"{after} has no class labels: results show none, `imgsearch labels` and the "
            "labels' share of the ranking are off (`imgsearch reindex --model "
            f"{DEFAULT_MODEL_NAME}` brings them back)"
        )
    return said
