"""The options `index` and `reindex` share, and the checks that refuse bad ones before any
work is done (and before a library exists)."""

from __future__ import annotations

from collections.abc import Sequence

import click

from cli.options import no_empty_values
from search.settings import MAX_BATCH_SIZE, MAX_WORKERS


def check_executor_option(
    ctx: click.Context, _param: click.Parameter, value: str | None
) -> str | None:
    """Refuse a bad --executor, or one whose extra is missing, before any work is done; a
    value from IMGSEARCH_EXECUTOR is named as that variable's (exit 1, as other settings)."""
    if value is None:
        return None
    if not value.strip():  # `--executor "$DASK"` of an unset variable ran locally, silently
        raise click.BadParameter("is empty (an unset variable?): give local or dask://HOST:PORT")
    from indexer.distributed import ExecutorError, check_executor

    try:
        check_executor(value)
    except ExecutorError as error:
        problem = str(error).removeprefix(f"--executor {value!r}: ")
        if ctx.get_parameter_source("executor") == click.core.ParameterSource.ENVIRONMENT:
            raise click.ClickException(
                f"IMGSEARCH_EXECUTOR={value!r}: {problem} (or unset IMGSEARCH_EXECUTOR)"
            ) from None
        raise click.BadParameter(problem) from None
    return value


def descriptor_problem(text: str) -> str | None:
    """What is wrong with descriptor ``text`` (None: it parses; ``verify=on`` also needs
    OpenCV, looked for without importing it)."""
    import importlib.util

    from search.descriptor import DescriptorConfig, DescriptorError

    try:
        config = DescriptorConfig.parse(text)
    except DescriptorError as error:
        return str(error)
    if config.verify and importlib.util.find_spec("cv2") is None:
        return "verify=on needs OpenCV: pip install opencv-python-headless"
    return None


def check_descriptor(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """Refuse bad --descriptor text before any work is done (and before a library exists).
    An empty one (``--descriptor "$UNSET"``) reset the library's descriptor to the defaults
    without a word."""
    if value is not None and not value.strip():
        raise click.BadParameter(
            "is empty (an unset variable?): give default, plain or changes such as "
            "whiten=off, or leave it out (the library keeps its own)"
        )
    problem = descriptor_problem(value) if value is not None else None
    if problem is not None:
        raise click.BadParameter(problem)
    return value


def _check_excludes(
    ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> tuple[str, ...]:
    """Refuse a bad pattern (or an empty one) before any work is done."""
    from indexer.exclude_patterns import ExcludeError, Excludes

    no_empty_values(ctx, param, value)
    try:
        Excludes(value)
    except ExcludeError as error:
        raise click.BadParameter(str(error).removeprefix("--exclude: ")) from None
    return value


def exclude_options(function):  # type: ignore[no-untyped-def]
    """--exclude and --no-exclude: the patterns remembered for the collections a run walks."""
    options = [
        click.option(
            "--exclude",
            "excludes",
            multiple=True,
            metavar="PATTERN",
            callback=_check_excludes,
            help="Skip files and folders matching PATTERN, a .gitignore line relative to "
            "the collection: 'tmp/' or '*/tmp/*' (every tmp folder), '*.raw.jpg' (by name, "
            "any depth), '2020/tmp/' (that one), '**/cache/**'. Repeatable. Remembered for "
            "each collection the run walks, replacing its earlier ones: later runs without "
            "it (index, index PATH, reindex) apply them too [default: the collection's "
            "remembered patterns, `imgsearch stats` lists them].",
        ),
        click.option(
            "--no-exclude",
            is_flag=True,
            help="Forget the remembered --exclude patterns of the collections the run walks: "
            "their files are indexed again.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def given_excludes(excludes: Sequence[str], no_exclude: bool) -> Sequence[str] | None:
    """The patterns a run makes its collections' (``()`` with --no-exclude); None when it
    gives neither option (each collection's remembered ones apply)."""
    if no_exclude and excludes:
        raise click.UsageError("--exclude and --no-exclude together: give one of them")
    if no_exclude:
        return ()
    return excludes or None


def run_options(function):  # type: ignore[no-untyped-def]
    """--workers, --executor, --batch-size, --json and --no-progress."""
    options = [
        click.option(
            "--workers",
            type=click.IntRange(0, MAX_WORKERS),
            default=0,
            show_default=True,
            help="Decoders: a run of 64 files or 32 MB and more decodes and embeds in this "
            "many worker processes (0: one per CPU core; at most 4; 1: threads of this "
            "process); smaller runs, and IMGSEARCH_DECODE_PROCESSES=0, in this many reader "
            "and decoder threads, all decoding from the start (0: one per core, at most 4, "
            "those the model leaves free at first, the others joining while it waits).",
        ),
        click.option(
            "--executor",
            default=None,
            metavar="WHERE",
            envvar="IMGSEARCH_EXECUTOR",
            callback=check_executor_option,
            help="Where images are decoded and embedded: 'local' (this machine's threads) "
            "or a Dask cluster, dask://HOST:PORT (pip install -e '.[distributed]' here and on "
            "each worker; workers get each file's bytes, rows are written here) [default: local; "
            "env var: IMGSEARCH_EXECUTOR].",
        ),
        click.option(
            "--batch-size",
            type=click.IntRange(1, MAX_BATCH_SIZE),
            default=None,
            help="Images per ONNX batch and per database transaction [default: 32].",
        ),
        click.option(
            "--json",
            "as_json",
            is_flag=True,
            help="Print the summary as JSON (added, updated, moved, removed, failed, "
            "images_per_second, unchanged, failures, library, database, library_created ...).",
        ),
        click.option(
            "--no-progress",
            is_flag=True,
            help="No progress bar (it is off anyway when stderr is not a terminal).",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function
