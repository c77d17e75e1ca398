"""The shown order once the witnesses have decided a query's copies.

The scorer ranks its candidates before the key points are asked; what the witnesses decide
then moves some of them: a copy of the query's copies (:mod:`search.descriptor.vouched`) is
raised to the decision, a part's match that its key points refute goes back to the whole
query's score (:mod:`search.descriptor.regional`), and a **look-alike** - past the decision
by its vectors, but its key points (or its copies') say it is no copy - is ranked under every
copy that kept the decision: a photo of another scene under the same heavy filter scored
0.978 against the query, its key points matched nothing, and it stood above the query's
original that the key points confirmed. Its copy score and ``z`` stay what its vectors gave
(the hit still says why it is no copy).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from search.descriptor.descriptors import Descriptor
from search.descriptor.vouched import at_the_decision
from search.descriptor.witness import Decisions

UNDER_COPIES = 1e-6  # a look-alike's rank score is kept this far under the least copy's


def decided_order(
    descriptor: Descriptor,
    decided: Decisions,
    order: Sequence[int],
    ids: Sequence[int],
    copy: np.ndarray,
    rank: np.ndarray,
    labels: np.ndarray | None,
    reached: np.ndarray | None,
    restored: Sequence[int] = (),
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """``(copy, rank, order)`` of the shown positions ``order`` after the decisions
    ``decided``: vouched copies at the decision, the positions ``restored`` (a refuted part's
    match, already at the whole query's score) ranked by it, look-alikes under the copies."""
    order = list(order)
    if decided.vouched or restored:
        cal = descriptor.calibration
        assert cal is not None  # (decided: calibrated)
        copy = at_the_decision(copy, list(decided.vouched), cal.duplicate_threshold())
        if reached is not None:
            reached = np.maximum(reached, copy)
            reached[list(restored)] = copy[list(restored)]
        rank = descriptor.rank_scores(copy, labels, reached)
    shown = rank  # the look-alikes' under the copies; ties kept in ``rank``'s order
    copies = [n for n in order if decided.duplicate[n]]
    if copies and decided.lookalike:
        least = min(float(rank[n]) for n in copies)
        lookalikes = list(decided.lookalike)
        shown = np.array(rank, np.float32)
        shown[lookalikes] = np.minimum(shown[lookalikes], least - UNDER_COPIES)
    if decided.vouched or restored or decided.lookalike:
        order.sort(key=lambda n: (-float(shown[n]), -float(rank[n]), ids[n]))
    return copy, shown, order


__all__ = ["decided_order"]
