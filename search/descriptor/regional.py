"""Regional evidence for :class:`search.descriptor.QueryScorer`: one picture of a collage.

When every view of a query (``regions``, the descriptor's option) leaves it unsettled, the
engine's callback embeds the query's parts: the cells of a collage that gutters or seams cut
apart (:func:`models.collage_cells`: a 3x3 grid's photos, a photo pasted into another), its
2x2 tiles and, for a wide or tall query, its two halves (two pictures side by side; the halves
count as tiles). Their candidates join the others, and an image's copy score is raised to its
best tile match only where that tile holds a copy of it (a sure copy in the library's space
with a cosine of at least ``REGION_SCORE``, and a plain-space cosine of at least
``REGION_COSINE``, read again for the ``REGION_CHECKED`` best): one picture of a collage -
never a uniform picture (almost one flat tone: any flat patch of its colour matches its vector).
A copy a tile raised (a lesser one, or the best under ``LOCAL_WITNESS_Z``: a light page's quarter
matched a grey placeholder) is asked of that tile's key points by the witness, and refuted, falls
back to the whole query's score. Weaker tile matches count for nothing, so a tile never lifts a
look-alike; the best of the others at a sure copy's z (at most ``REGION_NOMINATED``) and a collage
cell's best matches at any z, raised or not (at most ``CELL_NOMINATED``: a small photo's cosine is
low, and other photos of its object can match its key points too) are ``tile_nominees``: the key
points of the tile that matched each decide. Once a cell holds a sure copy (a collage, then), every
cell's best match is checked by its cell's key points, even when that copy settled the query
(``cell_rest``): a collage's other pictures. So is a query its views settled when that copy fills
only a part of it - under ``LOCAL_WITNESS_Z`` and a plain cosine with the query under
``REGION_COSINE`` (a copy of the whole photo pays nothing more) - its collage cells alone are
embedded then (no tiles: their vectors raise nothing here, the key points decide).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from search.descriptor.config import (
    CELL_NOMINATED,
    EXPAND_Z,
    LOCAL_WITNESS_Z,
    REGION_CHECKED,
    REGION_COSINE,
    REGION_NOMINATED,
    REGION_SCORE,
)
from search.descriptor.descriptors import Descriptor, StoredImage
from search.descriptor.expansion import SELF_SCORE
from search.descriptor.row_cache import PreparedImage

MoreViews = Callable[[], np.ndarray]
QueryParts = Callable[[], tuple[np.ndarray, int]]
"""The rows of a query's parts and how many of them (the first) are collage cells; the rest
are tiles (:meth:`models.views.ViewSet.regions`)."""


@dataclass(frozen=True)
class QueryRegions:
    """A query's parts, embedded when asked: ``parts`` (:data:`QueryParts`, for a query its
    views leave unsettled) and, for a settled one, ``cells()`` (the raw rows of its collage
    cells alone, :meth:`models.views.ViewSet.cells`) with ``plain``, the raw rows of the views
    that settled it (the model's own space: whether its best copy fills all of it)."""

    parts: QueryParts
    cells: Callable[[], np.ndarray] | None = None
    plain: Callable[[], np.ndarray] | None = None


class RegionalEvidence:
    """The query scorer's regional evidence (a base of :class:`QueryScorer`, which provides
    the candidates and copy scores it uses)."""

    descriptor: Descriptor
    stored: Callable[[Sequence[int]], Mapping[int, StoredImage]]
    _candidates: Callable[..., list[int]]  # QueryScorer's: candidates of rows, joined to ids
    _copy: Callable[..., np.ndarray]  # QueryScorer's: copy scores of ids
    _rows: Callable[..., tuple[np.ndarray, np.ndarray]]  # QueryScorer's: ids' rows, owners
    cap: float | None  # QueryScorer's: the query's cap on weak turned matches
    #: (id, tile) for the key points: sure tile matches no cosine raised, and the query's tile
    #: (its index among the ``regions()`` rows) that matched each
    tile_nominees: list[tuple[int, int]]
    region_parts: dict[int, int]  # id -> the tile whose match raised its copy score
    region_whole: dict[int, float]  # id -> its copy score before the tile raised it
    cell_rest: list[tuple[int, int]]  # a collage's other cells' best matches: (id, cell)

    def _regions(
        self,
        regions: QueryParts,
        query: np.ndarray,
        copy: np.ndarray,
        ids: list[int],
        images: dict[int, PreparedImage],
        want: int,
        exclude: int | None,
    ) -> tuple[np.ndarray, list[int]]:
        """Regional evidence (module doc): the tiles' candidates joined to ``ids``, and each
        image's copy score raised to its best tile's where that tile holds a copy of it: a
        sure copy in the library's space (robust ``z >= EXPAND_Z`` and a cosine of at least
        :data:`REGION_SCORE`) whose plain cosine (the model's own space, read again for those
        few) is at least :data:`REGION_COSINE`; the best other tile matches at ``z >= EXPAND_Z``
        and the cells' best matches at any z are :attr:`tile_nominees`, each with the tile
        that matched it."""
        cal = self.descriptor.calibration
        found, cells = regions()
        raw = np.asarray(found, np.float32)
        if cal is None or not len(raw):
            return copy, ids
        each, ids = self._part_scores(raw, ids, images, want, exclude)
        whole = self._copy(query, ids, images)
        regional, piece = each.max(axis=0), each.argmax(axis=0)  # its best tile, and which
        at_z = np.flatnonzero(regional >= cal.score(EXPAND_Z))
        at_z = at_z[np.argsort(-regional[at_z], kind="stable")]  # the best tile matches first
        sure = at_z[regional[at_z] >= REGION_SCORE]
        # a flat picture's vector is matched by any flat patch of its colour: no evidence
        flat = np.array([images[ids[n]].uniform for n in sure], bool)
        sure = sure[~flat][:REGION_CHECKED]
        plain = self._plain_scores(raw, [ids[n] for n in sure])
        keep = sure[plain >= REGION_COSINE]
        raised = set(keep.tolist())
        others = [n for n in at_z if n not in raised][:REGION_NOMINATED]
        nominees = [(ids[n], int(piece[n])) for n in others]
        if cells > 0:  # a cell's best matches at any z: a small photo's cosine is low
            best, which = each[:cells].max(axis=0), each[:cells].argmax(axis=0)
            order = np.argsort(-best, kind="stable")  # raised ones too: a cell's cosine is
            # often short of a duplicate's z, and its key points place it above other views
            taken = {i for i, _ in nominees}
            nominees += [(ids[n], int(which[n])) for n in order if ids[n] not in taken][
                :CELL_NOMINATED
            ]
        self.tile_nominees = nominees
        out = whole.copy()
        out[keep] = np.maximum(whole[keep], regional[keep])
        self.region_parts = {ids[n]: int(piece[n]) for n in keep if regional[n] > whole[n]}
        self.region_whole = {ids[n]: float(whole[n]) for n in keep if regional[n] > whole[n]}
        if any(p < cells for p in self.region_parts.values()):  # a collage, by one of its cells
            self.cell_rest = self._other_cells(each[:cells], ids)  # raised ones too:
            # confirmed, a raised original ranks by its key points above a crop of it
        return out.astype(np.float32), ids

    def _settled_collage(
        self,
        regions: QueryRegions,
        query: np.ndarray,
        copy: np.ndarray,
        ids: list[int],
        images: dict[int, PreparedImage],
        want: int,
        exclude: int | None,
    ) -> tuple[np.ndarray, list[int]]:
        """A query its views settled whose best copy fills only a part of it: that copy under
        ``LOCAL_WITNESS_Z`` and its plain cosine with the query's views under
        :data:`REGION_COSINE` (a copy of the whole photo pays nothing more). When the query
        has collage cells, their candidates join ``ids`` (scored by the whole query, nothing
        raised) and each cell's best match goes to :attr:`cell_rest`, for the key points of
        its cell: a collage's other pictures."""
        cal = self.descriptor.calibration
        if regions.cells is None or regions.plain is None or cal is None or not len(ids):
            return copy, ids
        c = np.where(copy < SELF_SCORE, copy, -np.inf)
        best = int(np.argmax(c))
        if not np.isfinite(c[best]) or cal.duplicate_z(float(c[best])) >= LOCAL_WITNESS_Z:
            return copy, ids
        if self._plain_scores(regions.plain(), [ids[best]])[0] >= REGION_COSINE:
            return copy, ids
        raw = np.asarray(regions.cells(), np.float32)
        if not len(raw):
            return copy, ids
        each, ids = self._part_scores(raw, ids, images, want, exclude)
        self.cell_rest = self._other_cells(each, ids)
        return self._copy(query, ids, images), ids

    def _part_scores(
        self,
        raw: np.ndarray,
        ids: list[int],
        images: dict[int, PreparedImage],
        want: int,
        exclude: int | None,
    ) -> tuple[np.ndarray, list[int]]:
        """The copy scores [parts, ids] of the query's parts (their raw rows ``raw``) with
        ``ids`` and the parts' own candidates joined to them (prepared into ``images``)."""
        parts = self.descriptor.transform(raw)
        ids = self._candidates(parts, want, exclude, ids, images)
        rows, owner = self._rows(ids, images)  # the candidates' rows, read once for every part
        each = [
            self.descriptor.copy_scores(part[None], rows, owner, len(ids), self.cap)
            for part in parts
        ]
        return np.stack(each), ids

    def _refuted_parts(
        self, copy: np.ndarray, ids: Sequence[int], lookalike: Mapping[int, str]
    ) -> tuple[np.ndarray, list[int]]:
        """``copy`` with the score of each look-alike (position -> why) that a part raised
        taken back to the whole query's, its part forgotten, and their positions: a part's
        vector match that its key points refute is no evidence (a flat part of the query
        matches any flat image)."""
        back = [n for n in lookalike if ids[n] in self.region_whole]
        if not back:
            return copy, back
        out = np.array(copy, np.float32)
        for n in back:
            out[n] = self.region_whole.pop(ids[n])
            del self.region_parts[ids[n]]
        return out, back

    @staticmethod
    def _other_cells(each: np.ndarray, ids: list[int]) -> list[tuple[int, int]]:
        """(id, cell) of each cell's best match among the images no other cell took, the
        best matches first: a collage's pictures, for the key points of their cells."""
        out: list[tuple[int, int]] = []
        open_ = np.ones(len(ids), bool)
        for cell in np.argsort(-each.max(axis=1), kind="stable"):
            scores = np.where(open_, each[cell], -np.inf)
            n = int(scores.argmax())
            if np.isfinite(scores[n]):
                out.append((ids[n], int(cell)))
                open_[n] = False
        return out

    def _plain_scores(self, raw: np.ndarray, ids: Sequence[int]) -> np.ndarray:
        """Best plain-space cosine of the raw query rows ``raw`` with each image of ``ids``
        (-inf for one no longer stored)."""
        out = np.full(len(ids), -np.inf, np.float32)
        if not ids:
            return out
        read = self.stored(list(ids))
        have = [n for n, i in enumerate(ids) if i in read]
        if not have:
            return out
        plain = Descriptor(replace(self.descriptor.config, whiten=False))
        rows, owner = plain.stored_rows([read[ids[n]] for n in have])
        best = np.full(len(have), -np.inf, np.float32)
        np.maximum.at(best, owner, (plain.transform(raw) @ rows.T).max(axis=0))
        out[have] = best
        return out
