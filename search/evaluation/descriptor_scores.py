"""Score matrices of a descriptor evaluation: query views against stored rows, by blocks.

:class:`_Matrices` holds every file as library rows and as query rows; :func:`_scores` turns
them into the rankings (rank score: copy score fused with label similarity) and pairs
(symmetric copy score, raised where :func:`grey_band_boosts` confirms a query's candidate, and
expanded over the duplicate graph) that :func:`search.evaluation.scoring.evaluate_scores` measures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np
from PIL import Image

from models import LAYOUT_BYTES, ImageError, load_image
from search.descriptor import (
    KEY_POINT_DRAFT,
    VERIFY_CHECKED,
    Descriptor,
    StoredImage,
    label_vectors,
)
from search.evaluation import metrics as m
from search.evaluation.scoring import EXACT_MAX_FILES, Scores

if TYPE_CHECKING:
    pass

BLOCK = 128  # query files per block of the score matrices
T = TypeVar("T")
Progress = Callable[[str], None]


@dataclass
class FileViews:
    """One file as library image (``stored``) and as query (``views``/``names``), its width
    and height, and its grey-level layout."""

    stored: StoredImage
    views: np.ndarray
    names: tuple[str, ...]
    size: tuple[int, int] = (0, 0)
    layout: bytes | None = None


class _Matrices:
    """Copy / label / rank scores between query views and stored rows, by blocks."""

    def __init__(self, descriptor: Descriptor, files: list[FileViews]) -> None:
        self.d = descriptor
        self.n = len(files)
        self.rows, self.owner = descriptor.stored_rows([f.stored for f in files])
        self.queries = [
            descriptor.query_rows(f.views, f.names, f.stored.frame_dominant) for f in files
        ]
        self.labels = None
        if descriptor.config.labels:
            self.labels = label_vectors([f.stored.labels for f in files], {})

    def copy_block(self, start: int, stop: int) -> np.ndarray:
        out = np.full((stop - start, self.n), -np.inf, np.float32)
        for r, views in enumerate(self.queries[start:stop]):  # one query's views at a time:
            # a turned view is capped by that query's own upright matches (view_scores)
            np.maximum.at(out[r], self.owner, self.d.view_scores(views, self.rows).max(axis=0))
        return out

    def copy_matrix(self) -> np.ndarray:
        """Every query's copy score with every stored image [n, n] (-inf on the diagonal:
        a query's own file is no candidate)."""
        copy = np.empty((self.n, self.n), np.float32)
        for start in range(0, self.n, BLOCK):
            copy[start : start + BLOCK] = self.copy_block(start, min(self.n, start + BLOCK))
        np.fill_diagonal(copy, -np.inf)
        return copy

    def label_block(self, start: int, stop: int) -> np.ndarray | None:
        return None if self.labels is None else self.labels[start:stop] @ self.labels.T

    def stored_graph(self) -> np.ndarray:
        """Copy scores between stored images from their stored rows only [n, n] (what a
        library can look up for its own images; -inf on the diagonal)."""
        sims = self.rows @ self.rows.T
        out = np.full((self.n, self.n), -np.inf, np.float32)
        for a in range(len(self.rows)):
            np.maximum.at(out[self.owner[a]], self.owner, sims[a])
        np.fill_diagonal(out, -np.inf)
        return out


def _scores(
    mx: _Matrices,
    depth: int,
    boost: dict[tuple[int, int], float],
    copy: np.ndarray | None = None,
) -> Scores:
    """Rankings by rank score and pairs by symmetric copy score (+ the key-point check's
    boosts of ``(query, candidate)``, then the duplicate-graph expansion); ``copy``: the
    :meth:`_Matrices.copy_matrix` already computed (raised in place), else computed here."""
    n = mx.n
    d = mx.d
    copy = mx.copy_matrix() if copy is None else copy
    for (a, b), v in boost.items():  # query a's candidate b confirmed by key points
        copy[a, b] = max(copy[a, b], v)
    pair = np.maximum(copy, copy.T)
    reached = copy
    if d.config.expand:
        graph = mx.stored_graph()
        copy, reached = d.expand_reached(copy, graph)
        pair = d.expand(pair, graph)
        pair = np.maximum(pair, pair.T)
    rank_scores = np.empty((n, depth), np.float32)
    rank_idx = np.empty((n, depth), np.int64)
    for start in range(0, n, BLOCK):
        stop = min(n, start + BLOCK)
        r = d.rank_scores(copy[start:stop], mx.label_block(start, stop), reached[start:stop])
        r[np.arange(stop - start), np.arange(start, stop)] = -np.inf
        top = np.argsort(-r, axis=1, kind="stable")[:, :depth]
        rank_idx[start:stop] = top
        rank_scores[start:stop] = np.take_along_axis(r, top, axis=1)
    if n <= EXACT_MAX_FILES:
        i, j = np.triu_indices(n, 1)
        s = pair[i, j]
    else:
        p = pair.copy()
        np.fill_diagonal(p, -np.inf)
        top = np.argsort(-p, axis=1)[:, :depth]
        i, j, s = m.candidate_pairs(np.take_along_axis(p, top, 1), top)
    return Scores(rank_scores, rank_idx, i, j, s, lambda a, b: float(pair[a, b]))


def grey_band_boosts(
    files: Sequence[FileViews],
    paths: Sequence[Path],
    copy: np.ndarray,
    descriptor: Descriptor,
    progress: Progress,
) -> dict[tuple[int, int], float]:
    """The engine's local check, offline (``local=on`` or ``verify=on``): each query (row of
    ``copy``, :meth:`_Matrices.copy_matrix`) whose candidates hold no firm copy
    (:meth:`Descriptor.firm_score`, as :meth:`QueryScorer.search` asks) has, when it is small
    (its file's size in ``files``), its best candidates compared by pixels
    (:func:`pixel_candidates`, :func:`pixel_copy_score`), then its :data:`VERIFY_CHECKED` best
    grey-band candidates (:func:`grey_band`) and those its layout nominates
    (:func:`layout_matches`, among every file of the set where the engine looks among its
    candidates; an inverted one with the query's grey levels inverted, then as it is) and a
    window of its best candidates' layouts (:func:`crop_nominees`: crops) checked with ORB +
    RANSAC (a pair left short again with the query's denser key points where their layouts
    correlate, one with partial evidence with the query at a crop's scale:
    :func:`count_inliers_closer`);
    ``(query, candidate)`` -> the confirmed copy's score, where that raises it. Only the files a
    check needs are read."""
    from search.descriptor import (
        DENSE_LAYOUT,
        MIN_INLIERS,
        count_inliers_closer,
        crop_nominees,
        crop_scale_features,
        dense_features,
        grey_band,
        grey_levels,
        is_small,
        layout_matches,
        layout_ranks,
        local_features,
        nominees_to_check,
        pixel_candidates,
        pixel_copy_score,
        pixel_correlation,
        read_thumbnail,
        verified_copy_score,
        verified_floor,
    )

    cal = descriptor.calibration
    firm = descriptor.firm_score()
    unsettled = [a for a, row in enumerate(copy) if firm is None or row.max() < firm]

    def cached(make: Callable[[int], T]) -> Callable[[int], T | None]:
        """``make(n)`` once per file; None where the file cannot be decoded."""
        done: dict[int, T | None] = {}

        def of(n: int) -> T | None:
            if n not in done:
                try:
                    done[n] = make(n)
                except ImageError:
                    done[n] = None
            return done[n]

        return of

    thumbnail_of = cached(lambda n: read_thumbnail(paths[n]))
    pixels_of = cached(lambda n: grey_levels(load_image(paths[n]).image))

    def key_point_image(n: int) -> Image.Image:
        return load_image(paths[n], draft_size=KEY_POINT_DRAFT).image

    features_of = cached(lambda n: local_features(key_point_image(n)))
    picture_of = cached(lambda n: load_image(paths[n]).image)

    aspects = {n: f.size[0] / f.size[1] for n, f in enumerate(files) if f.size[1]}

    inverted_of = cached(lambda n: local_features(key_point_image(n), inverted=True))
    closer_of = cached(lambda n: crop_scale_features(key_point_image(n)))
    dense_of = cached(lambda n: dense_features(key_point_image(n)))
    layouts = layout_ranks([f.layout or bytes(LAYOUT_BYTES) for f in files])
    floor = verified_floor(cal)
    raised: dict[int, dict[int, float]] = {}
    small = [a for a in unsettled if is_small(*files[a].size)]
    if small:
        progress(f"comparing {len(small)} small queries' best candidates by pixels")
    for a in small:
        query = pixels_of(a)
        for b in pixel_candidates(copy[a], cal) if query is not None else ():
            if (other := thumbnail_of(b)) is not None:
                v = pixel_copy_score(float(copy[a, b]), pixel_correlation(query, other), cal)
                if v > copy[a, b]:
                    raised.setdefault(a, {})[b] = v
    checks: list[tuple[int, int, float, bool]] = []  # query, candidate, score, inverted
    for a in unsettled:
        row = np.array(copy[a], np.float32)
        for b, v in raised.get(a, {}).items():
            row[b] = v
        band = grey_band(row, cal, VERIFY_CHECKED)
        checks += [(a, b, float(row[b]), False) for b in band]
        rho = np.where(row < floor, layouts @ layouts[a], np.nan)
        rho[a] = np.nan
        near = [b for b in range(len(files)) if b != a and row[b] < floor and files[b].layout]
        near_layouts = {b: files[b].layout or b"" for b in near}
        crops = crop_nominees(picture_of(a), {b: row[b] for b in near}, near_layouts, aspects)
        upright, inverted = nominees_to_check(layout_matches(rho) + crops, band)
        checks += [(a, b, float(row[b]), b in inverted) for b in upright + inverted]
    progress(f"checking {len(checks)} grey-band and layout candidates with key points")
    boost = {(a, b): v for a, found in raised.items() for b, v in found.items()}
    for a, b, own, inverted in checks:
        fa, fb = (inverted_of if inverted else features_of)(a), features_of(b)
        if fa is None or fb is None:
            continue
        # the denser points for a candidate laid out as the query only, as the engine asks
        laid_out = abs(float(layouts[a] @ layouts[b])) >= DENSE_LAYOUT
        as_is = (partial(closer_of, a), partial(dense_of, a) if laid_out else lambda: None)
        if inverted:  # the crop's scale and the denser points are of the levels as they are
            inliers = count_inliers_closer(fa, fb, lambda: None)
        else:
            inliers = count_inliers_closer(fa, fb, *as_is)
        # an inverted nominee is matched as it is too, as the engine does
        if inverted and inliers < MIN_INLIERS and (upright := features_of(a)) is not None:
            inliers = max(inliers, count_inliers_closer(upright, fb, *as_is))
        v = verified_copy_score(own, inliers, cal)
        if v > max(own, boost.get((a, b), own)):
            boost[(a, b)] = v
    return boost
