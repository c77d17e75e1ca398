"""Candidates nominated by a window of their layout: crops.

A crop of a photo - half of each side or more, anywhere in it, mirrored or not - is a window
of the photo's stored 16 x 16 grey-level layout (:func:`models.image_layout`). Its vector can
sit below look-alikes (a half crop's original had robust z 3.2-3.5 under six better-scored
photos on the hold-out sets), but the query's grey levels, box-averaged to a window's cells,
correlate with that window: over every window of 6 to 16 cells a side (not the whole layout)
whose shape is the query's (given the candidate's aspect ratio) and every position, the best
Pearson correlation put the original first among *all* of a hold-out library's photos for
every crop, mirrored crop and perspective edit of scenes-50 and photos-50 (`bench/README.md`,
"Crops by a window of the layout").

It only nominates: the candidate with the best window correlation - at least
:data:`WINDOW_MATCH`, and :data:`WINDOW_MARGIN` above the next candidate's that is not a copy
of it (a copy stands out; among look-alikes some window of each correlates about as well) -
goes to the key-point check like a grey-band candidate; the key points confirm or not. Only a
query's :data:`WINDOW_CANDIDATES` best candidates by copy score are compared.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from PIL import Image

from models import LAYOUT_BYTES
from search.descriptor.layout_match import LAYOUT_MATCH, layout_ranks

WINDOW_MATCH = 0.8  # correlation from which a candidate is nominated
WINDOW_MARGIN = 0.03  # how far the nominee's correlation must stand above the next one's
WINDOW_CANDIDATES = 32  # a query's best candidates (by copy score) compared, at most
MIN_CELLS = 6  # a window's sides in cells, at least (3/8 of the photo's)
_SIDE = round(LAYOUT_BYTES**0.5)  # cells per side of a layout
_GRID = 64  # the query's grey levels are first averaged to this many cells a side


def window_correlations(
    picture: Image.Image, layouts: list[bytes], aspects: list[float]
) -> np.ndarray:
    """For each candidate layout (``aspects``: its image's width / height), the best Pearson
    correlation of the query ``picture``'s grey levels (mirrored too) with any window of the
    layout of the query's shape: float32 [len(layouts)] (-1 where no window fits)."""
    out = np.full(len(layouts), -1.0, np.float32)
    if not layouts or picture.width < 2 or picture.height < 2:
        return out
    grey = picture.convert("L")
    grey = grey.resize((_GRID, _GRID), Image.Resampling.BOX, reducing_gap=2.0)
    query_aspect = picture.width / picture.height
    cells = np.frombuffer(b"".join(layouts), np.uint8).reshape(-1, _SIDE, _SIDE)
    cells = cells.astype(np.float32)
    shapes: dict[tuple[int, int], list[int]] = {}
    for n, aspect in enumerate(aspects):
        for w in range(MIN_CELLS, _SIDE + 1):
            h = round(w * aspect / query_aspect)
            if MIN_CELLS <= h <= _SIDE and (w, h) != (_SIDE, _SIDE):
                shapes.setdefault((w, h), []).append(n)
    for (w, h), members in shapes.items():
        q = np.asarray(grey.resize((w, h), Image.Resampling.BOX), np.float32)
        queries = np.stack([q.ravel(), q[:, ::-1].ravel()])
        queries -= queries.mean(axis=1, keepdims=True)
        queries /= np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-6)
        windows = np.lib.stride_tricks.sliding_window_view(cells[members], (h, w), axis=(1, 2))
        windows = windows.reshape(len(members), -1, h * w)
        windows = windows - windows.mean(axis=2, keepdims=True)
        norms = np.maximum(np.linalg.norm(windows, axis=2), 1e-6)
        best = ((windows @ queries.T).max(axis=2) / norms).max(axis=1)
        out[members] = np.maximum(out[members], best)
    return out


def crop_nominees(
    picture: Image.Image | None,
    copy: Mapping[int, float],
    layouts: Mapping[int, bytes],
    aspects: Mapping[int, float],
) -> list[tuple[int, float]]:
    """:func:`window_nominees` among the :data:`WINDOW_CANDIDATES` candidates with a layout
    that have the best copy scores (``copy``; ties in the order of ``layouts``): the engine's
    and the evaluation's rule."""
    best = sorted(layouts, key=lambda p: -copy[p])[:WINDOW_CANDIDATES]
    shapes = {p: aspects[p] for p in best if p in aspects}
    return window_nominees(picture, {p: layouts[p] for p in best}, shapes)


def window_nominees(
    picture: Image.Image | None, layouts: Mapping[int, bytes], aspects: Mapping[int, float]
) -> list[tuple[int, float]]:
    """``[(position, correlation)]`` of the candidate (``layouts`` and image ``aspects``, by
    position) with a window in step with the query ``picture``: the best correlation, at least
    :data:`WINDOW_MATCH` and :data:`WINDOW_MARGIN` above the best of the candidates that are
    not copies of it by their whole layout (:data:`LAYOUT_MATCH`); else ``[]``."""
    left = [p for p in layouts if len(layouts[p]) == LAYOUT_BYTES and aspects.get(p, 0) > 0]
    if picture is None or not left:
        return []
    found = window_correlations(picture, [layouts[p] for p in left], [aspects[p] for p in left])
    best = int(np.argmax(found))
    if found[best] < WINDOW_MATCH:
        return []
    ranks = layout_ranks([layouts[p] for p in left])
    others = np.abs(ranks @ ranks[best]) < LAYOUT_MATCH  # not the nominee's copies (nor itself)
    runner_up = float(found[others].max()) if others.any() else -1.0
    if found[best] - runner_up < WINDOW_MARGIN:
        return []
    return [(left[best], float(found[best]))]
