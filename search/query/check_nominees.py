"""The grey-band check's nominees among a query's candidates (:mod:`search.query.local_check`):
those its grey-level layout puts in rank order with it, the one a window of whose layout
matches the query's picture, and the second opinions of the layout and the plain embedding."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from models.views import ViewSet
from search.descriptor import (
    Calibration,
    crop_nominees,
    layout_correlations,
    layout_first,
    nominated_layouts,
    plain_nominees,
    verified_floor,
)
from search.query.records import LibraryRecords

Nominees = list[tuple[int, float]]  # (position among the candidates, rho or 1.0)


def check_nominees(
    records: LibraryRecords,
    views: ViewSet | None,
    ids: Sequence[int],
    copy: np.ndarray,
    calibration: Calibration | None,
) -> tuple[Nominees, Nominees, Nominees, dict[int, float]]:
    """``(position, rho)`` of the candidates that the query's layout nominates for the key
    points (:func:`search.descriptor.nominated_layouts`), of the one a window of whose layout
    matches the query's picture (:func:`search.descriptor.crop_nominees`: a positive
    correlation), and ``(position, 1.0)`` of the second opinions: the first candidate by the
    layout and by the plain embedding where the descriptor ranks another first
    (:mod:`search.descriptor.second_opinion`); those already confirmed or sure (at
    :func:`search.descriptor.verified_floor` or above) left out; and every open candidate's
    rho by position. One read of their layouts, one of their raw vectors."""
    layout = views.layout if views is not None else None
    if views is None or not len(ids):
        return [], [], [], {}
    floor = verified_floor(calibration)
    vectors = records.raw_vectors([int(i) for i in ids])
    second = plain_nominees(views.embeddings[0], ids, copy, vectors, floor)
    if layout is None:
        return [], [], [(n, 1.0) for n in second], {}
    open_ = [n for n in range(len(ids)) if copy[n] < floor]
    stored = records.shaped_layouts([int(ids[n]) for n in open_])
    shaped = {n: stored[int(ids[n])] for n in open_ if int(ids[n]) in stored}
    layouts = {n: layout for n, (layout, _) in shaped.items()}
    aspects = {n: aspect for n, (_, aspect) in shaped.items()}
    by_copy = {n: float(copy[n]) for n in shaped}
    crops = crop_nominees(views.picture, by_copy, layouts, aspects)
    rho = layout_correlations(layout, layouts)
    second += [n for n in layout_first(rho, copy, floor) if n not in second]
    return nominated_layouts(rho), crops, [(n, 1.0) for n in second], rho
