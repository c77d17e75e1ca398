"""Query and maintenance commands: search, similar, labels, stats, remove, rebuild-index, db."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
from alembic.util.exc import CommandError as AlembicError
from sqlalchemy import Engine

from cli.main import cli
from models.errors import ImgsearchError
from search import migrate
from search.engine import SearchEngine
from search.errors import LibraryNotFoundError
from search.results import MAX_K, SearchHit, human_size
from search.settings import Settings
from search.store import make_engine

F = TypeVar("F", bound=Callable[..., Any])

JSON_HELP = (
    'Print JSON instead of a table: {"results": [{"rank", "score", "id", "path", "width", '
    '"height", "size", "labels": [{"name", "score"}], "exact", ...}]}.'
)
INDEX_KINDS = ("auto", "flat", "hnsw", "ivf-sq8")


def user_errors(func: F) -> F:
    """Turn imgsearch's typed errors into a clear message and exit status 1, no traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ImgsearchError as error:
            raise click.ClickException(str(error)) from None

    return wrapper  # type: ignore[return-value]


@contextmanager
def open_engine(ctx: click.Context) -> Iterator[SearchEngine]:
    settings: Settings = ctx.obj
    engine = SearchEngine.open(settings)
    try:
        yield engine
    finally:
        engine.close()


def hits_table(hits: Sequence[SearchHit], *, label_column: bool = False) -> str:
    """A plain-text table: rank, score, id, size, WxH, path, labels (exact copies marked)."""
    if not hits:
        return "no results"
    rows = [("rank", "score", "id", "size", "WxH", "path", "labels")]
    for hit in hits:
        dims = f"{hit.width}x{hit.height}" if hit.width and hit.height else "-"
        score = f"{hit.score:.4f}" + ("=" if hit.exact else "~" if hit.duplicate else "")
        labels = ", ".join(name for name, _s in hit.labels[:3])
        if label_column and hit.label:
            labels = f"{hit.label} ({labels})" if labels else hit.label
        rows.append((str(hit.rank), score, str(hit.id), human_size(hit.size), dims, hit.path,
                     labels))
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    lines = []
    for row in rows:
        cells = [row[0].rjust(widths[0]), row[1].ljust(widths[1]), row[2].rjust(widths[2]),
                 row[3].rjust(widths[3]), row[4].ljust(widths[4]), row[5].ljust(widths[5]),
                 row[6]]
        lines.append("  ".join(cells).rstrip())
    if any(hit.exact for hit in hits):
        lines.append("(= exact copy of the query: same bytes or same pixels)")
    if any(hit.duplicate and not hit.exact for hit in hits):
        lines.append("(~ a copy by the library's calibrated decision: edited, re-encoded, framed)")
    return "\n".join(lines)


def emit_hits(hits: Sequence[SearchHit], as_json: bool, **extra: Any) -> None:
    if as_json:
        click.echo(json.dumps({**extra, "results": [hit.to_dict() for hit in hits]}, indent=2))
    else:
        click.echo(hits_table(hits, label_column="label" in extra))


def k_option(default: int) -> Callable[[F], F]:
    return click.option("-k", "--top", "k", type=click.IntRange(1, MAX_K), default=default,
                        show_default=True, help="Number of results.")


min_score_option = click.option(
    "--min-score", type=click.FloatRange(-1.0, 1.0), default=None,
    help="Only results with at least this cosine similarity (0..1 in practice).",
)
json_option = click.option("--json", "as_json", is_flag=True, help=JSON_HELP)


@cli.command()
@click.argument("image", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--roi", help="Search with a region of the query: 'l,t,r,b', fractions in [0,1] "
              "or pixels.")
@k_option(10)
@min_score_option
@json_option
@click.pass_context
@user_errors
def search(ctx: click.Context, image: Path, roi: str | None, k: int, min_score: float | None,
           as_json: bool) -> None:
    """Find the library images most similar to IMAGE (or to a region of it)."""
    with open_engine(ctx) as engine:
        hits = engine.search_image(image, roi=roi, k=k, min_score=min_score)
    emit_hits(hits, as_json, query={"image": str(image), "roi": roi, "k": k,
                                    "min_score": min_score})


@cli.command()
@click.argument("path_or_id")
@k_option(10)
@min_score_option
@json_option
@click.pass_context
@user_errors
def similar(ctx: click.Context, path_or_id: str, k: int, min_score: float | None,
            as_json: bool) -> None:
    """Images most similar to a library image, given by id or by its file path (itself
    excluded; copies with the same bytes are marked exact)."""
    with open_engine(ctx) as engine:
        image_id = engine.image_id_for(path_or_id)
        hits = engine.similar(image_id, k=k, min_score=min_score)
    emit_hits(hits, as_json, query={"id": image_id, "k": k, "min_score": min_score})


@cli.command()
@click.argument("word")
@k_option(50)
@json_option
@click.pass_context
@user_errors
def labels(ctx: click.Context, word: str, k: int, as_json: bool) -> None:
    """Images whose top class labels contain WORD (score = that label's probability)."""
    with open_engine(ctx) as engine:
        hits = engine.search_labels(word, k=k)
    emit_hits(hits, as_json, query={"label": word, "k": k}, label=word)


@cli.command()
@json_option
@click.pass_context
@user_errors
def stats(ctx: click.Context, as_json: bool) -> None:
    """Library figures: collections, images, failures, model, index, last run."""
    with open_engine(ctx) as engine:
        figures = engine.stats()
    if as_json:
        click.echo(json.dumps(figures, indent=2, default=str))
        return
    model = figures["model"] or {}
    index = figures["index"]
    lines = [
        f"library     {figures['library']}",
        f"database    {figures['database']} ({human_size(figures['database_bytes'])})",
        f"images      {figures['images']} indexed, {figures['failed']} failed, "
        f"{figures['vectors']} vectors",
        f"model       {model.get('name', '-')} ({model.get('dimension', '-')}-d, "
        f"sha256 {str(model.get('sha256', '-'))[:12]})",
        f"index       {index['kind']}, {index['ntotal']} vectors"
        + (f", recall@{index.get('recall_k', 10)} {index['recall']:.3f}"
           if index.get("recall") is not None and index["kind"] != "flat" else ""),
        f"generation  {figures['generation']}",
        _descriptor_line(figures["descriptor"]),
    ]
    if figures.get("reindex"):
        lines.append(f"reindex     unfinished, to {figures['reindex']}: searches are refused "
                     "until `imgsearch index` (or the running reindex) finishes it")  # fmt: skip
    run = figures["last_run"]
    if run:
        lines.append(
            f"last run    {run['status']} {run['finished_at'] or run['started_at']}: "
            f"+{run['added']} ~{run['updated']} >{run['moved']} -{run['removed']} "
            f"!{run['failed']}"
        )
    for collection in figures["collections"]:
        lines.append(f"collection  {collection['root']}: {collection['images']} images")
    for failure in figures["failures"]:
        lines.append(f"failed      {failure['path']}: {failure['error']}")
    if figures["failed"] > len(figures["failures"]):
        lines.append(f"            ... and {figures['failed'] - len(figures['failures'])} more")
    click.echo("\n".join(lines))


def _descriptor_line(info: dict[str, Any]) -> str:
    white = info["whitening"]
    learned = (f"whitening from {white['images']} images ({white['pairs']} edit pairs)"
               if white else "no whitening")  # fmt: skip
    cal = info["calibration"] or {}
    decision = (f"; copies from copy score {cal['duplicate_threshold']:.3f} "
                f"(z {cal['duplicate_z']:g})" if cal else "")  # fmt: skip
    return (f"descriptor  {info['options']}\n            {learned}, "
            f"{info['framed_images']} framed photos{decision}")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_context
@user_errors
def remove(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Remove images (files, or folders: everything below) from the library.

    Files on disk are never touched; a later `imgsearch index` of their folder adds them back.
    """
    with open_engine(ctx) as engine:
        removed = engine.remove_paths(paths)
    if removed == 0:
        raise click.ClickException("none of these paths is an image of this library")
    click.echo(f"removed {removed} image{'s' if removed != 1 else ''} from the library")


@cli.command("rebuild-index")
@click.option("--index", "kind", type=click.Choice(INDEX_KINDS), default=None,
              help="Index kind (remembered for later rebuilds). [default: the library's "
              "current kind, else IMGSEARCH_INDEX, else auto]")
@click.pass_context
@user_errors
def rebuild_index(ctx: click.Context, kind: str | None) -> None:
    """Rebuild the FAISS cache from the database (the database is the truth)."""
    start = time.perf_counter()
    with open_engine(ctx) as engine:
        info = engine.rebuild_index(kind)
    seconds = time.perf_counter() - start
    recall = info.get("recall_at_k")
    extra = f", recall@{info.get('recall_k', 10)} {recall:.3f}" if info["kind"] != "flat" \
        and recall is not None else ""
    click.echo(f"rebuilt a {info['kind']} index of {info['ntotal']} vectors in "
               f"{seconds:.2f} s{extra}")



# -- schema migrations ----------------------------------------------------------------------


@contextmanager
def database(ctx: click.Context) -> Iterator[Engine]:
    """The library's SQLAlchemy engine without the automatic upgrade of Store.open."""
    settings: Settings = ctx.obj
    url = settings.resolved_database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        raise LibraryNotFoundError(
            f"no library database at {url.removeprefix('sqlite:///')}; "
            "run `imgsearch index PATH` to create one"
        )
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def run_migration(action: Callable[[], None]) -> None:
    try:
        action()
    except AlembicError as error:
        raise click.ClickException(f"migration failed: {error}") from None


@cli.group()
def db() -> None:
    """Inspect and migrate the library's database schema (Alembic)."""


@db.command()
@click.pass_context
@user_errors
def current(ctx: click.Context) -> None:
    """Print the schema revision of the library and the newest one this imgsearch knows."""
    with database(ctx) as engine:
        revision = migrate.current_revision(engine)
    head = migrate.head_revision()
    state = "up to date" if revision == head else "run `imgsearch db upgrade`"
    click.echo(f"current {revision or '(none)'}\nhead    {head}\n{state}")


@db.command()
@click.argument("revision", default="head")
@click.pass_context
@user_errors
def upgrade(ctx: click.Context, revision: str) -> None:
    """Upgrade the schema to REVISION (default: head); a SQLite file is backed up first."""
    with database(ctx) as engine:
        before = migrate.current_revision(engine)
        migrate.backup_sqlite(engine, before)  # same backup as the automatic upgrade
        run_migration(lambda: migrate.upgrade(engine, revision))
        after = migrate.current_revision(engine)
    click.echo(f"schema {before or '(none)'} -> {after}")


@db.command()
@click.argument("revision")
@click.pass_context
@user_errors
def downgrade(ctx: click.Context, revision: str) -> None:
    """Downgrade the schema to REVISION ('base' drops everything); backed up first."""
    with database(ctx) as engine:
        before = migrate.current_revision(engine)
        migrate.backup_sqlite(engine, before)
        run_migration(lambda: migrate.downgrade(engine, revision))
        after = migrate.current_revision(engine)
    click.echo(f"schema {before or '(none)'} -> {after or '(base)'}")
