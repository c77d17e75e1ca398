"""Which of a query's copies keep the duplicate decision: copies of one picture are copies of
each other, so a grey-band copy needs a witness among the query's better copies.

A hit past the decision (``duplicate_z >= DUPLICATE_Z``) but below :data:`WITNESS_Z` (where
look-alikes of one kind of scene end in a learned space: a photo of the same species at z
6-8.5, ranked under the query's true original) keeps the decision only if its stored image
is itself a copy of a better copy that kept it, when the best copy is itself past the
look-alikes (z >= WITNESS_Z: a firm witness; in a library whose copies all score in the
grey band, as a whitening learned from few photos can make them, z alone decides) and not
the query's own file or its exact copy (the query's evidence is then that file's own);
otherwise it is a look-alike of them. Stored rows are upright, so they compare pictures of
one orientation: a hit they do not witness is compared again by its own turned views (a
quarter, a half, three quarters: every other orientation), its file embedded on demand by
``turns`` (the engine's callback; kept per image, so an image that many queries meet is
embedded once); a turned match witnesses only when it is firm (z >= WITNESS_Z). Without
them nothing can tell, and it keeps the decision; so does a copy whose score has other
evidence (a tile, the local check, a chain of copies). Measured in bench/README.md ("A
grey-band copy needs a witness").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from search.descriptor.config import WITNESS_Z
from search.descriptor.descriptors import Descriptor
from search.descriptor.expansion import SELF_SCORE

StoredTurns = Callable[[int], "np.ndarray | None"]  # image id -> its turned views' rows
RowsOf = Callable[[Sequence[int]], tuple[np.ndarray, np.ndarray]]  # ids -> (rows, owner)


def witnessed(
    pairs: np.ndarray,
    needs: np.ndarray,
    decision: float,
    more: Callable[[int], np.ndarray | None] | None = None,
    more_decision: float | None = None,
) -> np.ndarray:
    """Which copies (best first) keep the decision, given the copy scores ``pairs`` [n, n]
    of their images among themselves and which of them ``needs`` a witness: one that does
    keeps it when it is a copy (``>= decision``) of a better one that kept it, by ``pairs``
    or else by ``more(n)`` (its scores [n] with the others by further evidence: its turned
    views; they must reach ``more_decision``, default ``decision``); when ``more`` has none,
    nothing can tell, and it keeps it."""
    more_decision = decision if more_decision is None else more_decision
    keep = np.zeros(len(needs), bool)
    for n in range(len(needs)):
        better = keep[:n]
        if n == 0 or not needs[n] or (pairs[n, :n][better] >= decision).any():
            keep[n] = True
            continue
        extra = more(n) if more is not None else None
        keep[n] = extra is None or bool((extra[:n][better] >= more_decision).any())
    return keep


def duplicate_decisions(
    descriptor: Descriptor,
    query: np.ndarray,
    copy: np.ndarray,
    ids: Sequence[int],
    rows_of: RowsOf,
    turns: StoredTurns | None = None,
    cap: float | None = None,
) -> np.ndarray | None:
    """The duplicate decision of each candidate ``ids`` of the query rows ``query`` with copy
    scores ``copy`` (module doc); None uncalibrated. ``rows_of``: the candidates' prepared
    stored rows; ``cap``: the query's cap on weak turned matches, as ``copy`` was scored
    (:meth:`Descriptor.upright_cap`); with the duplicate graph off (``expand=0``, as
    ``plain``) z alone decides."""
    cal = descriptor.calibration
    if cal is None:
        return None
    decision = cal.duplicate_threshold()
    out = np.asarray(copy) >= decision
    flagged = np.flatnonzero(out)
    if not descriptor.config.expand or len(flagged) < 2:
        return out
    flagged = flagged[np.argsort(-copy[flagged], kind="stable")]
    firm = cal.duplicate_threshold(WITNESS_Z)
    if not firm <= copy[flagged[0]] < SELF_SCORE:  # no firm witness, or the query's own file
        return out
    n = len(flagged)
    rows, owner = rows_of([ids[i] for i in flagged])
    pairs = np.full((n, n), -np.inf, np.float32)
    for a in range(n):
        np.maximum.at(pairs[a], owner, (rows[owner == a] @ rows.T).max(axis=0))
    own = descriptor.copy_scores(query, rows, owner, n, cap)  # the views' evidence alone
    grey = (own >= copy[flagged] - 1e-6) & (copy[flagged] < firm)

    def by_its_turns(a: int) -> np.ndarray | None:
        its_turns = turns(ids[flagged[a]]) if turns is not None else None
        if its_turns is None or not len(its_turns):
            return None
        scores = np.full(n, -np.inf, np.float32)
        np.maximum.at(scores, owner, (its_turns @ rows.T).max(axis=0))
        return scores

    # A turned witness must be firm: a look-alike found by the query's turned views at z
    # 6-8 is matched by its own turned views at z 6-8 too (the same evidence, nothing
    # independent), while a turned copy of a firm copy matches it as firmly.
    out[flagged] = witnessed(pairs, grey, decision, by_its_turns, firm)
    return out
