"""When a query's best copy, trusted by its vectors so far, is asked of key points too
(:func:`search.descriptor.witness.duplicate_decisions` calls these with its key-point
witness): when a part of the query raised it (:func:`best_parts_asked`), when every lesser
copy was refuted (:func:`best_asked_too`), and when its score lies where photos of one kind of
scene lie (:func:`best_in_lookalike_band`). A best copy that loses the decision is a
look-alike, and says why."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from search.descriptor.expansion import SELF_SCORE

if TYPE_CHECKING:
    from search.descriptor.witness import Decisions

__all__ = [
    "BAND_ASKED",
    "BEST_IN_LOOKALIKE_BAND",
    "BEST_PARTS_ASKED",
    "BEST_UNMATCHED",
    "NOT_IN_ITS_PART",
    "UNMATCHED_UNDER",
    "best_asked_too",
    "best_in_lookalike_band",
    "best_parts_asked",
]

LocalWitness = Callable[..., "bool | None"]  # search.descriptor.witness.LocalWitness

BEST_PARTS_ASKED = 3  # best copies raised by parts of the query asked in turn, at most
BAND_ASKED = 6  # best copies in the look-alike band asked in turn, at most
NOT_IN_ITS_PART = "its key points match none of the part of the query whose vector found it"
BEST_UNMATCHED = (
    "its key points do not match the query's, nor did the other hits' past the decision"
)
UNMATCHED_UNDER = "its key points were not matched, and a better-scoring hit's matched nothing"
BEST_IN_LOOKALIKE_BAND = (
    "its key points do not match the query's, and its score is where other photos of one "
    "kind of scene lie"
)


def best_parts_asked(
    out: Decisions,
    copy: np.ndarray,
    ids: Sequence[int],
    evidenced: Mapping[int, int],
    local: LocalWitness,
) -> None:
    """The best copy, when a part of the query raised it, asked of that part's key points (as
    its lesser copies are): a quarter of a light screenshot - a flat page and a few lines of
    text - matched a library's grey "image not found" placeholder at z 8 by its vector alone,
    and another at z 10.8 (past ``sure``, where a whole query's copy needs no key points: a
    part's vector is a crop's, and a few lines of text on a light page are alike in any
    screenshot). A refuted one is a look-alike, and the next best is asked the same way (at
    most :data:`BEST_PARTS_ASKED`); one the part's key points hold, or that nothing can tell
    (``None``), keeps the decision."""

    def ask(p: int) -> bool | None:
        part = evidenced.get(ids[p])
        if part is None or copy[p] >= SELF_SCORE:
            return None
        return local(ids[p], (), part=part)

    _best_in_turn(out, copy, ask, NOT_IN_ITS_PART)


def best_in_lookalike_band(
    out: Decisions,
    copy: np.ndarray,
    ids: Sequence[int],
    evidenced: Mapping[int, int],
    local: LocalWitness,
    firm: float,
) -> None:
    """The best copy, when its score is under ``firm`` (``WITNESS_Z`` in a whitened space:
    where photos of one species or scene end; the decision itself unwhitened, whose z puts
    other photos lower: nothing asked), asked of the query's key points: a blind audit
    posted 60 photos that no library image copies, and 14 of them had another photo of their
    kind flagged first at z 6.2-7.7 by vectors alone, where 3 of 1,192 true originals were
    (a lesser copy there was already asked; the best never was). A refuted one is a
    look-alike and the next best is asked the same way (at most :data:`BAND_ASKED`; past
    them, the flagged copies in the band are not believed); one whose key points match,
    whose layout holds the query's places (the witness's ``spare`` question: blur, noise and
    stripes blind key points, not layouts), or that nothing can tell keeps the decision - as
    does one a part of the query raised (its part's own question) and the query's own
    file."""

    def in_band(p: int) -> bool:
        return bool(copy[p] < firm) and ids[p] not in evidenced and copy[p] < SELF_SCORE

    def ask(p: int) -> bool | None:
        return local(ids[p], (), spare=True) if in_band(p) else None

    _best_in_turn(out, copy, ask, BEST_IN_LOOKALIKE_BAND, in_band, BAND_ASKED)


def _best_in_turn(
    out: Decisions,
    copy: np.ndarray,
    ask: Callable[[int], bool | None],
    reason: str,
    unasked: Callable[[int], bool] | None = None,
    most: int = BEST_PARTS_ASKED,
) -> None:
    """The flagged copies asked best first, ``most`` at most: ``ask(p)`` is
    False for a refuted one - a look-alike for ``reason``, and the next is asked - and True
    or None (held, untold, or not to be asked) for the one that ends the questions. When every
    one asked was refuted, the flagged copies under them that ``unasked`` says would have
    been asked are not believed either (:data:`UNMATCHED_UNDER`): a strip of three photos
    matched an object's four views at z 6.02-6.1 by its vector, the three best were refuted,
    and the fourth - never asked, three were then - stood first, flagged."""
    flagged = np.flatnonzero(out.duplicate)
    ranked = flagged[np.argsort(-copy[flagged], kind="stable")].tolist()
    for p in ranked[:most]:
        if ask(p) is not False:
            return
        out.duplicate[p] = False
        out.lookalike[p] = reason
    for p in ranked[most:] if unasked is not None else ():
        if unasked(p):
            out.duplicate[p] = False
            out.lookalike[p] = UNMATCHED_UNDER


def best_asked_too(
    out: Decisions, copy: np.ndarray, ids: Sequence[int], flagged: np.ndarray, local: LocalWitness
) -> None:
    """The best copy, trusted by its vectors, asked of the query's key points too once every
    copy under it was refuted by theirs though alike it: one filter over different photos
    (sepia, sepia + noise) puts them past the decision with the query and with each other,
    and the best of them was the one look-alike left flagged (not the query's own file, nor a
    copy the check confirmed: the witness holds its key points)."""
    p = int(flagged[0])
    if copy[p] < SELF_SCORE and local(ids[p], (), spare=True) is False:  # (past the budget)
        out.duplicate[p] = False
        out.lookalike[p] = BEST_UNMATCHED
