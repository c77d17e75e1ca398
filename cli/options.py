"""Options shared by commands of several modules (no imports beyond click and models)."""

from __future__ import annotations

import math
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from cli.stdin_input import STDIN
from models.errors import RoiError
from models.roi import UNITS_HELP, RegionOfInterest, parse_roi
from search.units import is_utf8_name

F = TypeVar("F", bound=Callable[..., Any])
ROI_HINT = "'--roi'"
IMAGE_HINT = "give an image file"  # what an empty IMAGE argument is told to be


def _refuse_empty(
    kind: click.ParamType, value: Any, hint: str, param: click.Parameter | None, ctx: Any
) -> None:
    """A usage error naming ``param`` when ``value`` is "" or blank (``"$X"`` of an unset
    variable), saying what to give instead (``hint``)."""
    if isinstance(value, str) and not value.strip():
        kind.fail(f"is empty (an unset variable?): {hint}", param, ctx)


class NonEmptyPath(click.Path):
    """A path argument that refuses "" (``"$DIR"`` of an unset variable): to the file system
    it is the current folder, which `index` then indexed, `remove` removed whole and
    ``--library`` wrote a database into; `search ""` said ".: is a directory". ``hint``: what
    to give instead. ``stored``: a name the library records or looks up (collections,
    removals, its own folder) must be valid UTF-8, as the index's walk requires."""

    def __init__(
        self, *args: Any, hint: str = "give a file or folder", stored: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.hint = hint
        self.stored = stored  # the name goes into the library: it must be valid UTF-8

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        _refuse_empty(self, value, self.hint, param, ctx)
        if self.stored and isinstance(value, str) and not is_utf8_name(value):  # was a traceback
            self.fail(_not_utf8(os.fsencode(value)), param, ctx)
        if not self.dir_okay and isinstance(value, str) and value.endswith(os.sep):
            # a folder's name: Path() drops the "/", and `-o out/r.html/` wrote out/r.html
            self.fail(f"{value!r} ends with {os.sep!r}, a folder's name: {self.hint}", param, ctx)
        return super().convert(value, param, ctx)


#: what to do when this process cannot spell a file name (an ASCII locale, UTF-8 mode off)
UTF8_LOCALE_HINT = "run with a UTF-8 locale (e.g. LC_ALL=C.UTF-8) or PYTHONUTF8=1"


def _not_utf8(name: bytes) -> str:
    """Why a stored name is refused: it is not UTF-8, or it is and this process cannot spell
    it (an ASCII locale with Python's UTF-8 mode and locale coercion off)."""
    try:
        name.decode("utf-8")
    except UnicodeDecodeError:
        return (
            f"{name!r}: the name is not valid UTF-8 (rename it; the library keeps names as "
            "text, and the index skips such files)"
        )
    return (
        f"{name!r}: this process's file-name encoding ({sys.getfilesystemencoding()}) cannot "
        f"spell the name; {UTF8_LOCALE_HINT}"
    )


class NonEmptyText(click.ParamType):
    """A text argument that refuses "" like :class:`NonEmptyPath` (`db upgrade ""` was
    Alembic's AssertionError, a traceback)."""

    name = "text"

    def __init__(self, hint: str) -> None:
        self.hint = hint

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        _refuse_empty(self, value, self.hint, param, ctx)
        return value


class ModelName(NonEmptyText):
    """A --model option's type: a model of the catalog or of the model search path. An
    unknown name was an error met while running (exit 1) where README's table says a bad
    option value is a usage error (exit 2); "" (an unset variable) was the default model, or
    "unknown model ''"."""

    name = "model"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        value = super().convert(value, param, ctx)
        settings = ctx.find_root().obj if ctx is not None else None
        search_path = getattr(settings, "model_path", None)
        if search_path is not None:
            from models import UnknownModelError, get_spec

            try:
                get_spec(value, search_path)
            except UnknownModelError:
                from search.library import model_search_path

                try:  # a user's model in the folder the library remembers (it reads the store)
                    get_spec(value, model_search_path(settings))
                except UnknownModelError as error:
                    self.fail(str(error), param, ctx)
        return value


MODEL_NAME = ModelName("give a model name (imgsearch models list), or leave it out")


def no_empty_values(
    _ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]
) -> tuple[str, ...]:
    """A callback for repeatable pattern and name options (``--exclude``, ``--allow-host``,
    ``--allow``, ``--deny``): "" (``--exclude "$PATTERN"`` of an unset variable) matches
    nothing and was accepted silently; it is now a usage error naming the option (exit 2)."""
    if any(not text.strip() for text in value):
        raise click.BadParameter("is empty (an unset variable?): give a value, or leave it out")
    return value


def folder_list_problem(value: str, passed_over: bool = False) -> str | None:
    """What is wrong with a ':'-separated list of folders to search for model files, if
    anything: an empty list or entry, or an entry that is no folder. ``passed_over``: a folder
    that may not be looked at is no problem here (the model search warns when it passes it
    over: two warnings said the same)."""
    if not value.strip():
        return "is empty (an unset variable?): give a folder, or leave it out"
    for part in value.split(os.pathsep):
        if not part.strip():
            return f"{value!r} has an empty entry: give folders, ':'-separated"
        folder = Path(part.strip()).expanduser()
        try:
            is_folder = folder.is_dir()
        except OSError as error:  # a folder of another user's (permission denied)
            if passed_over:
                continue
            return f"{part}: cannot be looked at ({error.strerror.lower()})"
        if not is_folder:
            why = "not a folder" if folder.exists() else "no such folder"
            return f"{part}: {why} (a folder to search for model files)"
    return None


def existing_folders(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """A callback for ``--model-path``: every ':'-separated entry must be a folder. A typo
    was searched silently, and once a library remembers its model folder nothing said that
    the folder given was never there."""
    problem = None if value is None else folder_list_problem(value)
    if problem:
        raise click.BadParameter(problem)
    return value


def input_file_problem(path: str | os.PathLike[str]) -> str | None:
    """What makes ``path`` no image file to read, in click's words for its own path checks:
    nothing there, a folder, or no regular file (a FIFO, a device, a socket: only regular
    files are read). None when it is a regular file, or cannot be looked at (a folder that may
    not be read: the reading says so, exit 1)."""
    name = os.fspath(path)
    if name == STDIN:
        return None  # standard input: stdin_image reads it
    try:
        st = os.stat(name)
    except FileNotFoundError:
        from models.files import url_as_typed, url_hint

        shown = url_as_typed(name) or name
        return f"File {shown!r} does not exist.{url_hint(shown)}"
    except (OSError, ValueError):
        return None
    if stat.S_ISDIR(st.st_mode):
        return f"File {name!r} is a directory."
    if not stat.S_ISREG(st.st_mode):
        from models.files import file_kind

        kind = file_kind(st.st_mode)
        return (
            f"File {name!r} is {kind}, not an image file: only regular files are read (give "
            "'-' to read the image from standard input)."
        )
    return None


def check_input_file(path: str | os.PathLike[str], param_hint: str = "'IMAGE'") -> None:
    """An image argument that names no regular file is a usage error (exit 2, before any
    work), in every command alike (README, "Exit status")."""
    problem = input_file_problem(path)
    if problem is not None:
        raise click.BadParameter(problem, param_hint=param_hint)


def failed_status(images: tuple[str, ...] | list[str]) -> int:
    """The exit status of a run some of whose IMAGES failed: 2 when one of them names no
    regular file (a usage error, as for every command's image argument), else 1."""
    return 2 if any(input_file_problem(path) for path in images) else 1


class FiniteRange(click.FloatRange):
    """click.FloatRange that refuses nan and inf: nan passes every comparison, so a range
    took it (`lookup --threshold nan` failed later, exit 1; `eval run --threshold nan --json`
    printed NaN, which is no JSON). The same usage error as any value out of the range."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            unbounded = self.min is None and self.max is None
            where = "a finite number" if unbounded else f"in the range {self._describe_range()}"
            self.fail(f"{number} is not {where}.", param, ctx)
        return number


def ranged_option(
    *decls: str,
    default: float,
    low: float | None = None,
    high: float | None = None,
    help_text: str,
    **extra: Any,
) -> Callable[[F], F]:
    """A number option with its default shown, refused outside ``[low, high]`` (a usage
    error naming it): whole numbers for an ``int`` default and bounds, else decimals."""
    whole = all(isinstance(v, int) for v in (default, low, high) if v is not None)
    kind = click.IntRange(low, high) if whole else FiniteRange(low, high)
    return click.option(
        *decls, default=default, show_default=True, type=kind, help=help_text, **extra
    )


def names_option(flag: str, help_text: str) -> Callable[[F], F]:
    """A repeatable ``NAME`` option that refuses "" (:func:`no_empty_values`)."""
    return click.option(
        flag, multiple=True, metavar="NAME", callback=no_empty_values, help=help_text
    )


def _parse_roi(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> RegionOfInterest | None:
    """``--roi`` checked before any work: a bad region is a usage error (exit 2)."""
    if value is None:
        return None
    try:
        return parse_roi(value)
    except RoiError as error:
        raise click.BadParameter(str(error)) from None


def roi_option(what: str) -> Callable[[F], F]:
    """The ``--roi`` option of every command that takes one (same units, same errors)."""
    return click.option(
        "--roi", callback=_parse_roi, metavar="L,T,R,B|px:L,T,R,B", help=f"{what}: {UNITS_HELP}."
    )


def bad_roi(message: str) -> click.BadParameter:
    """A region that does not fit the image (known only once it is decoded): exit 2."""
    return click.BadParameter(message, param_hint=ROI_HINT)


def _flag_names() -> list[str]:
    from models.quality import FLAGS

    return [*FLAGS, "any"]


CLI_FLAG_NAMES = ("--flag", "--exclude-flag")
"""What errors of the quality filter call its two options on the command line."""


def flag_options(func: F) -> F:
    """``--flag`` / ``--exclude-flag`` (repeatable): keep images with at least one of the
    ``--flag`` quality flags ("any": any flag) and none of the excluded ones."""
    choice = click.Choice(_flag_names(), case_sensitive=False)
    func = click.option(
        "--exclude-flag",
        "exclude_flags",
        multiple=True,
        type=choice,
        help="Leave out images with this quality flag (repeatable).",
    )(func)
    return click.option(
        "--flag",
        "flags",
        multiple=True,
        type=choice,
        help="Only images with this quality flag (repeatable: any of them; 'any': any flag).",
    )(func)


def dash_is_stdout(value: Path | None) -> Path | None:
    """An ``--output`` of ``-`` is standard output, as for other tools (None: it was written to
    a file named ``-``)."""
    return None if value is not None and str(value) == "-" else value
