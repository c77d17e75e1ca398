"""The plain embedding's best candidate, nominated for the key points.

A learned descriptor (whitening, label fusion) ranks copies better on average, but not every
copy: a photo under a large sticker, or posterised, kept its original first by the plain
embedding's cosine while the whitened space put a look-alike first and the original past the
grey band the key points read (bench/README.md, "The plain embedding's first candidate").
So a query the descriptor leaves unsettled also has the candidate that the plain embedding
ranks first checked by its key points, when the descriptor ranks another first: where the two
rankings disagree, the geometry decides. The plain ranking is taken over the query's
candidates (the union of its views' nearest stored images), by the cosine of the query's
upright view with each stored raw vector.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

PLAIN_NOMINATED = 1  # candidates nominated per query, at most


def plain_nominees(
    query: np.ndarray,
    ids: Sequence[int],
    copy: np.ndarray,
    vectors: Mapping[int, np.ndarray],
    floor: float,
    limit: int = PLAIN_NOMINATED,
) -> list[int]:
    """Positions in ``ids`` of the best ``limit`` candidates by the plain cosine of ``query``
    (the upright view's raw embedding) with their stored raw ``vectors``, leaving out the
    descriptor's own first (its best ``copy`` score) and those already at ``floor`` (sure or
    confirmed): each is nominated only where the two rankings disagree."""
    if not len(ids):
        return []
    copy = np.asarray(copy, np.float64)
    first = int(np.argmax(copy))
    known = [n for n in range(len(ids)) if int(ids[n]) in vectors]
    if not known:
        return []
    stack = np.stack([np.asarray(vectors[int(ids[n])], np.float32) for n in known])
    cosine = stack @ np.asarray(query, np.float32).reshape(-1)
    order = [known[m] for m in np.argsort(-cosine, kind="stable")[:limit]]
    return [n for n in order if n != first and copy[n] < floor]
