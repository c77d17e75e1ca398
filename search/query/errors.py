"""Errors of queries: bad parameters, unknown images, answers refused."""

from __future__ import annotations

from models.errors import ImgsearchError
from search.store import LibraryError


class ImageNotFoundError(ImgsearchError, LookupError):
    """No image with that id (or path) in the library."""


class QueryError(ImgsearchError, ValueError):
    """A query parameter is invalid (k, min_score, the kind of query object)."""


class PathEscapeError(ImageNotFoundError):
    """An image's stored path resolves outside its collection root (e.g. a symlink); refused.
    ``rel_path`` and ``root`` are kept apart: a server on the network must not name the root's
    absolute folder (``web.errors`` words it for each client)."""

    def __init__(self, image_id: int, rel_path: str, root: str) -> None:
        self.image_id, self.rel_path, self.root = image_id, rel_path, root
        super().__init__(f"image {image_id}: {rel_path} leads outside {root}")

    def __reduce__(self) -> tuple[type[PathEscapeError], tuple[int, str, str]]:
        return type(self), (self.image_id, self.rel_path, self.root)


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
