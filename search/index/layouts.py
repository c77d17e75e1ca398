"""Every stored image's grey-level layout in one FAISS index, for the layouts that a query's
vector never brought near: a sepia or inverted duotone copy's original can rank outside the
50 candidates of every view (scenes-450: most of the sepia misses).

Each layout's mean ranks (0-255, :func:`search.descriptor.layout_rank_levels`) are the 256
one-byte codes of an 8-bit scalar quantizer over 0-255 (``QT_8bit_uniform``; FAISS 1.15's
``QT_8bit_direct`` gave zero inner products from 32 dimensions up), searched by inner
product with the query's centred ranks - the covariance of the two rank orders, which the
stored row's norm turns into Spearman's rho. A search asks for the query and its inversion
(the most negative rho): 256 bytes an image, two scans, 2-3.5 ms for 100,000 images on one
core.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from models import LAYOUT_BYTES
from search.index.faiss_lib import faiss

SEARCHED = 8  # rows read per sign before the exact rho picks the nominees


class LayoutIndex:
    """Image ids and their layouts' rank codes (FAISS ``IndexScalarQuantizer``)."""

    def __init__(self, ids: Sequence[int], layouts: Sequence[bytes]) -> None:
        from search.descriptor import RANK_BLOCK, layout_rank_levels

        self.ids = np.asarray(ids, np.int64)
        self.norms = np.zeros(len(self.ids), np.float32)
        self.index = faiss.IndexScalarQuantizer(
            LAYOUT_BYTES, faiss.ScalarQuantizer.QT_8bit_uniform, faiss.METRIC_INNER_PRODUCT
        )
        self.index.train(np.array([[0.0] * LAYOUT_BYTES, [255.0] * LAYOUT_BYTES], np.float32))
        for start in range(0, len(layouts), RANK_BLOCK):  # bounded temporaries
            levels = layout_rank_levels(layouts[start : start + RANK_BLOCK])
            # mean ranks always average 127.5 (ties share theirs): centred without a mean
            self.norms[start : start + len(levels)] = np.linalg.norm(levels - 127.5, axis=1)
            self.index.add(levels)

    def __len__(self) -> int:
        return len(self.ids)

    def strongest(
        self, query: bytes, limit: int, exclude: int | None = None, at_least: float | None = None
    ) -> list[int]:
        """Ids of up to ``limit`` images whose layouts are in rank order with ``query`` or
        its inversion (``|rho| >= at_least``, ``LAYOUT_MATCH`` unless given), strongest first;
        ``exclude`` left out."""
        from search.descriptor import LAYOUT_MATCH, layout_matches, layout_ranks

        if not len(self) or limit <= 0:
            return []
        q = layout_ranks([query])[0]
        found, positions = self.index.search(np.stack([q, -q]), min(SEARCHED, len(self)))
        rows = positions.ravel()
        left_out = -1 if exclude is None else int(exclude)
        keep = (rows >= 0) & (self.ids[np.maximum(rows, 0)] != left_out)
        rows, covariance = rows[keep], found.ravel()[keep]
        signs = np.repeat([1.0, -1.0], positions.shape[1])[keep]
        norms = self.norms[rows]
        rho = np.where(norms > 0, signs * covariance / np.where(norms > 0, norms, 1.0), 0.0)
        unique, first = np.unique(rows, return_index=True)
        picked = layout_matches(rho[first], limit, LAYOUT_MATCH if at_least is None else at_least)
        return [int(self.ids[unique[n]]) for n, _ in picked]
