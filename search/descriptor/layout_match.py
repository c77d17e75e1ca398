"""Candidates nominated by their grey-level layout: copies whose tones changed, places kept.

A sepia print or a duotone of a photo (inverted ones too), its greyscale, a noisy or heavily
compressed copy keeps where the picture is light and dark, while its vector can move far:
the model reads colour, and a sepia copy's original ranked anywhere in the first 50 of the
hold-out sets' queries (z 0-4), below the grey band the key-point check reads
(``bench/README.md``, "Tones changed, places kept"). Each image's 16 x 16 grey levels
(:func:`models.image_layout`, stored at index time) are compared by their rank correlation
(Spearman's rho: any monotone change of the levels - a tint, a gamma, a contrast curve - keeps
it; an inversion turns its sign), which put the original first among *all* the library's
photos for 0.97-1.00 of the hold-out sets' sepia and sepia + noise queries.

It only nominates: a query's candidates with ``|rho| >= LAYOUT_MATCH`` (the best
:data:`LAYOUT_NOMINATED`; the engine first joins the whole library's best from
:data:`LAYOUT_JOINED` to the candidates: :class:`search.index.LayoutIndex`) go to the key-point
check like the grey band's, with the query's grey levels inverted for a negative rho (ORB
compares brightness, so an inverted copy matches nothing as it is); the key points confirm or
not. Different photos reach |rho| 0.72-0.77 at
most (the best two of each hold-out query), burst shots and other views of one scene up to
0.96: nominated, they meet the same key-point rule as any grey-band candidate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from models import LAYOUT_BYTES

LAYOUT_MATCH = 0.85  # |rank correlation| from which a candidate is nominated
#: |rho| from which the whole library's best layouts join a query's candidates: a watermarked
#: copy keeps its original's at 0.74-0.97; one under LAYOUT_MATCH is checked as the layout's
#: second opinion (:mod:`search.descriptor.second_opinion`), not nominated
LAYOUT_JOINED = 0.78
LAYOUT_NOMINATED = 2  # candidates nominated per query, at most
RANK_BLOCK = 8192  # layouts ranked at a time


def layout_rank_levels(layouts: Sequence[bytes]) -> np.ndarray:
    """The mean rank (0-255; ties share their mean) of each of a layout's cells: float32
    [n, LAYOUT_BYTES]. Computed in blocks of :data:`RANK_BLOCK` rows (a whole library's at
    once would hold several times its size in temporaries)."""
    levels = np.frombuffer(b"".join(layouts), np.uint8).reshape(len(layouts), LAYOUT_BYTES)
    out = np.empty(levels.shape, np.float32)
    for start in range(0, len(levels), RANK_BLOCK):
        block = levels[start : start + RANK_BLOCK]
        n = len(block)
        offsets = (np.arange(n, dtype=np.int64)[:, None] * 256 + block).ravel()
        counts = np.bincount(offsets, minlength=n * 256).reshape(n, 256).astype(np.float32)
        mean_rank = np.cumsum(counts, axis=1) - counts + (counts - 1) / 2  # per grey level
        out[start : start + n] = np.take_along_axis(mean_rank, block.astype(np.intp), axis=1)
    return out


def layout_ranks(layouts: Sequence[bytes]) -> np.ndarray:
    """Rows of centred, unit-norm mean ranks of each layout (:func:`layout_rank_levels`):
    float32 [n, LAYOUT_BYTES]; a uniform layout is a zero row (it correlates with nothing)."""
    ranks = layout_rank_levels(layouts).astype(np.float64)
    ranks -= ranks.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(ranks, axis=1, keepdims=True)
    return (ranks / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def layout_correlation(a: bytes, b: bytes) -> float:
    """Spearman's rank correlation of two layouts (-1 inverted .. 1 the same order)."""
    ranks = layout_ranks([a, b])
    return float(ranks[0] @ ranks[1])


def layout_correlations(query: bytes | None, layouts: Mapping[int, bytes]) -> dict[int, float]:
    """Spearman's rho of the query's layout with each of ``layouts`` (by position; those of
    another size left out); empty without a query layout."""
    left = [p for p in layouts if len(layouts[p]) == LAYOUT_BYTES]
    if query is None or len(query) != LAYOUT_BYTES or not left:
        return {}
    ranks = layout_ranks([query, *(layouts[p] for p in left)])
    return dict(zip(left, (ranks[1:] @ ranks[0]).tolist(), strict=True))


def nominated_layouts(
    rho: Mapping[int, float], limit: int = LAYOUT_NOMINATED
) -> list[tuple[int, float]]:
    """``(position, rho)`` of the candidates whose layout is in rank order with the query's
    (``rho``: by position, :func:`layout_correlations`), ``|rho| >= LAYOUT_MATCH``, best
    first, at most ``limit``."""
    left = list(rho)
    return [(left[i], r) for i, r in layout_matches(np.array([rho[p] for p in left]), limit)]


def layout_matches(
    rho: np.ndarray, limit: int = LAYOUT_NOMINATED, at_least: float = LAYOUT_MATCH
) -> list[tuple[int, float]]:
    """``(index, rho)`` of the correlations with ``|rho| >= at_least``, strongest first, at
    most ``limit`` (NaN: left out) - the nomination rule of :func:`nominated_layouts`."""
    strength = np.nan_to_num(np.abs(np.asarray(rho, np.float64)), nan=-1.0)
    order = np.argsort(-strength, kind="stable")[: max(0, limit)]
    return [(int(i), float(rho[i])) for i in order if strength[i] >= at_least]


def nominees_to_check(
    nominees: Sequence[tuple[int, float]], checked: Sequence[int]
) -> tuple[list[int], list[int]]:
    """``(upright, inverted)`` positions of nominees ``(position, rho)`` for the key points,
    each position by its first nomination: an upright one unless ``checked`` already (matched
    as it is), an inverted one (rho < 0) whatever (matched with the query's grey levels
    inverted first; the engine matches it as it is too when that confirms nothing)."""
    first: dict[int, float] = {}
    for n, rho in nominees:
        first.setdefault(n, rho)
    upright = [n for n, rho in first.items() if rho > 0 and n not in checked]
    return upright, [n for n, rho in first.items() if rho < 0]
