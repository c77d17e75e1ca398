"""Every stored image's crops (:mod:`models.crops`, descriptor ``crops=on``) in one exact
FAISS inner-product index: the rows of the searched space, each with its image's id. Used by
:mod:`search.query.library_crops` to nominate the images whose crops match a query."""

from __future__ import annotations

import numpy as np

from search.index.faiss_lib import faiss

SEARCHED = 24  # crop rows read per query before distinct images are picked


class CropIndex:
    """Image ids of crop rows and the rows themselves (exact inner product)."""

    def __init__(self, dimension: int) -> None:
        self.index = faiss.IndexFlatIP(dimension)
        self.ids = np.zeros(0, np.int64)

    def add(self, ids: np.ndarray, rows: np.ndarray) -> None:
        """Rows [n, D] of the images ``ids`` [n] (an image's crops: one row each)."""
        self.index.add(np.ascontiguousarray(rows, np.float32))
        self.ids = np.concatenate([self.ids, np.asarray(ids, np.int64)])

    def nominees(self, query: np.ndarray, limit: int) -> list[int]:
        """Ids of the ``limit`` stored images whose best crop matches the ``query`` row
        [D'] best, best first."""
        if not self.index.ntotal or limit <= 0:
            return []
        row = np.ascontiguousarray(query, np.float32).reshape(1, -1)
        _, found = self.index.search(row, min(SEARCHED, self.index.ntotal))
        out: list[int] = []
        for position in found[0].tolist():
            image_id = int(self.ids[position]) if position >= 0 else -1
            if image_id >= 0 and image_id not in out:
                out.append(image_id)
        return out[:limit]
