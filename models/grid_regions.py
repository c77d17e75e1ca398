"""Connected regions of a boolean cell grid (the frame finder's, :mod:`models.frame`): runs,
the cells reached from the border, 4-connected components, erosion, the largest component's
box. numpy only; loops run over the turns of a path, never over cells."""

from __future__ import annotations

import numpy as np


def _runs(mask: np.ndarray) -> np.ndarray:
    """Ids (1..R, in raster order) of the horizontal runs of ``mask``'s cells; 0 elsewhere."""
    starts = mask.copy()
    starts[:, 1:] &= ~mask[:, :-1]
    return np.where(mask, np.cumsum(starts.ravel()).reshape(mask.shape), 0)


def flood_from_border(allowed: np.ndarray) -> np.ndarray:
    """Cells of ``allowed`` 4-connected to the image border through ``allowed`` cells: a row
    run (then a column run) touching a reached cell is reached whole, so the passes needed
    are the turns of the longest path, not its length."""
    rows, cols = _runs(allowed), _runs(allowed.T).T
    reached = np.zeros_like(allowed)
    reached[0], reached[-1] = allowed[0], allowed[-1]
    reached[:, 0] |= allowed[:, 0]
    reached[:, -1] |= allowed[:, -1]
    count = int(reached.sum())
    while True:
        for ids in (rows, cols):
            hit = np.zeros(int(ids.max()) + 1, bool)
            hit[ids[reached]] = True
            hit[0] = False
            reached = hit[ids]
        grown = int(reached.sum())
        if grown == count:
            return reached
        count = grown


def label_components(mask: np.ndarray) -> np.ndarray:
    """4-connected component labels (0 = background, 1..K in raster order of each
    component's first cell): every row run starts with its own label, and the smallest
    label spreads along column runs and row runs until nothing changes."""
    mask = mask.astype(bool)
    row_ids, col_ids = _runs(mask)[mask], _runs(mask.T).T[mask]
    labels = row_ids  # raster order: a component's smallest run id is its first run
    while True:
        spread = labels
        for ids in (col_ids, row_ids):
            best = np.full(int(ids.max(initial=0)) + 1, np.iinfo(np.int64).max)
            np.minimum.at(best, ids, spread)
            spread = best[ids]
        if np.array_equal(spread, labels):
            break
        labels = spread
    out = np.zeros(mask.shape, np.int32)
    if labels.size:
        out[mask] = np.unique(labels, return_inverse=True)[1] + 1
    return out


def erode(mask: np.ndarray, radius: int) -> np.ndarray:
    """``mask`` eroded ``radius`` times by the 4-neighbourhood (outside counts as True)."""
    out = mask
    for _ in range(radius):
        grown = out.copy()
        grown[1:] &= out[:-1]
        grown[:-1] &= out[1:]
        grown[:, 1:] &= out[:, :-1]
        grown[:, :-1] &= out[:, 1:]
        out = grown
    return out


def largest_component_box(mask: np.ndarray) -> tuple[int, int, int, int, int] | None:
    """``(top, bottom, left, right, size)`` of the largest 4-connected component of ``mask``."""
    labels = label_components(mask)
    if labels.max() == 0:
        return None
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    ys, xs = np.nonzero(labels == int(sizes.argmax()))
    return int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1, int(sizes.max())
