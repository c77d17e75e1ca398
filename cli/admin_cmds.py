"""Maintenance commands: ``rebuild-index`` and ``db`` (``remove``, ``prune``:
cli/remove_cmds.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cli.main import cli
from cli.options import NonEmptyText
from cli.search_cmds import open_engine, user_errors
from cli.stats_cmds import keep_run_figures, run_figures
from search.settings import INDEX_KINDS, Settings

if TYPE_CHECKING:  # SQLAlchemy and Alembic load when a command runs, not for its --help
    from sqlalchemy import Engine


def json_shape_option(shape: str) -> Callable[[Any], Any]:
    return click.option("--json", "as_json", is_flag=True, help=f"Print JSON: {shape}.")


def emit(as_json: bool, data: dict[str, Any], text: str) -> None:
    click.echo(json.dumps(data, indent=2, default=str) if as_json else text)


@cli.command("rebuild-index")
@click.option(
    "--index",
    "kind",
    type=click.Choice(INDEX_KINDS),
    default=None,
    help="Index kind (remembered for later rebuilds). [default: the library's "
    "current kind, else IMGSEARCH_INDEX, else auto]",
)
@json_shape_option('{"kind", "ntotal", "seconds", ...}')
@click.pass_context
@user_errors
def rebuild_index(ctx: click.Context, kind: str | None, as_json: bool) -> None:
    """Rebuild the FAISS cache from the database (the database is the truth)."""
    start = time.perf_counter()
    with open_engine(ctx) as engine:
        info = engine.admin.rebuild_index(kind)
        figures = run_figures(engine.library)
    keep_run_figures(ctx.obj, figures)
    seconds = time.perf_counter() - start
    recall = info.get("recall_at_k")
    extra = (
        f", recall@{info.get('recall_k', 10)} {recall:.3f}"
        if info["kind"] != "flat" and recall is not None
        else ""
    )
    if info["requested_kind"] not in (info["kind"], "auto"):  # an empty library
        extra += f" ({info['requested_kind']} needs vectors: the next index run builds it)"
    emit(
        as_json,
        {**info, "seconds": round(seconds, 3)},
        f"rebuilt the {info['kind']} index of {info['ntotal']} vectors in {seconds:.2f} s{extra}",
    )


# -- schema migrations ----------------------------------------------------------------------


@contextmanager
def database(ctx: click.Context) -> Iterator[Engine]:
    """The library's SQLAlchemy engine without the automatic upgrade of Store.open; a
    database that is not an imgsearch library, or of a newer imgsearch, is refused."""
    from search.library import refuse_writes, writer_lock
    from search.store import (
        check_engine_on_open,
        checked_sqlite,
        database_locks,
        make_engine,
        migrate,
        require_database,
        sqlite_file,
    )

    settings: Settings = ctx.obj
    refuse_writes(settings)  # a migration writes the schema, and a backup beside the file
    url = settings.resolved_database_url
    require_database(url)
    with checked_sqlite(url):
        engine = make_engine(url)
        try:
            check_engine_on_open(engine, sqlite_file(url))  # damaged: refused, as everywhere
            migrate.check_known(engine)
            # never under an index run, nor beside another process's migration (PostgreSQL)
            with writer_lock(settings.library, database_locks(engine)), migrate.schema_lock(engine):
                yield engine
        finally:
            engine.dispose()


@contextmanager
def read_database(ctx: click.Context) -> Iterator[Engine]:
    """The library's engine for a command that only reads the schema: a SQLite file that
    cannot be written (or IMGSEARCH_READ_ONLY) is opened read-only, without the writer's
    lock; otherwise :func:`database`'s."""
    from search.store import (
        check_engine_on_open,
        checked_sqlite,
        migrate,
        read_only_engine,
        read_only_file,
        require_database,
    )

    settings: Settings = ctx.obj
    url = settings.resolved_database_url
    require_database(url)
    path = read_only_file(url, settings.read_only)
    if path is None:
        with database(ctx) as engine:
            yield engine
        return
    with checked_sqlite(url):
        engine = read_only_engine(path)
        try:
            check_engine_on_open(engine, path)
            migrate.check_known(engine)
            yield engine
        finally:
            engine.dispose()


def run_migration(action: Callable[[], None]) -> None:
    from alembic.util.exc import CommandError as AlembicError

    try:
        action()
    except AlembicError as error:
        raise click.ClickException(f"migration failed: {error}") from None


@cli.group()
def db() -> None:
    """Inspect and migrate the library's database schema (Alembic)."""


@db.command()
@json_shape_option('{"current", "head", "up_to_date"}')
@click.pass_context
@user_errors
def current(ctx: click.Context, as_json: bool) -> None:
    """Print the schema revision of the library and the newest one this imgsearch knows."""
    from search.store import migrate

    with read_database(ctx) as engine:
        revision = migrate.current_revision(engine)
    head = migrate.head_revision()
    state = "up to date" if revision == head else "run `imgsearch db upgrade`"
    emit(
        as_json,
        {"current": revision, "head": head, "up_to_date": revision == head},
        f"current {revision or '(none)'}\nhead    {head}\n{state}",
    )


def _migrate(
    ctx: click.Context,
    revision: str,
    step: Callable[[Engine, str], None],
    as_json: bool,
    confirm: Callable[[Engine, str, str], None] | None = None,
) -> None:
    """Run one migration ``step`` to ``revision`` after the same backup as the automatic
    upgrade (and ``confirm``, a downgrade's question); print the revisions before and after,
    and the backup file written (a new one each time: an earlier backup is never replaced)."""
    from search.store import backup_sqlite, migrate

    resolved = None  # an unknown revision is named with those known, before any work
    if revision != "head":
        resolved = migrate.resolve_revision(revision)
    backup: Path | None = None
    with database(ctx) as engine:
        before = migrate.current_revision(engine)
        target = migrate.head_revision() if revision == "head" else revision
        if revision != "head":  # `db upgrade 0004v` of a 0005q library: the other way
            problem = migrate.wrong_direction(step.__name__, before, resolved)
            if problem is not None:
                raise click.ClickException(problem)
        if confirm is not None and before is not None:
            target = resolved or "base"
            if target != before:
                confirm(engine, before, target)
        if before is None or target != before:  # nothing to do: no copy of the whole file
            backup = backup_sqlite(engine, before)
            run_migration(lambda: step(engine, revision))
        after = migrate.current_revision(engine)
    kept = f"\nthe file as it was is kept as {backup}" if backup is not None else ""
    said = (
        f"schema {after}: already there, nothing to do"
        if before is not None and before == after
        else f"schema {before or '(none)'} -> {after or '(base)'}{kept}"
    )
    emit(
        as_json,
        {"before": before, "after": after, "backup": str(backup) if backup else None},
        said,
    )


@db.command()
@click.argument(
    "revision",
    default="head",
    type=NonEmptyText("give a revision id, or leave it out for 'head'"),
)
@json_shape_option('{"before", "after", "backup"}')
@click.pass_context
@user_errors
def upgrade(ctx: click.Context, revision: str, as_json: bool) -> None:
    """Upgrade the schema to REVISION (default: head); a SQLite file is backed up first."""
    from search.store import migrate

    _migrate(ctx, revision, migrate.upgrade, as_json)


@db.command()
@click.argument("revision", type=NonEmptyText("give a revision id, or 'base' (no tables)"))
@click.option(
    "--yes",
    "-y",
    is_flag=True,
    help="Downgrade without asking (scripts); without it a terminal asks, and anything "
    "else is refused.",
)
@json_shape_option('{"before", "after", "backup"}')
@click.pass_context
@user_errors
def downgrade(ctx: click.Context, revision: str, yes: bool, as_json: bool) -> None:
    """Downgrade the schema to REVISION ('base' drops every table): what later revisions
    added is lost. Asks first (--yes: not); a SQLite file is backed up first."""
    from search.store import migrate

    _migrate(ctx, revision, migrate.downgrade, as_json, None if yes else _confirm_downgrade)


def _confirm_downgrade(engine: Engine, before: str, target: str) -> None:
    """Ask on a terminal before a downgrade loses data; refuse without one (--yes)."""
    from search.store import backup_name, migrate

    lost = "drops what these revisions added, with their data"
    dropped = ":\n" + "\n".join(migrate.revision_lines(after=target, upto=before))
    if target == "base":
        lost, dropped = "drops every table of the library: its images, vectors and settings", ""
    database = engine.url.database
    sqlite = engine.dialect.name == "sqlite" and database
    kept = (
        f"a copy would be kept as {backup_name(Path(database), before).name}"
        if sqlite
        else "no backup is made on a database server: pg_dump it first"
    )
    what = f"db downgrade {before} -> {target} {lost} ({kept}){dropped}"
    if not click.get_text_stream("stdin").isatty():  # refused: nothing is copied yet
        said = "\n" if dropped else ": "  # after the list of revisions, on a line of its own
        raise click.ClickException(f"{what}{said}add --yes to do it without a terminal to ask")
    asked = "\n" if dropped else ". "
    if not click.confirm(f"{what}{asked}Downgrade?", default=False, err=True):
        raise click.ClickException("not downgraded: nothing was changed")
