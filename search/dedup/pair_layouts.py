"""Grey-level layouts of ``dedup --verify``'s pairs (:mod:`search.descriptor.layout_match`):
which candidates a layout nominates for the key points, and how two images' layouts correlate."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from search.descriptor import LAYOUT_JOINED, layout_matches, layout_ranks

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
    """Spearman's correlation of two images' layouts (0 when either is unknown)."""
    known = layouts([a, b])
    if a not in known or b not in known:
        return 0.0
    ranks = layout_ranks([known[a], known[b]])
    return float(np.nan_to_num(ranks[0] @ ranks[1]))
