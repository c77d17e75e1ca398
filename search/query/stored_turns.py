"""A stored image's turned views, embedded from its file on demand: the witness of a copy that
a query found through a turned view (:mod:`search.descriptor.witness`). The file is read by
its database row only while its bytes are those indexed (else: None, no witness). Kept per
image for as long as the library state the engine serves (a turned copy that many queries
find is embedded once), up to :data:`KEPT` images."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from models import ImgsearchError, is_video_file
from search.descriptor import StoredTurns
from search.library import Searchable
from search.query.guard import ServingGuard
from search.query.records import LibraryRecords, unchanged_bytes

KEPT = 1024  # images whose turned views are kept (a few KB each)


class TurnedViews:
    """The engine's source of stored images' turned views (:meth:`for_state`)."""

    def __init__(self, records: LibraryRecords, guard: ServingGuard) -> None:
        self.records = records
        self.guard = guard
        self._lock = threading.Lock()
        self._state: Searchable | None = None
        self._kept: OrderedDict[int, np.ndarray | None] = OrderedDict()

    def for_state(self, live: Searchable) -> StoredTurns:
        """``turns(image_id)``: that image's turned views [r, D'] in ``live``'s descriptor
        space, embedded by the model ``live`` was indexed with; None when its file cannot be."""

        def turns(image_id: int) -> np.ndarray | None:
            with self._lock:
                if self._state is not live:  # another library state: nothing kept holds
                    self._state, self._kept = live, OrderedDict()
                if image_id in self._kept:
                    self._kept.move_to_end(image_id)
                    return self._kept[image_id]
            rows = self._embed(live, image_id)
            with self._lock:
                if self._state is live:
                    self._kept[image_id] = rows
                    while len(self._kept) > KEPT:
                        self._kept.popitem(last=False)
            return rows

        return turns

    def _embed(self, live: Searchable, image_id: int) -> np.ndarray | None:
        try:
            file = self.records.image_file(image_id)
            if file is None or is_video_file(file.path):
                return None
            data = unchanged_bytes(file)
            if data is None:
                return None
            turned = self.guard.analyzer_for(live.model).turned_embeddings(data)
        except ImgsearchError:  # gone, out of its collection, undecodable, no model
            return None
        return live.descriptor.transform(turned)
