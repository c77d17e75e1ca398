"""Copies of the query's copies that its own evidence leaves under the decision.

Two edits of one photo can be far apart (a half crop and a perspective of the same scene: z 4
from each other) while both are plain copies of the original, and the library holds that
original. The duplicate graph's expansion follows a sure copy's stored rows past the sure-copy
score; a copy the query's better copies hold only in the grey band is left unflagged. Such a
hit is **vouched** for when at least :data:`VOUCHERS` of the query's copies that kept the
decision (not its own file, nor a copy past :data:`SAME_AS_QUERY`) each hold it at
``duplicate_z >= VOUCH_Z`` by their stored rows, and then its key points must match those of
the two that hold it most (or the query's): the key-point witness decides, within its budget.
A look-alike of one picture is held by one of the query's copies now and then; two of them
holding it and its key points matching theirs is what a copy of the picture shows. Measured
in bench/README.md ("Copies of the query's copies").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from search.descriptor.config import WITNESS_BETTER
from search.descriptor.expansion import at_decision

VOUCHERS = 2  # the query's copies that must each hold a hit (at VOUCH_Z) to vouch for it
SAME_AS_QUERY = 0.99  # a copy this close is the query itself to a voucher (its exact copy, the
# query under a caption: it holds what the query holds; UKBench's other views of one object,
# which two such copies would vouch for, match by key points as copies do: 155-183 inliers)

RowsOf = Callable[[Sequence[int]], tuple[np.ndarray, np.ndarray]]  # ids -> (rows, owner)
Ask = Callable[..., "bool | None"]  # the key-point witness (search.descriptor.witness)


def vouched_copies(
    copy: np.ndarray,
    ids: Sequence[int],
    duplicate: np.ndarray,
    excluded: Sequence[int],
    positions: Sequence[int],
    rows_of: RowsOf,
    grey: float,
    ask: Ask,
) -> dict[int, tuple[int, ...]]:
    """Positions among ``positions`` (the hits shown) that are not ``duplicate`` nor
    ``excluded`` (look-alikes already refuted) and that the key points confirm as copies of
    the query's copies (module doc) -> the ids of those copies. ``grey``: the copy score at
    ``duplicate_z == VOUCH_Z``; ``ask(image id, voucher ids, after=n)``: the key-point
    witness, asked in the order of the copy scores, best first."""
    copy = np.asarray(copy)
    kept = [int(p) for p in np.flatnonzero(duplicate) if copy[p] < SAME_AS_QUERY]
    kept = sorted(kept, key=lambda p: -float(copy[p]))[:WITNESS_BETTER]
    skip = set(excluded)
    open_ = [int(p) for p in positions if not duplicate[p] and int(p) not in skip]
    if len(kept) < VOUCHERS or not open_:
        return {}
    rows, owner = rows_of([ids[p] for p in kept + open_])
    pair = np.full((len(kept), len(open_)), -np.inf, np.float32)
    mine = owner < len(kept)
    theirs = rows[~mine]
    for a in range(len(kept)):
        scores = (rows[owner == a] @ theirs.T).max(axis=0)
        np.maximum.at(pair[a], owner[~mine] - len(kept), scores)
    out: dict[int, tuple[int, ...]] = {}
    for b in sorted(range(len(open_)), key=lambda b: -float(copy[open_[b]])):
        held = np.flatnonzero(pair[:, b] >= grey)
        if len(held) < VOUCHERS:
            continue
        vouchers = [
            ids[kept[a]] for a in held[np.argsort(-pair[held, b], kind="stable")][:VOUCHERS]
        ]
        if ask(ids[open_[b]], vouchers, after=len(vouchers)):
            out[open_[b]] = tuple(vouchers)
    return out


def at_the_decision(copy: np.ndarray, positions: Sequence[int], decision: float) -> np.ndarray:
    """``copy`` with the vouched copies at ``positions`` raised to the duplicate decision (a
    copy of a copy, as the expansion's chain scores one)."""
    out = np.array(copy, np.float32)
    out[list(positions)] = np.maximum(out[list(positions)], at_decision(decision))
    return out


__all__ = ["SAME_AS_QUERY", "VOUCHERS", "RowsOf", "at_the_decision", "vouched_copies"]
