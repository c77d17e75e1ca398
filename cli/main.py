"""The ``imgsearch`` command line: one click group, one module of commands per stage."""

from __future__ import annotations

import gc
import importlib
import logging
import os
from pathlib import Path

import click
from click.utils import _make_default_short_help

from cli.errors import DEBUG_KEY, ImgsearchGroup
from cli.options import NonEmptyPath, NonEmptyText, existing_folders, folder_list_problem
from cli.output import OutputError, flush_output, output_lost, own_stdout, reader_gone
from models import set_decode_budget
from search.settings import MODEL_PATH_ENV, Settings, is_memory_database, unknown_environment

#: Each command: the module that defines it (imported only when the command runs, so that
#: ``--help`` and light commands never load ONNX Runtime, FAISS or Alembic) and the first
#: paragraph of its help for the root ``--help`` listing (a test holds the two equal). A
#: module that adds subcommands to another module's group goes into GROUP_EXTRAS.
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "classify": ("cli.models_cmds", "ImageNet categories of IMAGES (background never listed)."),
    "clusters": (
        "cli.explore_cmds",
        "Groups of similar images, each with a representative, its size and common labels.",
    ),
    "db": ("cli.admin_cmds", "Inspect and migrate the library's database schema (Alembic)."),
    "dedup": ("cli.dedup_cmds", "Report exact and near-duplicate groups with a suggested keeper."),
    "embed": (
        "cli.models_cmds",
        "Embed IMAGES; bad files get an error entry and a non-zero exit code at the end.",
    ),
    "eval": (
        "cli.eval_cmds",
        "Evaluate search quality on a folder with ground truth (`eval FOLDER --truth "
        "FILE`), or generate a hard copy-detection set (`eval make-copies SRC OUT`).",
    ),
    "flags": (
        "cli.quality_cmds",
        "Quality flags: how many images are dark, bright, blurry, tiny or uniform, and with "
        "--flag / --exclude-flag which ones (newest file first).",
    ),
    "index": (
        "cli.index_cmds",
        "Index the images under PATH... (incremental: only new and changed files are read).",
    ),
    "labels": (
        "cli.search_cmds",
        "Images with WORD as whole words of a top class label (score = that label's probability).",
    ),
    "lookup": (
        "cli.dedup_cmds",
        "Where is IMAGE in the library, edited or not? Exact copies, near-duplicates, others.",
    ),
    "models": (
        "cli.models_list",
        "Model catalog: which models exist, where their files are, whether they verify.",
    ),
    "outliers": (
        "cli.explore_cmds",
        "Images far from everything else in the library, most outlying first.",
    ),
    "prune": (
        "cli.remove_cmds",
        "Delete cached thumbnails and key points that no library image needs any more.",
    ),
    "rebuild-index": (
        "cli.admin_cmds",
        "Rebuild the FAISS cache from the database (the database is the truth).",
    ),
    "reindex": (
        "cli.index_cmds",
        "Re-embed every image of every collection (with another model, or the library's).",
    ),
    "remove": (
        "cli.remove_cmds",
        "Remove images (files, or folders: everything below) from the library, for good.",
    ),
    "search": (
        "cli.search_cmds",
        "Find the library images most similar to IMAGE (or to a region of it).",
    ),
    "serve": (
        "cli.serve_cmds",
        "Serve the search UI and the JSON API (/api/v1, OpenAPI at /api/v1/openapi.json).",
    ),
    "similar": (
        "cli.search_cmds",
        "Images most similar to a library image, given by id or by "
        "its file path (itself excluded; copies with the same bytes or pixels are marked exact).",
    ),
    "stats": (
        "cli.stats_cmds",
        "Library figures: collections, images, failures, model, index, last run.",
    ),
}


#: Group name -> further modules that register subcommands on it (imported with the group).
GROUP_EXTRAS: dict[str, tuple[str, ...]] = {"db": ("cli.db_check",), "eval": ("cli.eval_copies",)}


#: ``click.Context.meta`` key: the arguments the command line was given
ARGS_KEY = "imgsearch.args"


class LazyGroup(ImgsearchGroup):
    """The root group: a command's module is imported when that command is looked up (click's
    lazy-loading pattern); the ``--help`` listing uses :data:`LAZY_COMMANDS`' texts."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[ARGS_KEY] = list(args)  # the command as typed (cli.rerun: what to run again)
        return super().parse_args(ctx, args)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in LAZY_COMMANDS:
            importlib.import_module(LAZY_COMMANDS[cmd_name][0])  # registers its commands
        for module in GROUP_EXTRAS.get(cmd_name, ()):
            importlib.import_module(module)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            command = self.commands.get(name)
            if command is None:
                rows.append((name, short_help(LAZY_COMMANDS[name][1], limit)))
            elif not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def short_help(text: str, limit: int) -> str:
    """The root listing's line for a command whose help starts with ``text`` (as click makes
    it from the command's own help)."""
    return _make_default_short_help(text, limit).strip() if text else ""


def load_all_commands() -> None:
    """Import every module of the ``cli`` package (for tools and tests that walk the whole
    command tree, and to find commands missing from LAZY_COMMANDS / GROUP_EXTRAS)."""
    import pkgutil

    import cli

    for info in pkgutil.iter_modules(cli.__path__):
        importlib.import_module(f"cli.{info.name}")


class NoteFormatter(logging.Formatter):
    """Log lines as the commands' own notes read ("warning: ..."); with ``named`` (``-v``)
    the level in capitals and the logger's name, for a reader who wants to know where."""

    def __init__(self, named: bool) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s" if named else None)
        self._named = named

    def format(self, record: logging.LogRecord) -> str:
        if self._named:
            return super().format(record)
        text = f"{record.levelname.lower()}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--library",
    type=NonEmptyPath(
        file_okay=False, path_type=Path, hint="give the library's folder (or leave it out)"
    ),
    envvar="IMGSEARCH_LIBRARY",
    help="Library directory (database, FAISS file, thumbnails). [default: ./imgsearch-library; "
    "env var: IMGSEARCH_LIBRARY]",
)
@click.option(
    "--model-path",
    callback=existing_folders,
    help="Directories to search for model files, ':'-separated, before IMGSEARCH_MODEL_PATH, "
    "./models and the user data directory. The library remembers the folder its model was "
    "found in (by index, or by any command that opens it when it remembers none or that "
    "folder lost the file): later commands need no --model-path.",
)
@click.option(
    "--database-url",
    type=NonEmptyText("give a URL, or leave it out for the library folder's SQLite file"),
    help="SQLAlchemy URL overriding the library's SQLite file (postgresql://USER@HOST/DB). "
    "[env var: IMGSEARCH_DATABASE_URL]",
)
@click.option(
    "-v", "--verbose", count=True, help="More log output (-vv for debug, with tracebacks)."
)
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
    handler = logging.StreamHandler()
    handler.setFormatter(NoteFormatter(named=verbose > 0))
    logging.basicConfig(level=level, handlers=[handler])
    if verbose < 2:  # -v printed "Could not load library with AVX2 support due to: ..." (a
        # normal fallback of FAISS's loader, not a problem); -vv keeps it
        logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    ctx.meta[DEBUG_KEY] = verbose >= 2  # -vv: let unexpected errors show their traceback
    warn_unknown_environment()
    try:
        ctx.obj = Settings.from_env(
            library=library, model_path=model_path, database_url=database_url
        )
    except ValueError as error:  # a malformed IMGSEARCH_* number
        raise click.ClickException(f"bad IMGSEARCH_* environment value: {error}") from None
    problem = ctx.obj.database_url and _database_url_problem(ctx.obj.database_url)
    if problem:  # a malformed URL ended every command in an 85-line traceback
        raise click.BadParameter(problem, param_hint="'--database-url' (or IMGSEARCH_DATABASE_URL)")
    if is_memory_database(ctx.obj.database_url):  # `index` ended in a pool traceback
        raise click.BadParameter(
            "an in-memory SQLite database keeps nothing between commands: give a file "
            "(sqlite:////path/to/library.sqlite3), or leave it out for the library folder's",
            param_hint="'--database-url' (or IMGSEARCH_DATABASE_URL)",
        )
    set_decode_budget(max(64, ctx.obj.decode_budget_mb) * 1024 * 1024)
    env_path = os.pathsep.join(p for p in os.environ.get(MODEL_PATH_ENV, "").split(os.pathsep) if p)
    problem = env_path and folder_list_problem(env_path, passed_over=True)
    if problem:  # searched anyway (a folder may come back), but a typo should not be silent
        click.echo(f"Warning: {MODEL_PATH_ENV} {problem}", err=True)


def warn_unknown_environment() -> None:
    """One warning on stderr for each ``IMGSEARCH_*`` variable imgsearch does not read (a
    typo such as IMGSEARCH_LIBARY made a nightly run build a new library in its working
    folder without a word), naming the known variable closest to it."""
    for name, meant in unknown_environment():
        guess = f"did you mean {meant}?" if meant else "README's Configuration lists them"
        click.echo(
            f"Warning: {name} is not a variable imgsearch reads (ignored); {guess}", err=True
        )


def _database_url_problem(url: str) -> str | None:
    from search.store import database_url_problem  # SQLAlchemy: only when a URL is given

    return database_url_problem(url)


def main() -> None:
    own_stdout()
    try:
        cli(prog_name="imgsearch")
    except BrokenPipeError:  # help or a usage error printed to a reader that left
        reader_gone()
    except OutputError as error:  # --help or --version onto a full disk
        output_lost(error)
    finally:
        flush_output()  # a file's output is written here: a failure is one line, status 1
        # The process ends here. Python's shutdown would run full garbage collections over
        # every imported module's objects (SQLAlchemy, NumPy, ONNX Runtime): 0.2-0.3 s of CPU
        # after `index` has printed its summary. Frozen objects are left to the OS; what must
        # happen at exit (commits, closed files, atexit handlers) has happened or still runs.
        gc.freeze()


if __name__ == "__main__":  # python -m cli.main, as the imgsearch command
    # this module runs as __main__: the command modules register on cli.main's group (this
    # module's own `cli` had no command: "No such command 'index'")
    importlib.import_module("cli.main").main()
