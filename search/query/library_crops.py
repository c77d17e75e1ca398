"""The library's stored crops for the engine (descriptor ``crops=on``): every stored image's
five crops (:mod:`models.crops`) mapped into the library's searched space and kept in one
exact FAISS inner-product index, read on the first query that asks and again after the
library changes (not more than once every :data:`CROPS_REFRESH_S`, as
:mod:`search.query.library_layouts`).

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

import threading
import time
from collections.abc import Sequence

import numpy as np

from search.descriptor import Descriptor
from search.index import CropIndex
from search.query.records import LibraryRecords

CROPS_NOMINATED = 2  # stored images a query's crops nominate, at most
CROPS_LIBRARY_MAX = 100_000  # images whose crops one engine keeps, at most
CROPS_REFRESH_S = 30.0  # the index is read again at most this often


class LibraryCrops:
    """One engine's crop index, by library generation and descriptor."""

    def __init__(self, records: LibraryRecords) -> None:
        self.records = records
        self._lock = threading.Lock()
        self._built: tuple[int, str, float, CropIndex | None] | None = None

    def nominees(self, descriptor: Descriptor, upright: np.ndarray, generation: int) -> list[int]:
        """Ids of the stored images whose crops match the query's ``upright`` raw unit
        embedding best (module doc); [] for a library without crops or too large."""
        index = self.index(descriptor, generation)
        if index is None:
            return []
        return index.nominees(descriptor.transform(upright[None])[0], CROPS_NOMINATED)

    def index(self, descriptor: Descriptor, generation: int) -> CropIndex | None:
        """The crop index for library ``generation`` in ``descriptor``'s space."""
        with self._lock:
            built, now, space = self._built, time.monotonic(), descriptor.fingerprint
            stale = built is None or built[1] != space
            if stale or (built[0] != generation and now - built[2] >= CROPS_REFRESH_S):  # type: ignore[index]
                self._built = built = (generation, space, now, self._read(descriptor))
            return built[3]  # type: ignore[index]

    def _read(self, descriptor: Descriptor) -> CropIndex | None:
        ids: list[np.ndarray] = []
        rows: list[np.ndarray] = []
        count = 0
        for chunk_ids, vectors in self.records.all_crops():
            count += len(chunk_ids)
            if count > CROPS_LIBRARY_MAX:
                return None
            n, c, d = vectors.shape
            ids.append(np.repeat(chunk_ids, c))
            rows.append(descriptor.transform(vectors.reshape(n * c, d)))
        if not rows:
            return None
        return CropIndex(np.concatenate(ids), np.concatenate(rows))


def crop_positions(ids: Sequence[int], nominated: Sequence[int]) -> list[tuple[int, float]]:
    """``(position in ids, 1.0)`` of the crop nominees among a query's candidates."""
    at = {int(i): n for n, i in enumerate(ids)}
    return [(at[i], 1.0) for i in nominated if i in at]
