"""Candidates ``dedup --verify`` checks by key points beyond the grey band: those an image's
grey-level layout nominates (:mod:`search.descriptor.layout_match`) and those another source
(its crops) nominates; and how two images' layouts correlate."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from search.descriptor import LAYOUT_JOINED, layout_correlation, layout_matches, layout_ranks

Layouts = Callable[[Sequence[int]], dict[int, bytes]]  # image ids -> their stored layouts


def toned_pairs(
    layouts: Layouts, ids: np.ndarray, found: np.ndarray, open_: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per pair of a neighbours batch (``ids`` and their ``found`` candidates), 1 / -1 where
    the candidate (one of ``open_``) is nominated by its layout, upright or inverted (the best
    ``LAYOUT_NOMINATED`` of each row from ``LAYOUT_JOINED``), else 0; and the pairs' layout
    correlations (0 where unknown)."""
    out = np.zeros(found.shape, np.int8)
    correlations = np.zeros(found.shape, np.float32)
    if not open_.any():
        return out, correlations
    known = layouts(sorted({int(i) for i in found[open_]} | set(ids.tolist())))
    row_of = {image_id: n for n, image_id in enumerate(known)}
    ranks = layout_ranks(list(known.values()))
    for r, a in enumerate(ids.tolist()):
        cols = [c for c in np.flatnonzero(open_[r]) if int(found[r, c]) in row_of]
        if a not in row_of or not cols:
            continue
        rho = ranks[[row_of[int(found[r, c])] for c in cols]] @ ranks[row_of[a]]
        correlations[r, cols] = np.nan_to_num(rho)
        for n, value in layout_matches(rho, at_least=LAYOUT_JOINED):
            out[r, cols[n]] = 1 if value > 0 else -1
    return out, correlations


def pair_correlation(layouts: Layouts, a: int, b: int) -> float:
    """Spearman's correlation of two images' stored layouts (0 when either is unknown)."""
    known = layouts([a, b])
    return layout_correlation(known[a], known[b]) if a in known and b in known else 0.0


def nominate(
    ids: np.ndarray,
    scores: np.ndarray,
    found: np.ndarray,
    nominees: Callable[[int], Sequence[int]],
    pair_score: Callable[[int, int], float],
    low: float,
    threshold: float,
) -> np.ndarray:
    """Mark each image's ``nominees`` for the key points: where they are among its
    candidates (``ids``' rows of ``found``) below ``threshold``, else in the places of its
    weakest ones below ``low`` (``scores`` and ``found`` changed in place, a pair scored by
    ``pair_score``); a mask of the places."""
    taken = np.zeros(found.shape, bool)
    for r, a in enumerate(ids.tolist()):
        free = [c for c in np.argsort(scores[r]).tolist() if scores[r, c] < low]
        for b in nominees(a):
            at = np.flatnonzero(found[r] == b).tolist()
            if not at and free and b != a:
                at = [free.pop(0)]
                found[r, at[0]], scores[r, at[0]] = b, pair_score(a, b)
            if at and scores[r, at[0]] < threshold:
                taken[r, at[0]] = True
                free = [c for c in free if c != at[0]]  # never given to another
    return taken
