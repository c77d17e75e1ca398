"""When a query is settled: whether the query scorer (:mod:`search.descriptor.rerank`) asks
for more evidence - the turned views, the tiles, the local check - or answers from what it has.

A query is **settled** by a sure copy among its candidates other than its own vector. Under
the engine's ``upright_first`` setting the turned views are embedded only for a query that is
not: a settled query **in doubt** gets them too. In doubt means another candidate sits under
the duplicate decision but at ``duplicate_z >= TURNED_DOUBT_Z``, where a turned copy's upright
view scores and where the turned views may decide it. On the dev copy set, whose photos are
kept upright and turned (every file a query, each direction counted), upright first lost 2,314
of 15,381 copy flags with the settled rule alone, 306 with the doubt band from z 5 and 67 from
z 4; from z 3, 242 of bench.http's 300 uploads are in doubt (bench/README.md, "Upright first,
unless another candidate is in doubt").
"""

from __future__ import annotations

import numpy as np

from search.descriptor.config import TURNED_DOUBT_Z
from search.descriptor.descriptors import Descriptor
from search.descriptor.expansion import SELF_SCORE


def _others(copy: np.ndarray) -> np.ndarray:
    """The copy scores of the candidates that are not the query's own vector."""
    c = np.asarray(copy, np.float64)
    return c[c < SELF_SCORE]


def settled(descriptor: Descriptor, copy: np.ndarray, firm: bool = False) -> bool:
    """Whether copy scores ``copy`` of the candidates hold a sure copy other than the
    query's own vector; ``firm``: a copy past every look-alike (:meth:`Descriptor.firm_score`)."""
    sure = descriptor.firm_score() if firm else descriptor.sure_score()
    others = _others(copy)
    return sure is not None and bool(len(others)) and bool(others.max() >= sure)


def turned_views_needed(descriptor: Descriptor, copy: np.ndarray) -> bool:
    """Whether a query scored from its upright views needs its turned ones: it is not settled,
    or it is and another candidate is in doubt (module doc)."""
    if not settled(descriptor, copy):
        return True
    cal = descriptor.calibration
    assert cal is not None  # (settled: calibrated)
    others = _others(copy)
    low, decision = cal.duplicate_threshold(TURNED_DOUBT_Z), cal.duplicate_threshold()
    return bool(((others >= low) & (others < decision)).any())
