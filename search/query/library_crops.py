"""The library's stored crops for the engine (descriptor ``crops=on``): every stored image's
five crops (:mod:`models.crops`) mapped into the library's searched space and kept in one
exact FAISS inner-product index, read on the first query that asks (that query waits: 0.6 s
for 10,000 images, 1.5 s for 40,000) and again after the library changes, not more than once every
:data:`CROPS_REFRESH_S` and on a thread of its own, the queries meanwhile asking the index
they had (a library being indexed while it serves changes every batch).

A query left without a sure copy asks it for the stored images whose crops its upright view
matches best (:data:`CROPS_NOMINATED` distinct images): a crop of a stored photo - half of
each side, turned a little or not - whose own vector ranks the photo under look-alikes. They
join the candidates and go to the key points like the layout's nominees; only key points
raise them (a crop's vector alone is no copy evidence: among a scenes library the best crop
of another picture often matches a noisy or sepia copy better than its original's whole
vector). A library of more than :data:`CROPS_LIBRARY_MAX` images keeps no such index
(128-d whitened rows: 2.5 KB an image).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection

import numpy as np

from models.views import ViewSet
from search.descriptor import LAYOUT_JOINED, LAYOUT_NOMINATED, Descriptor
from search.index import CropIndex
from search.query.library_layouts import LibraryLayouts
from search.query.local_evidence import QueryLocal
from search.query.records import LibraryRecords
from search.store import ModelStamp

log = logging.getLogger(__name__)
LibraryState = tuple[int, "ModelStamp | None"]  # the library's generation, its model

CROPS_NOMINATED = 2  # stored images a query's crops nominate, at most
CROPS_LIBRARY_MAX = 100_000  # images whose crops one engine keeps, at most
CROPS_REFRESH_S = 30.0  # the index is read again at most this often


class LibraryCrops:
    """One engine's crop index, by library generation and descriptor."""

    def __init__(self, records: LibraryRecords) -> None:
        self.records = records
        self._lock = threading.Lock()
        self._built: tuple[int, str, float, CropIndex | None] | None = None
        self._refreshing: threading.Thread | None = None

    def nominees(
        self,
        descriptor: Descriptor,
        upright: np.ndarray,
        state: LibraryState,
        own: Collection[int] = (),
    ) -> list[int]:
        """Ids of the stored images whose crops match the query's ``upright`` raw unit
        embedding best (module doc), but ``own`` (the query's own image: its crops are cut
        from the query itself and would take a nominee's place); [] for a library without
        crops or too large."""
        index = self.index(descriptor, state)
        if index is None:
            return []
        row = descriptor.transform(upright[None])[0]
        found = index.nominees(row, CROPS_NOMINATED + len(own))
        return [i for i in found if i not in own][:CROPS_NOMINATED]

    def index(self, descriptor: Descriptor, state: LibraryState) -> CropIndex | None:
        """The crop index in ``descriptor``'s space of the library ``state`` (generation,
        model): read now when there is none for that space and model (vectors of two models
        are never compared), else the one there is, a fresh read started for a later
        generation."""
        generation, model = state
        space = f"{descriptor.fingerprint}:{model!r}"
        with self._lock:
            built, now = self._built, time.monotonic()
            if built is None or built[1] != space:
                self._built = built = (generation, space, now, self._read(descriptor))
            elif built[0] != generation and now - built[2] >= CROPS_REFRESH_S:
                self._refresh(descriptor, generation, space)
            return built[3]

    def close(self) -> None:
        """Wait for a read in progress (an engine closes its store after this)."""
        thread = self._refreshing
        if thread is not None:
            thread.join()

    def _refresh(self, descriptor: Descriptor, generation: int, space: str) -> None:
        """Read the index again on a thread of its own (one at a time; under ``_lock``)."""
        if self._refreshing is not None and self._refreshing.is_alive():
            return
        self._built = (*self._built[:2], time.monotonic(), self._built[3])  # type: ignore[index]

        def read() -> None:
            try:
                found = self._read(descriptor)
            except Exception:  # a store closed under it, a database gone: the old one stays
                log.warning("cannot read the library's crops again", exc_info=True)
                return
            with self._lock:
                if self._built is not None and self._built[1] == space:
                    self._built = (generation, space, time.monotonic(), found)

        self._refreshing = threading.Thread(target=read, name="imgsearch-crops", daemon=True)
        self._refreshing.start()

    def _read(self, descriptor: Descriptor) -> CropIndex | None:
        index: CropIndex | None = None
        count = 0
        for chunk_ids, vectors in self.records.all_crops():
            count += len(chunk_ids)
            if count > CROPS_LIBRARY_MAX:
                return None
            n, c, d = vectors.shape
            rows = descriptor.transform(vectors.reshape(n * c, d))
            index = index or CropIndex(rows.shape[1])
            index.add(np.repeat(chunk_ids, c), rows)
        return index


class LibraryNominees:
    """The ids a query in doubt asks to join its candidates from the whole library: the
    images its layout nominates (:mod:`search.query.library_layouts`) and, with ``crops``,
    those whose stored crops match its upright view."""

    def __init__(self, records: LibraryRecords) -> None:
        self.layouts = LibraryLayouts(records)
        self.crops = LibraryCrops(records)

    def close(self) -> None:
        self.crops.close()

    def for_query(
        self, descriptor: Descriptor, views: ViewSet, state: LibraryState, local: QueryLocal
    ) -> Callable[[Collection[int]], list[int]]:
        """``nominated(own)`` for one query (``views``: its embedded views; ``own``: the
        images that are the query itself, nominated for nothing); the crops' nominees are also
        kept in ``local.cropped``, for the check."""

        def nominated(own: Collection[int] = ()) -> list[int]:
            found = self.by_layout(views.layout, state[0], own)
            # a region's photo: its file's bytes (local.within), or the whole picture's layout
            whole = self.by_layout(views.whole_layout, state[0], own)
            local.within += [i for i in whole if i not in local.within]
            found += [i for i in local.within if i not in found]
            if descriptor.config.crops and len(views.embeddings):
                upright = views.embeddings[0]
                local.cropped = self.crops.nominees(descriptor, upright, state, own)
                found += [i for i in local.cropped if i not in found]
            return found

        return nominated

    def by_layout(
        self, layout: bytes | None, generation: int, own: Collection[int] = ()
    ) -> list[int]:
        """Ids of the library images whose layouts are in rank order with ``layout``
        (``|rho| >= LAYOUT_JOINED``), the best :data:`LAYOUT_NOMINATED` but ``own`` (the
        query's own image, whose layout is the query's: it would take a nominee's place)."""
        index = self.layouts.index(generation) if layout is not None else None
        if layout is None or index is None:
            return []
        found = index.strongest(layout, LAYOUT_NOMINATED + len(own), at_least=LAYOUT_JOINED)
        return [i for i in found if i not in own][:LAYOUT_NOMINATED]
