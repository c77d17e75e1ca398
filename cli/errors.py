"""What the CLI says when the world is in the way: one line, what is wrong and what to do.

Commands turn imgsearch's typed errors into messages themselves; :class:`ImgsearchGroup` is the
last resort for what the operating system or the database refuses (a folder that cannot be
written, a port in use, a read-only or locked database), so that no command ever ends in a
traceback (``-vv`` shows it, for bug reports). :func:`writable_output` checks an output path
before a command does its work.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from cli.options import UTF8_LOCALE_HINT
from cli.output import OutputError, output_lost, reader_gone
from cli.refusals import describe_database_error, describe_os_error, os_hint
from cli.stops import sigterm_stops, stopped

DEBUG_KEY = "imgsearch.debug"


class ImgsearchGroup(click.Group):
    """The root group: OS and database refusals become one-line errors (exit 1); Ctrl+C
    says so and exits 130, SIGTERM likewise with 143 and SIGHUP with 129 (``index`` and
    ``serve`` say what it left; :mod:`cli.stops`)."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:  # Ctrl+C while the arguments are read: it was click's "Aborted!", status 1
            return super().make_context(*args, **kwargs)
        except KeyboardInterrupt as stop:
            stopped(stop)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with sigterm_stops():
                return super().invoke(ctx)
        except KeyboardInterrupt as stop:  # (click would say "Aborted!" and exit 1)
            if ctx.meta.get(DEBUG_KEY):
                raise
            stopped(stop)
        except BrokenPipeError:
            reader_gone()
        except OutputError as error:  # a full disk behind `> out.json`
            output_lost(error)
        except OSError as error:
            if ctx.meta.get(DEBUG_KEY):
                raise
            raise click.ClickException(describe_os_error(error)) from None
        except UnicodeEncodeError as error:  # a stored name the locale cannot spell
            if ctx.meta.get(DEBUG_KEY) or sys.getfilesystemencoding().lower() in UTF8:
                raise
            raise click.ClickException(unspellable_name(error)) from None
        except ModuleNotFoundError as error:  # e.g. a PostgreSQL URL without its driver
            if ctx.meta.get(DEBUG_KEY):
                raise
            raise click.ClickException(
                f"a Python package is missing: {error.name}; install it into imgsearch's "
                "environment (e.g. `pip install 'psycopg[binary]'` for PostgreSQL)"
            ) from None
        except Exception as error:
            if ctx.meta.get(DEBUG_KEY) or not is_database_error(error):
                raise
            from search.store import printable_url, sqlite_file

            url = getattr(ctx.obj, "resolved_database_url", "")
            # a SQLite URL's file (without its ?options); a server's URL without its password
            where = str(sqlite_file(url) or (printable_url(url) if url else ""))
            raise click.ClickException(describe_database_error(error, where)) from None


UTF8 = ("utf-8", "utf8")


def unspellable_name(error: UnicodeEncodeError) -> str:
    """Why a file name cannot be used: Python's file names are in the locale's encoding
    (``LC_ALL=C`` with UTF-8 mode and locale coercion turned off: ASCII), and the library
    holds a name that has other characters."""
    name = error.object if isinstance(error.object, str) else ""
    return (
        f"the file name {name!a} has characters that this process's file-name encoding "
        f"({sys.getfilesystemencoding()}) cannot spell; {UTF8_LOCALE_HINT}"
    )


def library_error_text(error: Exception) -> str:
    """``error``'s text; when a server database (``--database-url``) holds no library while
    the library folder holds a SQLite one, it says which one was read and how to read the
    other (PostgreSQL's "no library yet" was all a user who had indexed into SQLite saw)."""
    from search.store import LibraryNotFoundError

    text = str(error)
    ctx = click.get_current_context(silent=True)
    settings = ctx.obj if ctx is not None else None
    url = getattr(settings, "database_url", None)
    sqlite = getattr(settings, "database_path", None)
    if (
        isinstance(error, LibraryNotFoundError)
        and url
        and not url.startswith("sqlite")
        and isinstance(sqlite, Path)
        and sqlite.is_file()
        and sqlite.stat().st_size > 0
    ):
        text += (
            f". This command read the database of --database-url (or IMGSEARCH_DATABASE_URL);"
            f" the SQLite library in {sqlite.parent} is another library: leave both out to"
            " use it"
        )
    return text


def is_database_error(error: BaseException) -> bool:
    """A refusal of the database: sqlite3's, or SQLAlchemy's when a command has loaded it
    (checked without importing SQLAlchemy, so that start-up stays light)."""
    if isinstance(error, sqlite3.Error):
        return True
    exc = sys.modules.get("sqlalchemy.exc")
    return exc is not None and isinstance(error, exc.SQLAlchemyError)


def writable_output(path: Path, what: str = "the output") -> Path:
    """Make sure ``path`` can be written before the work starts: missing parent folders are
    created; an unwritable place is a one-line error. Returns ``path``."""
    parent = path.parent
    held = precious_content(path)
    if held is not None:  # `clusters -o photo.jpg --format text` wrote over the photo
        raise click.ClickException(
            f"will not write {what} to {path}: that file is {held}, and writing would replace "
            "it; give a new file name (or move that file away first)"
        )
    try:
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if path.exists() and not path.is_file():  # /dev/stdout, a pipe: written to as it is
            if not os.access(path, os.W_OK):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
            return path
        parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(prefix=f".{path.name}.", dir=parent):
            pass  # a real write: permissions, read-only mounts, quotas all show here
    except OSError as error:
        message = output_problem(error, parent, f"cannot write {what} to {path}")
        raise click.ClickException(message) from None
    return path


_SQLITE_HEADER = b"SQLite format 3\x00"
_WAL_MAGIC = (b"\x37\x7f\x06\x82", b"\x37\x7f\x06\x83")  # a SQLite write-ahead log


#: containers looks_like_video leaves to their names: Ogg, Flash video, MPEG program stream
_OTHER_VIDEO_MAGIC = (b"OggS", b"FLV\x01", b"\x00\x00\x01\xba")


def precious_content(path: Path) -> str | None:
    """What an existing file at ``path`` holds that an output must never replace, in words:
    a SQLite database or its write-ahead log (a library's), a photo or a video (by content,
    whatever its name); None for anything else, a missing file, or a PNG plot that
    matplotlib made (``eval --plot`` run again)."""
    try:
        if not path.is_file():
            return None
        with open(path, "rb") as handle:
            head = handle.read(32)
    except OSError:
        return None  # the write check says what is wrong with it
    if head.startswith(_SQLITE_HEADER):
        return "a SQLite database (a library's?)"
    if head[:4] in _WAL_MAGIC:
        return "a SQLite write-ahead log (a library's?)"
    from models.files import image_format
    from models.media import is_video_file
    from models.video_names import looks_like_video

    # by its bytes too: an MP4 saved as x.csv was replaced by `dedup -o x.csv`
    if is_video_file(path) or looks_like_video(head[:16]) or head[:4] in _OTHER_VIDEO_MAGIC:
        return "a video"
    kind = image_format(path)
    if kind is None or _made_by_matplotlib(path):
        return None
    return f"an image ({kind})"


def _made_by_matplotlib(path: Path) -> bool:
    """A PNG whose ``Software`` text says matplotlib wrote it (an earlier plot)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return str(image.info.get("Software", "")).startswith("Matplotlib")
    except (OSError, ValueError, SyntaxError, EOFError):
        return False


def writable_folder(folder: Path, what: str = "the output folder") -> Path:
    """Like :func:`writable_output` for a folder the command fills (created if missing)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(prefix=".imgsearch-check.", dir=folder):
            pass
    except OSError as error:
        message = output_problem(error, folder, f"cannot write {what} {folder}")
        raise click.ClickException(message) from None
    return folder


def output_problem(error: OSError, folder: Path, head: str) -> str:
    """``<head>: <reason>; <hint>`` for an output that could not be made in ``folder`` (made
    with its parents when missing), the reason read off the path where the system's misleads:
    mkdir says "File exists" of a file where a folder should be, and "No such file or
    directory" in a folder that exists but takes no new files (/proc)."""
    reason = error.strerror or str(error)
    hint = os_hint(error.errno) or "choose another place"
    blocker = _in_the_way(folder)
    if blocker is not None:
        reason, hint = blocker, "choose another place"
    elif error.errno == errno.ENOENT and (found := _nearest_folder(folder)) is not None:
        reason = f"{found} does not take new files"
        hint = os_hint(errno.EACCES) or hint
    return f"{head}: {reason}; {hint}"


def _in_the_way(folder: Path) -> str | None:
    """Which part of ``folder`` (it or a folder above) is there but no folder, in words;
    None when each part is a folder or missing (mkdir makes those)."""
    full = Path(os.path.abspath(folder))
    try:
        for part in [*reversed(full.parents), full]:
            if part.is_dir():
                continue
            if part.exists():
                return f"{part} is a file, not a folder"
            if part.is_symlink():
                return f"{part} is a link to nothing"
            return None
    except OSError:  # a part that may not be looked into: the system's reason stands
        return None
    return None


def _nearest_folder(folder: Path) -> Path | None:
    """``folder`` or the nearest folder above it that exists."""
    full = Path(os.path.abspath(folder))
    try:
        return next((part for part in [full, *full.parents] if part.is_dir()), None)
    except OSError:
        return None
