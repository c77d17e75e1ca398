"""The ``imgsearch`` command line: one click group, one module of commands per stage."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from cli.errors import DEBUG_KEY, ImgsearchGroup
from models import set_decode_budget
from search.settings import Settings


@click.group(
    cls=ImgsearchGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--library",
    type=click.Path(path_type=Path, file_okay=False),
    envvar="IMGSEARCH_LIBRARY",
    help="Library directory (database, FAISS file, thumbnails). [default: ./imgsearch-library]",
)
@click.option(
    "--model-path",
    help="Directories to search for model files, ':'-separated, before IMGSEARCH_MODEL_PATH, "
    "./models and the user data directory.",
)
@click.option("--database-url", help="SQLAlchemy URL overriding the library's SQLite file.")
@click.option("-v", "--verbose", count=True,
              help="More log output (-vv for debug, with tracebacks).")
@click.version_option(package_name="imgsearch")
@click.pass_context
def cli(
    ctx: click.Context,
    library: Path | None,
    model_path: str | None,
    database_url: str | None,
    verbose: int,
) -> None:
    """Self-hosted semantic image search: index photos, search by image or region, find copies."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    ctx.meta[DEBUG_KEY] = verbose >= 2  # -vv: let unexpected errors show their traceback
    try:
        ctx.obj = Settings.from_env(
            library=library, model_path=model_path, database_url=database_url
        )
    except ValueError as error:  # e.g. IMGSEARCH_DEDUP_THRESHOLD=abc
        raise click.ClickException(f"bad setting: {error}; fix or unset it") from None
    try:
        ctx.obj = Settings.from_env(library=library, model_path=model_path,
                                    database_url=database_url)  # fmt: skip
    except ValueError as error:  # a malformed IMGSEARCH_* number
        raise click.ClickException(f"bad IMGSEARCH_* environment value: {error}") from None
    set_decode_budget(max(64, ctx.obj.decode_budget_mb) * 1024 * 1024)


def main() -> None:
    cli(prog_name="imgsearch")


# Command modules register their commands on the group when imported.
from cli import (  # noqa: E402
    admin_cmds,  # noqa: F401
    db_check,  # noqa: F401
    dedup_cmds,  # noqa: F401
    eval_cmds,  # noqa: F401
    index_cmds,  # noqa: F401
    models_cmds,  # noqa: F401
    search_cmds,  # noqa: F401
    serve_cmds,  # noqa: F401
)
