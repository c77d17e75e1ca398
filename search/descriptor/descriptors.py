"""How images are compared: views, frames, whitening, label fusion (options with defaults).

The library keeps the model's raw embedding per image (the truth) plus, for a photo found
inside a frame (screenshot, caption bars, padding), the photo's own embedding. A
:class:`Descriptor` turns those into what is searched and scored:

* **copy score** ``C(q, d)``: the best cosine between any *query view* (the query turned by
  quarter turns, and the framed photo turned the same ways; :mod:`models.views`) and any
  *stored row* of ``d`` (its whole-image vector, unless a frame dominates it, and its framed
  photo's vector), both mapped through the library's learned :class:`Whitening` when there is
  one. Symmetric pair score (dedup, pair metrics): ``max(C(a, b), C(b, a))``. A turned view's
  cosine counts :data:`TURNED_VIEW_DISCOUNT` less (its row is scaled), and below the
  sure-copy score (:meth:`Descriptor.sure_score`) :data:`TURNED_WEAK_MARGIN` less again, and
  never more than the query's best upright match: a quarter-turned copy scores as a copy
  through its turned view, but more views are more chances for a look-alike, so in the grey
  zone a turned match must beat the upright ones clearly, and below any copy evidence it
  does not re-order what the upright views found (a degraded picture matches anything a
  little, whichever way up; measured: ``bench/edit_queries.py``).
* **calibrated copy scores**, against the library's background (random pairs of stored rows):
  ``z = (C - median) / spread`` (robust: median, 1.4826 x MAD) decides what the gate and the
  expansion treat as a sure copy; ``duplicate_z = (C - mean) / sd`` is the user-facing one:
  one threshold (:data:`DUPLICATE_Z`) means the same in every library. Its P99 threshold is
  ~4.6 on both hard copy dev sets, whose negatives are unrelated photos; a real library also
  holds look-alikes (burst shots, many photos of one species): on all 509 shared photos
  (whitened, 128 dims) z 4.5 keeps pair precision 0.881, z 6.0 0.987 with pair recall 0.793
  (different photos of one UKBench object left out: they score like copies at any threshold).
* **duplicate-graph expansion** (``expand`` = K): a copy of a copy is a copy. For each of the
  query's K best matches ``k`` that is itself a sure copy (``z >= EXPAND_Z``), the stored
  images ``o`` that are sure copies of ``k`` score at least ``min(C(q, k), C(k, o))`` less
  ``CHAIN_STEP * (1 - C(q, o))`` (strictly below ``k`` itself, in the order of their own
  scores: no ties; never below the duplicate decision when the chain reaches it). Hard
  edits of a photo are found through the library's easier copies of it; look-alikes (far
  below ``EXPAND_Z``) are never chained; the query's own vector (the image itself,
  ``C >= SELF_SCORE``) is not followed: its copies are already the query's.
* **rank score**: ``(1 - w) * C + w * (g + (1 - g) * L)`` with ``L`` the similarity of the two
  images' top class labels (Bhattacharyya coefficient of the top-5 probabilities) and ``g`` a
  soft gate on ``z`` (~1 for copies), widened to the query's best candidate that is not a
  sure copy (:meth:`Descriptor.copy_tier`): labels re-rank look-alikes (category search)
  without pulling a detected copy - or the strongest copy evidence below the decision, or a
  copy chained from either by the expansion - under a look-alike.

:class:`DescriptorConfig` names the options; ``DescriptorConfig.parse("plain")`` is the plain
embedding (one view, no frames, no whitening, no labels), the defaults are the measured best.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from search.descriptor.calibration import PLAIN_BACKGROUND, Calibration, background
from search.descriptor.config import (
    BACKGROUND_PAIRS,
    DUPLICATE_Z,
    EXPAND_Z,
    GATE_WIDTH,
    GATE_Z,
    GATE_Z_WHITENED,
    MIN_CALIBRATION_IMAGES,
    TIER_MARGIN,
    TURNED_VIEW_DISCOUNT,
    TURNED_WEAK_MARGIN,
    WITNESS_Z,
    DescriptorConfig,
)
from search.descriptor.errors import DescriptorError
from search.descriptor.expansion import SELF_SCORE, chain_scores, hub_order
from search.descriptor.whitening import Whitening


@dataclass
class StoredImage:
    """What a library holds for one image: raw vector, optional framed-photo vector, labels;
    ``uniform``: almost one flat tone (its quality flags), a vector that any flat patch of its
    colour matches."""

    vector: np.ndarray
    frame: np.ndarray | None = None
    frame_dominant: bool = False
    labels: Sequence[tuple[str, float]] = ()
    uniform: bool = False


UNDER_UPRIGHT = 1e-4  # a capped turned match ranks just under the best upright one


def _under_best(upright: np.ndarray) -> float | None:
    """Just under the best of upright cosines other than the query's own image's (a match
    at ``SELF_SCORE``); None when there is none (:meth:`Descriptor.upright_cap`)."""
    others = upright[upright < SELF_SCORE]
    return float(others.max()) - UNDER_UPRIGHT if others.size else None


class Descriptor:
    """A configuration plus what the library learned (whitening, calibration)."""

    def __init__(
        self,
        config: DescriptorConfig | None = None,
        whitening: Whitening | None = None,
        calibration: Calibration | None = None,
    ) -> None:
        self.config = config or DescriptorConfig()
        self.whitening = whitening if self.config.whiten else None
        dims = self.config.dims
        if self.whitening is not None and 0 < dims < self.whitening.dimension:
            w = self.whitening  # its rows are the principal axes, the strongest first
            self.whitening = Whitening(w.mean, w.projection[:dims], w.pairs, w.images)
        self.calibration = calibration

    @property
    def calibration(self) -> Calibration | None:
        """The library's background of copy scores (None: not measured yet), its
        :attr:`Calibration.confirmed_z` this space's: in a whitened space a copy confirmed by
        local evidence is past the look-alikes (``duplicate_z >= WITNESS_Z``), as a firm copy
        is (:meth:`firm_score`)."""
        return self._calibration

    @calibration.setter
    def calibration(self, value: Calibration | None) -> None:
        confirmed = WITNESS_Z if self.whitening is not None else DUPLICATE_Z
        self._calibration = None if value is None else replace(value, confirmed_z=confirmed)

    @property
    def fingerprint(self) -> str:
        extra = self.whitening.fingerprint if self.whitening is not None else "none"
        return f"{self.config.fingerprint}-{extra}"

    # -- vectors ----------------------------------------------------------------------------

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        """Raw unit embeddings -> the searched space (whitened when learned), unit rows."""
        x = np.asarray(vectors, dtype=np.float32)
        if self.whitening is not None:
            return self.whitening.apply(x)
        norms = np.linalg.norm(x, axis=-1, keepdims=True)
        return (x / np.maximum(norms, 1e-12)).astype(np.float32)

    def stored_rows(self, images: Sequence[StoredImage]) -> tuple[np.ndarray, np.ndarray]:
        """``(rows [M, D'], owner [M])``: the searched vectors of each image (the whole image
        unless a frame dominates it, plus the framed photo when frames are on)."""
        rows, owner = [], []
        for i, img in enumerate(images):
            use_frame = self.config.frames and img.frame is not None
            if not (use_frame and img.frame_dominant):
                rows.append(img.vector)
                owner.append(i)
            if use_frame:
                rows.append(img.frame)
                owner.append(i)
        if not rows:
            return np.zeros((0, 1), np.float32), np.zeros(0, np.int64)
        return self.transform(np.stack(rows)), np.asarray(owner, np.int64)

    def query_rows(
        self, embeddings: np.ndarray, names: Sequence[str], frame_dominant: bool = False
    ) -> np.ndarray:
        """The searched query views [V, D'] of a :class:`models.views.ViewSet`'s embeddings:
        the configured rotations, frame views when frames are on, and only the frame's views
        when the frame dominates (a screenshot)."""
        keep, off = [], {"frame": not self.config.frames, "unblocked": not self.config.unblock}
        for i, name in enumerate(names):
            kind, _, angle = name.partition("@")
            if int(angle or 0) not in self.config.angles or off.get(kind):
                continue
            if kind == "full" and frame_dominant and self.config.frames:
                continue
            keep.append(i)
        if not keep:
            keep = [0]
        rows = self.transform(np.asarray(embeddings)[keep])
        turned = [bool(int(names[i].partition("@")[2] or 0)) for i in keep]
        if TURNED_VIEW_DISCOUNT and any(turned):
            rows[np.asarray(turned)] *= 1.0 - TURNED_VIEW_DISCOUNT
        return rows

    # -- scores -----------------------------------------------------------------------------

    def copy_scores(
        self,
        query: np.ndarray,
        rows: np.ndarray,
        owner: np.ndarray,
        count: int,
        cap: float | None = None,
    ) -> np.ndarray:
        """Best cosine of any query view with any row of each of ``count`` images (-inf for
        an image without rows); ``cap``: as :meth:`view_scores`."""
        out = np.full(count, -np.inf, np.float32)
        if len(rows):
            np.maximum.at(out, owner, self.view_scores(query, rows, cap).max(axis=0))
        return out

    def upright_cap(self, query: np.ndarray, rows: np.ndarray) -> float | None:
        """The query's best upright match with ``rows`` other than its own image (a match at
        ``SELF_SCORE``), under which its weak turned matches stay (module doc); None when
        there is none."""
        turned = self.turned_views(query)
        if not len(rows) or turned.all():
            return None
        sims = np.asarray(query, np.float32) @ np.asarray(rows, np.float32).T
        return _under_best(sims[~turned])  # as view_scores derives it: the same product

    def view_scores(
        self, query: np.ndarray, rows: np.ndarray, cap: float | None = None
    ) -> np.ndarray:
        """Cosines [V, M] of one query's views (:meth:`query_rows`) with stored rows; a turned
        view's below the sure-copy score count :data:`TURNED_WEAK_MARGIN` less, and no more
        than ``cap`` (:meth:`upright_cap`; of ``rows`` when not given: a caller that scores
        part of the query's candidates at a time gives the one of them all, so a pair scores
        the same however it is met) (module doc)."""
        sims = np.asarray(query, np.float32) @ np.asarray(rows, np.float32).T
        sure = self.sure_score()
        turned = self.turned_views(query)
        if sure is not None and turned.any():
            weak = sims[turned] < sure * (1.0 - TURNED_VIEW_DISCOUNT)
            lowered = sims[turned] - TURNED_WEAK_MARGIN
            if cap is None and not turned.all():  # of these rows: their upright cosines
                cap = _under_best(sims[~turned])
            if cap is not None:
                lowered = np.minimum(lowered, cap)
            sims[turned] = np.where(weak, lowered, sims[turned])
        return sims

    @staticmethod
    def turned_views(query: np.ndarray) -> np.ndarray:
        """Which query views [V] are turned: :meth:`query_rows` scales a turned view's row
        by ``1 - TURNED_VIEW_DISCOUNT``, so its norm says so."""
        return np.linalg.norm(query, axis=-1) < 1.0 - TURNED_VIEW_DISCOUNT / 2

    def sure_score(self) -> float | None:
        """The copy score of a sure copy: chained by the expansion (robust ``z >=
        EXPAND_Z``) and a duplicate (``duplicate_z >= DUPLICATE_Z``); None uncalibrated."""
        cal = self.calibration
        if cal is None:
            return None
        return max(cal.score(EXPAND_Z), cal.duplicate_threshold(DUPLICATE_Z))

    def firm_score(self) -> float | None:
        """The copy score of a copy past every look-alike: :meth:`sure_score` in the plain
        space; in a whitened one, where look-alikes of one class reach z 6-8.5, ``duplicate_z
        >= WITNESS_Z`` too; None uncalibrated."""
        sure = self.sure_score()
        cal = self.calibration
        if sure is None or cal is None:
            return sure
        return max(sure, cal.duplicate_threshold(cal.confirmed_z))

    def gate(self, copy: np.ndarray) -> np.ndarray:
        """~1 for scores well above the background (copies), ~0 for the rest."""
        if self.calibration is None:
            return np.zeros_like(np.asarray(copy, np.float64))
        z = self.calibration.z(copy)
        at = GATE_Z_WHITENED if self.whitening is not None else GATE_Z
        return 1.0 / (1.0 + np.exp(-np.clip((z - at) / GATE_WIDTH, -50, 50)))

    def rank_scores(
        self, copy: np.ndarray, labels: np.ndarray | None, reached: np.ndarray | None = None
    ) -> np.ndarray:
        """Ranking score from copy scores and label similarities (same shapes); ``reached``:
        the copy score of the sure copy each result was chained through by the expansion
        (its own where none; see :meth:`copy_tier`)."""
        w = self.config.labels
        c = np.asarray(copy, np.float64)
        if not w or labels is None:
            return c.astype(np.float32)
        g = self.copy_tier(c, reached)
        return ((1 - w) * c + w * (g + (1 - g) * np.asarray(labels, np.float64))).astype(np.float32)

    def copy_tier(self, copy: np.ndarray, reached: np.ndarray | None = None) -> np.ndarray:
        """The gate, widened per query (last axis) to the best candidate that is not a sure
        copy, less :data:`TIER_MARGIN` background spreads (a weak copy of the query's
        original may score a little above it): those and everything above them get 1, so
        label similarity never lifts a result
        over one with more copy evidence at the top (a weak copy - a tiny rescale at z 2 -
        stays first, as in the plain embedding); it only re-orders the rest. A copy chained
        from a member of the tier (``reached``: the score of the sure copy it was reached
        through, which it scores just below) is in the tier too: copy evidence outranks
        label similarity, so the original of a query whose sibling copy holds the tier's
        last place is never left to the labels."""
        c = np.asarray(copy, np.float64)
        g = self.gate(c)
        unsure = np.where((g < 0.5) & np.isfinite(c), c, -np.inf)
        best = unsure.max(axis=-1, keepdims=True) if c.size else unsure
        margin = TIER_MARGIN * self.calibration.spread if self.calibration is not None else 0.0
        top = c if reached is None else np.maximum(c, np.asarray(reached, np.float64))
        tier = top >= best - margin
        if reached is not None and c.size:  # nothing with more copy evidence than a chained
            # member is left to the labels (a look-alike chained through a copy at 0.46 stood
            # above the query's original at 0.54)
            least = np.where(tier & np.isfinite(c), c, np.inf).min(axis=-1, keepdims=True)
            tier |= c >= least
        return np.where(tier, 1.0, g)

    def expand(self, copy: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
        """Duplicate-graph expansion of copy scores ``copy`` [Q, N] (row: one query against
        the N stored images; the query itself, if stored, must be -inf) through the stored
        images' copy scores among themselves ``neighbours`` [N, N] (see the module doc)."""
        return self.expand_reached(copy, neighbours)[0]

    def expand_reached(
        self, copy: np.ndarray, neighbours: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`expand` and, per score, the copy score of the sure copy it was raised
        through (its own where none: the ``reached`` of :meth:`rank_scores`)."""
        k = min(self.config.expand, copy.shape[1])
        if not k or self.calibration is None:
            return copy, copy
        sure = self.calibration.score(EXPAND_Z)
        decision = self.calibration.duplicate_threshold()
        out, reached = copy.copy(), copy.copy()
        graph = np.where(neighbours >= sure, neighbours, -np.inf)
        for q in range(copy.shape[0]):
            ks = hub_order(copy[q], sure, k)
            if len(ks):
                chained = chain_scores(copy[q, ks][:, None], graph[ks], copy[q], decision)
                best = chained.max(axis=0)
                hub = copy[q, ks][chained.argmax(axis=0)]
                reached[q] = np.where(best > out[q], np.maximum(reached[q], hub), reached[q])
                out[q] = np.maximum(out[q], best)
        return out, reached

    def calibrate(
        self, images: Sequence[StoredImage], *, pairs: int = BACKGROUND_PAIRS, seed: int = 0
    ) -> Calibration:
        """Background of copy scores from random pairs of different stored images
        (:data:`PLAIN_BACKGROUND` for plain-space libraries under MIN_CALIBRATION_IMAGES)."""
        if len(images) < MIN_CALIBRATION_IMAGES and self.whitening is None:
            self.calibration = PLAIN_BACKGROUND
            return self.calibration
        rows, owner = self.stored_rows(images)
        if len(images) < 3:
            raise DescriptorError("need at least 3 images to measure the background")
        rng = np.random.default_rng([seed, 0xCA1])
        a = rng.integers(0, len(rows), pairs)
        b = rng.integers(0, len(rows), pairs)
        keep = owner[a] != owner[b]
        a, b = a[keep], b[keep]
        # In blocks: the rows of 20 000 pairs gathered at once are 2 x 80 MB (1024-d), fresh
        # pages every time; einsum sums each pair's products without a third block in memory
        # (a first index run spent 0.2 s CPU here with ``(x * y).sum(axis=1)``).
        scores = np.concatenate(
            [np.zeros(0, np.float32)]
            + [
                np.einsum("ij,ij->i", rows[a[i : i + 1024]], rows[b[i : i + 1024]])
                for i in range(0, len(a), 1024)
            ]
        )
        self.calibration = background(scores)
        return self.calibration
