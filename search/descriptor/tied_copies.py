"""Copies tied on their vectors, ordered by their key points.

Two shots of one scene taken seconds apart (a UKBench object's views, a burst) embed all but
alike, and an edit of one of them - a crop, a grey copy - can score as high against the other
shot as against its own photo: three blind hold-outs (seeds 2027-2029, 25 edit kinds) had
the other shot first in 14-20 of 3,600-3,750 queries a library, 0.0002-0.014 behind on the
copy score, both flagged. The photo the query was made from holds far more of the query's
key points (its very pixels) than another shot does (the scene seen from elsewhere). So when
the leading hits are copies whose scores lie within :data:`TIE_SCORE` of each other, the
one whose key points match the query's most (ORB + RANSAC,
:func:`search.descriptor.verify.count_inliers`, read by the engine's key-point witness) is
put first; the others keep their order, and every copy score, ``z`` and flag stays. Measured
in bench/README.md ("Tied copies ordered by their key points")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from search.descriptor.expansion import SELF_SCORE
from search.descriptor.verify import MIN_INLIERS

TIE_SCORE = 0.01  # copy scores this close to the first hit's are tied
TIED_ASKED = 4  # leading copies whose key points are counted, at most
FIRST_BY = 1e-6  # the copy put first is ranked this far over the one it passed


@runtime_checkable
class CountsInliers(Protocol):
    """A key-point witness that can count a library image's matches with the query."""

    def inliers(self, image_id: int) -> int | None:
        """The image's key points consistent with the query's under one transform (None:
        cannot tell - its file gone or changed, no OpenCV, the query's budget spent)."""


def tied_copies_first(
    duplicate: np.ndarray,
    order: Sequence[int],
    ids: Sequence[int],
    copy: np.ndarray,
    rank: np.ndarray,
    witness: CountsInliers,
) -> tuple[np.ndarray, list[int]]:
    """``(rank, order)`` with the leading copies tied on ``copy`` (positions ``order``, best
    first; ``duplicate``: their decisions) ordered by their key points: the one matching the
    query's most goes first, when it matches by :data:`MIN_INLIERS` or more and more than the
    first hit does. Nothing is asked unless two copies lead (not the query's own file)."""
    order = list(order)
    if not order:
        return rank, order
    first = order[0]
    tied: list[int] = []
    for n in order[:TIED_ASKED]:
        if not duplicate[n] or copy[n] >= SELF_SCORE or abs(copy[n] - copy[first]) > TIE_SCORE:
            break
        tied.append(n)
    if len(tied) < 2:
        return rank, order
    counts: dict[int, int] = {}
    for n in tied:
        found = witness.inliers(ids[n])
        if found is None:
            if n == first:
                return rank, order  # nothing to compare the others with
            break
        counts[n] = found
    best = max(counts, key=lambda n: (counts[n], -tied.index(n)))
    if best == first or counts[best] < MIN_INLIERS or counts[best] <= counts[first]:
        return rank, order
    rank = np.array(rank, copy=True)
    rank[best] = float(rank[first]) + FIRST_BY
    return rank, [best, *(n for n in order if n != best)]
