"""Second opinions: the first candidate of another ranking, nominated for the key points.

A learned descriptor (whitening, label fusion) ranks copies better on average, but not every
copy: a photo under a large sticker, a box or scribbles, or posterised, moves far in the
whitened space - a look-alike comes first and the original falls below the grey band the key
points read - while other rankings of the same candidates still put the original first
(bench/README.md, "Second opinions"):

* the **plain** embedding: the cosine of the query's upright view with each candidate's stored
  raw vector (no option should lose a copy the plain embedding finds);
* the **layout**: the rank correlation of the 16 x 16 grey levels
  (:mod:`search.descriptor.layout_match`), which nominates on its own only from
  ``LAYOUT_MATCH``; an occluded copy keeps most of its cells in order (rho 0.4-0.8 on the
  hold-out overlays) and was the first candidate by it in nearly every miss.

So a query the descriptor leaves unsettled also has each ranking's first candidate checked by
its key points, where the descriptor ranks another first: where the rankings disagree, the
geometry decides. Each adds at most one key-point check per unsettled query.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def first_elsewhere(
    positions: Sequence[int], scores: np.ndarray, copy: np.ndarray, floor: float
) -> list[int]:
    """``[position]`` of the best of ``scores`` (one per entry of ``positions``, positions
    into ``copy``) when it is not the descriptor's first (the best ``copy`` score) nor at
    ``floor`` already (sure or confirmed); else ``[]``."""
    scores = np.asarray(scores, np.float64)
    if not len(positions) or not np.isfinite(scores).any():
        return []
    n = int(positions[int(np.nanargmax(scores))])
    copy = np.asarray(copy, np.float64)
    return [] if n == int(np.argmax(copy)) or copy[n] >= floor else [n]


def plain_nominees(
    query: np.ndarray,
    ids: Sequence[int],
    copy: np.ndarray,
    vectors: Mapping[int, np.ndarray],
    floor: float,
) -> list[int]:
    """The plain opinion: the position in ``ids`` of the best candidate by the cosine of
    ``query`` (the upright view's raw embedding) with its stored raw ``vectors`` (candidates
    without one are passed over), under :func:`first_elsewhere`'s rule."""
    known = [n for n in range(len(ids)) if int(ids[n]) in vectors]
    if not known:
        return []
    stack = np.stack([np.asarray(vectors[int(ids[n])], np.float32) for n in known])
    cosine = stack @ np.asarray(query, np.float32).reshape(-1)
    return first_elsewhere(known, cosine, copy, floor)


def layout_first(rho: Mapping[int, float], copy: np.ndarray, floor: float) -> list[int]:
    """The layout opinion: the position of the candidate whose layout is most in rank order
    with the query's (``rho``: by position; a positive correlation only), under
    :func:`first_elsewhere`'s rule."""
    positions = [n for n, r in rho.items() if r > 0]
    return first_elsewhere(positions, np.array([rho[n] for n in positions]), copy, floor)
