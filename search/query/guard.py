"""What keeps a running server's answers consistent: the query model, the FAISS cache and
the descriptor always belong to the library's current model.

Held by :class:`search.query.engine.SearchEngine` as ``engine.guard``. A query reads the store's
serving state (model, unfinished re-index) before and after it runs: while a re-index is
unfinished it is refused with :class:`ReindexingError` (the web answers 503 "reindexing"); when
the model changed since the cache was loaded, the cache and the query model are reloaded first;
when it changed while the query ran, the answer is refused instead of mixing two models.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from models import ImageAnalyzer, ModelError
from search.library import Searchable, unreached, way_out
from search.store import ModelMismatchError, ModelStamp, ReindexingError, ServingState

if TYPE_CHECKING:
    from search.library import Library
    from search.settings import Settings
    from search.store import LibraryStore


#: what an answer from a library image's stored vectors says when the model cannot load
MODEL_UNAVAILABLE_NOTE = (
    "The library's model cannot be loaded: these results come from image {image_id}'s stored "
    "vectors (the image itself is not listed), as `imgsearch similar {image_id}` gives them"
)


class ServingGuard:
    """The query model and the searched state of one library, kept of one model."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self.store: LibraryStore = library.store
        self.settings: Settings = library.settings
        self._lock = threading.Lock()
        self._analyzer: ImageAnalyzer | None = None
        #: a query was refused for an unfinished re-index: the next one reloads the cache
        self._reindex_seen = False

    def analyzer_for(self, model: ModelStamp | None) -> ImageAnalyzer:
        """The analyzer of ``model`` (the one the searched vectors were made with); another
        model than the loaded one is loaded in its place (after `reindex --model`)."""
        with self._lock:
            current = self._analyzer
            if current is None or (model is not None and current.model.name != model.name):
                loaded = self.library.load_model(model.name if model is not None else None)
                self._analyzer = ImageAnalyzer(
                    loaded, decode_workers=0, max_pixels=self.settings.max_image_pixels
                )
            return self._analyzer

    def model_loads(self) -> bool:
        """Whether the library's model can be opened (it is kept open once it was): without
        it, a query by a library image answers from its stored vectors."""
        try:
            self.analyzer_for(None)
        except (ModelError, ModelMismatchError):
            return False
        return True

    def live(self, state: ServingState) -> Searchable:
        """The searched state, checked against the store's ``state`` (read by the query, which
        compares it again at its end): refused (ReindexingError) while a re-index is
        unfinished, reloaded when the library's model changed since it was loaded; a query
        then embeds with :meth:`analyzer_for` ``(live.model)``."""
        self._refuse_reindexing(state)
        live = self.library.searchable()
        # the first query after a re-index finished must not wait for the generation poll:
        # the cache loaded meanwhile holds only the vectors re-embedded so far
        if live.model != state.model or self._reindex_seen:
            live = self.library.reload()
            self._reindex_seen = False
        return live

    def check_serving(self) -> None:
        """Refuse (ReindexingError) while a re-index is unfinished: for answers that need no
        searched state (clusters, outliers, the map)."""
        self._refuse_reindexing(self.store.health.serving_state())

    def _refuse_reindexing(self, state: ServingState) -> None:
        if state.reindex is None:
            return
        self._reindex_seen = True
        counts = self.store.counts()
        # until the new model is bound, the vectors left are the old model's, being dropped
        # (a 503 said "509 of 509 images embedded", then "0 of 509")
        new = state.model is not None and state.model.name == state.reindex
        done = f"{counts['vectors'] if new else 0} of {counts['images']} images embedded"
        if self.library.writer_active():
            raise ReindexingError(
                f"the library is being re-indexed with {state.reindex} ({done}); searches are "
                "refused until it has finished, so that no answer mixes two models"
            )
        if self.store.health.serving_state().reindex is None:  # it ended since ``state``
            raise ReindexingError(
                f"a re-index with {state.reindex} has just finished ({done}); ask again"
            )
        blocked = unreached(self.store)  # `imgsearch index` cannot embed what it cannot reach
        if blocked:
            raise ReindexingError(
                f"a re-index with {state.reindex} is unfinished ({done}): "
                f"{way_out(blocked, state.reindex)} (searches are refused until then, so that "
                "no answer mixes two models)"
            )
        raise ReindexingError(
            f"a re-index with {state.reindex} was interrupted ({done}); run `imgsearch index` "
            "to finish it (searches are refused until then, so that no answer mixes two models)"
        )

    def check_unchanged(self, before: ServingState) -> None:
        """After a query: refuse its answer if the model changed while it ran."""
        after = self.store.health.serving_state()
        if after != before:
            self._refuse_reindexing(after)
            raise ReindexingError("the library's model changed during this query; ask again")
