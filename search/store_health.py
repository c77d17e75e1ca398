"""The store's reads about the library's health: what a server may answer with (the model,
an unfinished re-index) and whether the database file is intact.

Mixed into :class:`search.store.Store` (kept apart so each module stays small).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import NamedTuple

from sqlalchemy import delete, exists, func, select, text
from sqlalchemy.orm import Session

from search.schema import STATUS_OK, Embedding, Image, LibraryMeta
from search.store_types import ModelStamp
from search.store_write import model_stamp_in

#: meta key set while a re-index to another model (or the same one) is unfinished
REINDEX_KEY = "reindex_model"


class ServingState(NamedTuple):
    """The library's model and, while a re-index is unfinished, the model it switches to."""

    model: ModelStamp | None
    reindex: str | None


class StoreHealthMixin:
    """Needs ``self.session()`` (a transaction context manager)."""

    def session(self) -> AbstractContextManager[Session]:  # pragma: no cover - Store's
        raise NotImplementedError

    def serving_state(self) -> ServingState:
        """The recorded model and the unfinished re-index marker, read in one transaction."""
        with self.session() as session:
            marker = session.get(LibraryMeta, REINDEX_KEY)
            return ServingState(model_stamp_in(session), marker.value if marker else None)

    def set_reindex(self, model: str | None) -> None:
        """Mark a re-index to ``model`` as started (None: finished)."""
        with self.session() as session:
            if model is None:
                session.execute(delete(LibraryMeta).where(LibraryMeta.key == REINDEX_KEY))
            else:
                session.merge(LibraryMeta(key=REINDEX_KEY, value=model))

    def unembedded_count(self) -> int:
        """Indexed images (status ok) that have no vector: what a re-index still has to do."""
        has_vector = exists().where(Embedding.image_id == Image.id)
        query = (
            select(func.count()).select_from(Image).where(Image.status == STATUS_OK, ~has_vector)
        )
        with self.session() as session:
            return int(session.scalar(query) or 0)

    def integrity_problems(self, *, quick: bool = True, limit: int = 20) -> list[str]:
        """SQLite's ``quick_check`` (or the full ``integrity_check``): the problems found,
        an empty list for an intact database. Other databases check themselves: []."""
        with self.session() as session:
            if session.get_bind().dialect.name != "sqlite":
                return []
            pragma = "quick_check" if quick else "integrity_check"
            rows = [str(r[0]) for r in session.execute(text(f"PRAGMA {pragma}({int(limit)})"))]
        return [] if rows == ["ok"] else rows
