"""Typed errors of the library layer (store, index, engine)."""

from __future__ import annotations

from models.errors import ImgsearchError


class LibraryError(ImgsearchError):
    """Something is wrong with the library as a whole."""


class LibraryNotFoundError(LibraryError):
    """No library at the given place yet (nothing has been indexed)."""


class SchemaError(LibraryError):
    """The database schema is newer than this program, or not an imgsearch database."""


class ModelMismatchError(LibraryError):
    """The library was built with another model than the one asked for."""


class ImageNotFoundError(ImgsearchError, LookupError):
    """No image with that id (or path) in the library."""


class NoLabelsError(LibraryError):
    """The library's model has no class head, so its images have no labels to search.
    The one wording of this answer, for the CLI and the web alike."""

    def __init__(self, model: str) -> None:
        self.model = model
        super().__init__(
            f"this library's model {model} has no class labels (an embedding-only model), so "
            "there are no labels to search; `imgsearch reindex --model mobilenet_v3_small_100` "
            "switches it to a model with labels"
        )


class ReindexingError(LibraryError):
    """The library is being re-indexed (or a re-index was interrupted): its vectors are not
    all of one model yet, so searches are refused rather than answered wrongly."""


class DatabaseCorruptError(LibraryError):
    """The library's database file is damaged (truncated, bad header, flipped bytes)."""
