"""Which of a query's copies keep the duplicate decision: copies of one picture are copies of
each other, so a grey-band copy needs a witness among the query's better copies.

A hit past the decision (``duplicate_z >= DUPLICATE_Z``) but below :data:`WITNESS_Z` (where
look-alikes of one kind of scene end in a learned space: a photo of the same species at z
6-8.5, ranked under the query's true original) keeps the decision only if its stored image
is itself a copy of a better copy that kept it; otherwise it is a look-alike of them. Stored
rows are upright, so they compare finds of one orientation only: a copy the query found
through a turned view is compared by its own turned views, and an upright find under a
best copy found turned by that copy's turned views (files embedded on demand by ``turns``,
the engine's callback, only when such a find needs a witness; kept per image, so a turned
copy that many queries find is embedded once); without them it needs none. A copy whose
score has other evidence (a tile, the local check, a chain of copies) needs none either.
Measured in bench/README.md ("A grey-band copy needs a witness").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from search.descriptor.config import WITNESS_Z
from search.descriptor.descriptors import Descriptor

StoredTurns = Callable[[int], "np.ndarray | None"]  # image id -> its turned views' rows
RowsOf = Callable[[Sequence[int]], tuple[np.ndarray, np.ndarray]]  # ids -> (rows, owner)


def witnessed(pairs: np.ndarray, needs: np.ndarray, decision: float) -> np.ndarray:
    """Which copies (best first) keep the decision, given the copy scores ``pairs`` [n, n]
    of their images among themselves and which of them ``needs`` a witness: one that does
    keeps it when it is a copy (``>= decision``) of a better one that kept it."""
    keep = np.zeros(len(needs), bool)
    for n in range(len(needs)):
        keep[n] = n == 0 or not needs[n] or bool((pairs[n, :n][keep[:n]] >= decision).any())
    return keep


def duplicate_decisions(
    descriptor: Descriptor,
    query: np.ndarray,
    copy: np.ndarray,
    ids: Sequence[int],
    rows_of: RowsOf,
    turns: StoredTurns | None = None,
) -> np.ndarray | None:
    """The duplicate decision of each candidate ``ids`` of the query rows ``query`` with copy
    scores ``copy`` (module doc); None uncalibrated. ``rows_of``: the candidates' prepared
    stored rows; with the duplicate graph off (``expand=0``, as ``plain``) z alone decides."""
    cal = descriptor.calibration
    if cal is None:
        return None
    decision = cal.duplicate_threshold()
    out = np.asarray(copy) >= decision
    flagged = np.flatnonzero(out)
    if not descriptor.config.expand or len(flagged) < 2:
        return out
    flagged = flagged[np.argsort(-copy[flagged], kind="stable")]
    n = len(flagged)
    rows, owner = rows_of([ids[i] for i in flagged])
    pairs = np.full((n, n), -np.inf, np.float32)
    for a in range(n):
        np.maximum.at(pairs[a], owner, (rows[owner == a] @ rows.T).max(axis=0))
    own = descriptor.copy_scores(query, rows, owner, n)  # the views' evidence alone
    grey = (own >= copy[flagged] - 1e-6) & (copy[flagged] < cal.duplicate_threshold(WITNESS_Z))
    needs = grey & (np.arange(n) > 0)  # the best copy keeps it
    # upright stored rows compare finds of one orientation only; a find of the other needs
    # turned views: its own when found turned, the best copy's under a best copy found so
    turned = descriptor.found_turned(query, rows, owner, n)
    other = needs & (turned | turned[0])
    whose = np.where(turned, np.arange(n), 0)
    for who in np.unique(whose[other]):
        its_turns = turns(ids[flagged[who]]) if turns is not None else None
        if its_turns is None or not len(its_turns):
            needs[other & (whose == who)] = False  # no way to witness them: they keep it
            continue
        by_turns = np.full(n, -np.inf, np.float32)
        np.maximum.at(by_turns, owner, (its_turns @ rows.T).max(axis=0))
        pairs[who] = np.maximum(pairs[who], by_turns)
        pairs[:, who] = np.maximum(pairs[:, who], by_turns)
    out[flagged] = witnessed(pairs, needs, decision)
    return out
