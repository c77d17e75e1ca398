"""Errors of the library database (the store): missing, newer schema, damaged, busy."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from models.errors import ImgsearchError

if TYPE_CHECKING:
    from search.store.records import ModelStamp


class LibraryError(ImgsearchError):
    """Something is wrong with the library as a whole."""


class LibraryNotFoundError(LibraryError):
    """No library at the given place yet (nothing has been indexed)."""


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (``sqlite:///PATH[?options]``); None for another database."""
    if not url.startswith("sqlite:///"):
        return None
    return Path(url.removeprefix("sqlite:///").partition("?")[0])


def require_database(url: str) -> None:
    """Raise :class:`LibraryNotFoundError` when ``url`` names a SQLite file that does not exist
    (said before anything heavy is imported or created)."""
    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise LibraryNotFoundError(
            f"no library database at {path}; run `imgsearch index PATH` to create one"
        )


def no_library_yet(url: object) -> LibraryNotFoundError:
    """The error of an intact database without any table (a zero-byte file, a new server
    database): nothing was indexed into it yet, and ``index`` makes the library (``db
    upgrade`` would only make an empty one). ``url`` is the engine's SQLAlchemy URL."""
    server = url.get_backend_name() != "sqlite"  # type: ignore[attr-defined]
    where = url.render_as_string() if server else url.database  # type: ignore[attr-defined]
    return _no_library_at(where, server=server)


def require_library_file(url: str) -> None:
    """A zero-byte SQLite file holds no library yet: said before SQLite is opened on it (a
    reader's connection would write a header into it)."""
    path = sqlite_file(url)
    if path is not None and path.is_file() and path.stat().st_size == 0:
        raise _no_library_at(str(path), server=False)


def _no_library_at(where: str, *, server: bool) -> LibraryNotFoundError:
    return LibraryNotFoundError(
        f"{where} has no imgsearch library yet (no tables): `imgsearch "
        f"{'--database-url URL ' if server else ''}index PATH` creates one"
    )


class SchemaError(LibraryError):
    """The database schema is newer than this program, or not an imgsearch database."""


class ModelMismatchError(LibraryError):
    """The library was built with another model than the one asked for."""


def model_mismatch(current: ModelStamp, asked: ModelStamp) -> ModelMismatchError:
    """The error of a library of ``current``'s vectors asked to take ``asked``'s."""
    return ModelMismatchError(
        f"this library was indexed with {current.name} (sha256 {current.sha256[:12]}…), "
        f"not {asked.name} (sha256 {asked.sha256[:12]}…); vectors of two models are never "
        f"mixed. Use --model {current.name}, or switch the whole library with "
        f"`imgsearch reindex --model {asked.name}`"
    )


class ReindexingError(LibraryError):
    """The library is being re-indexed (or a re-index was interrupted): its vectors are not
    all of one model yet, so searches are refused rather than answered wrongly."""


class DatabaseCorruptError(LibraryError):
    """The library's database file is damaged (truncated, bad header, flipped bytes)."""


class LibraryBusyError(LibraryError):
    """Another process is writing to this library (an index run is in progress)."""


class LibraryReadOnlyError(LibraryError):
    """The library was opened read-only (it cannot be written by this user, or
    ``IMGSEARCH_READ_ONLY``) and a command needs to write it."""
