"""A query's views as its :class:`search.descriptor.QueryScorer` asks for them: the upright
ones at once, the turned ones, the parts and the collage cells only when asked (each a batch
through the model), with the count of model inputs embedded."""

from __future__ import annotations

import numpy as np

from models.views import ViewSet
from search.descriptor import Descriptor, MoreViews, QueryRegions


class QueryViews:
    """The views of one query, embedded on demand (:attr:`rows`, :attr:`more`,
    :attr:`regions`); :attr:`embedded` counts the model inputs run so far."""

    def __init__(self, views: ViewSet, descriptor: Descriptor) -> None:
        self.views = views
        self.descriptor = descriptor
        self.frame_dominant = bool(views.frame is not None and views.frame.dominant)
        #: the query rows of the views embedded at first (upright, or every one)
        self.rows = descriptor.query_rows(views.embeddings, views.names, self.frame_dominant)
        self.embedded = len(views.names)
        self._raw = views.embeddings  # the views' raw rows, turned ones too once embedded

    @property
    def more(self) -> MoreViews | None:
        """The turned views' rows, when some are not embedded yet."""
        return None if self.views.complete else self._turned

    @property
    def regions(self) -> QueryRegions | None:
        """The query's parts and collage cells, when the descriptor looks at them."""
        if not self.descriptor.config.regions:
            return None
        return QueryRegions(self._parts, self._cells, lambda: self._raw)

    def _turned(self) -> np.ndarray:
        full = self.views.with_turns()
        n, self.embedded = len(self.views.names), len(full.names)
        self._raw = full.embeddings
        return self.descriptor.query_rows(full.embeddings[n:], full.names[n:], self.frame_dominant)

    def _parts(self) -> tuple[np.ndarray, int]:
        found, cells = self.views.regions()
        self.embedded += len(found)
        return found, cells

    def _cells(self) -> np.ndarray:
        found = self.views.cells()
        self.embedded += len(found)
        return found
