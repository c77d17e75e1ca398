"""The duplicate-graph expansion's two rules, shared by the search (:mod:`search.descriptor.rerank`)
and the evaluation (:meth:`search.descriptor.descriptors.Descriptor.expand`): which sure copies are
followed, and how far below its hub a copy reached through it scores."""

from __future__ import annotations

import numpy as np

SELF_SCORE = 0.9999  # a copy score this high is the query's own vector (see hub_order)
CHAIN_STEP = 0.01  # a chained copy's score below its hub's, per unit of its own distance


def hub_order(copy: np.ndarray, sure: float, count: int) -> np.ndarray:
    """Positions of the (at most ``count``) best sure copies (``copy >= sure``) whose copies
    are followed, best first. A score of :data:`SELF_SCORE` or more is the query's own vector
    (the image itself, or its exact copy): its copies are the query's own, nothing to follow,
    so it takes no hub's place."""
    copy = np.asarray(copy)
    keep = np.flatnonzero((copy >= sure) & (copy < SELF_SCORE))
    return keep[np.argsort(-copy[keep], kind="stable")][:count].astype(np.int64)


def chain_scores(
    hub: np.ndarray | float, graph: np.ndarray, own: np.ndarray, decision: float
) -> np.ndarray:
    """Scores of images ``o`` reached through a sure copy ``k``: ``min(C(q, k), C(k, o))``
    less ``CHAIN_STEP * (1 - C(q, o))`` - strictly below the copy they were reached through
    (never a tie with it), in the order of their own similarity ``own`` to the query - but
    never pushed below ``decision`` (the duplicate decision's copy score) when the chain
    reaches it: a copy of a copy stays a copy."""
    chained = np.minimum(hub, graph)
    step = CHAIN_STEP * (1.0 - np.asarray(own, np.float64))
    floor = np.where(chained >= decision, float(at_decision(decision)), -np.inf)
    return np.maximum(chained - step, floor)


def at_decision(decision: float) -> np.float32:
    """The duplicate decision's copy score as a float32 that is not below it (rounding)."""
    at_least = np.float32(decision)
    if float(at_least) < decision:
        at_least = np.nextafter(at_least, np.float32(2.0))
    return at_least
