"""``imgsearch dedup --verify``: confirm borderline duplicate candidates with local features.

Wraps a neighbours provider (:mod:`search.dedup.neighbours`): a candidate pair whose copy
score lies in the grey zone (between the score at calibrated ``z = VERIFY_Z`` and the
duplicate threshold) is checked with ORB key points + RANSAC (:mod:`search.descriptor.verify`);
a pair that one similarity transform explains (heavy crops, rotations, screenshots of the
photo) is raised to its verified copy score (:func:`search.descriptor.verified_copy_score`,
the rule of the engine's ``verify=on`` and the offline evaluation; at least the threshold),
so it becomes an edge of the duplicate graph (its own score kept in :attr:`raised` for the
report). Features are computed once per image (kept on disk by the library's key-point cache
when ``key_points`` reads them), and at most ``max_pairs`` pairs are checked (best first).

An image too small for key points (``small``: its longer side at most ``PIXEL_SIDE``, a
thumbnail) is compared with each of its candidates by pixels instead, whatever their score
(:mod:`search.descriptor.pixel_match`, the rule of the engine's small queries): a match is
raised to its pixel-confirmed score, at least the threshold.

A candidate below the threshold, in the grey band or under it, whose grey-level layout
(``layouts``: the stored ones, by id) is in rank order with the image's from ``|rho| >=
LAYOUT_JOINED`` - a sepia or duotone copy (:mod:`search.descriptor.layout_match`) - is checked
by key points as well, an inverted one with the image's grey levels inverted (then as it is:
the engine's rule). A pair left short of
``MIN_INLIERS`` whose layouts correlate (``|rho| >= DENSE_LAYOUT``) is matched again with the
denser key points of either image (:func:`search.descriptor.dense_features`, made once per
image from its file): a watermark's letters take an image's first 500 key points.

Pairs from ``attach_low`` up to ``low`` are no edges: those of a grouped and a free image are
checked once the groups are made, to attach the free one (:meth:`attachable`,
:mod:`search.dedup.confirmed`).

A pair over the threshold is checked too when star grouping would take it
(:meth:`VerifiedNeighbours.holds`): different photos put through one strong filter (a halftone
screen, pixelation, the same collage frame) look alike to the model, and neither ORB + RANSAC
nor the layouts find one picture in them. A pair is refuted, and not grouped, when its layouts
are not alike (``|rho| < LAYOUT_JOINED``: a squashed or toned copy keeps its layout) and key
points of both images (``REFUTING_POINTS`` each at least, or both under it: two bare pictures,
blurred or flat, that the model sees alike for their blur) find no transform (as a grey-band
pair is matched); one bare image of a detailed one is not refuted (a blurred copy).
A small image's pairs are never refuted, nor any once the budget is spent.

With the descriptor's ``crops`` on, each image's two best matches among the other images'
stored crops (``crops``: image id -> nominee ids; ``pair_score``: the pair's score)
are checked by key points too, taking the places of its weakest candidates (below the grey
band) where they are not among them: an image that is a crop of another, which its whole
vector ranks under look-alikes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Container, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image

from models import ImgsearchError, load_image, usable_cores
from search.dedup.confirmed import with_own_scores
from search.dedup.groups_result import DedupResult
from search.dedup.neighbours import NeighbourProvider
from search.dedup.nominees import nominate, pair_correlation, toned_pairs
from search.descriptor import (
    DENSE_LAYOUT,
    KEY_POINT_DRAFT,
    LAYOUT_JOINED,
    MIN_INLIERS,
    PIXEL_MATCH,
    VERIFY_Z,
    Calibration,
    LocalFeatures,
    QueryPixels,
    count_inliers,
    dense_features,
    grey_levels,
    local_features,
    pixel_copy_score,
    pixel_correlation,
    read_thumbnail,
    verified_copy_score,
)

log = logging.getLogger(__name__)

__all__ = ["MAX_PAIRS", "VERIFY_Z", "VerifiedNeighbours"]  # VERIFY_Z: the grey band's low end

MAX_PAIRS = 20_000
#: an image with fewer key points (flat, or blurred) has too little texture to refute a pair
REFUTING_POINTS = 100
T = TypeVar("T")


class VerifiedNeighbours:
    """A provider whose grey-zone candidates are confirmed geometrically (module doc)."""

    def __init__(
        self,
        inner: NeighbourProvider,
        path_of: Callable[[int], Path | None],
        low: float,
        threshold: float,
        *,
        max_pairs: int = MAX_PAIRS,
        calibration: Calibration | None = None,
        small: frozenset[int] = frozenset(),
        layouts: Callable[[Sequence[int]], dict[int, bytes]] | None = None,
        key_points: Callable[[int], LocalFeatures | None] | None = None,
        workers: int | None = None,
        crops: Callable[[int], Sequence[int]] | None = None,
        pair_score: Callable[[int, int], float] | None = None,
        attach_low: float | None = None,
    ) -> None:
        self.inner = inner
        self.attach_low = attach_low  # from here up to ``low``: pairs that only attach (doc)
        self.lower: dict[tuple[int, int], tuple[float, float]] = {}  # -> (score, layouts' rho)
        self.crops = crops if pair_score is not None else None
        self.pair_score = pair_score
        self.cropped = 0  # pairs its crops nominated
        self.key_points = key_points
        #: threads making key points (decoding and ORB release the GIL): the machine's cores
        self.workers = workers if workers is not None else min(4, usable_cores())
        self.small = small
        self.layouts = layouts
        self.levels: dict[int, QueryPixels | None] = {}  # small images
        self.thumbnails: dict[int, Image.Image | None] = {}  # their candidates
        self.correlated: dict[tuple[int, int], float] = {}  # small pair -> correlation
        self.calibration = calibration
        self.path_of = path_of
        self.low, self.threshold = float(low), float(threshold)
        self.max_pairs = max_pairs
        self.name = f"{getattr(inner, 'name', 'provider')}+verify"
        self.batch_size = getattr(inner, "batch_size", 16384)
        self.features: dict[int, LocalFeatures | None] = {}
        self.inverted: dict[int, LocalFeatures | None] = {}  # toned copies' images
        self.dense: dict[int, LocalFeatures | None] = {}  # pairs left short, laid out alike
        self.densely: dict[tuple[int, int], int] = {}  # pair -> inliers of the denser points
        self.decided: dict[tuple[int, int, bool], int] = {}  # pair, inverted -> inliers
        self.raised: dict[tuple[int, int], float] = {}  # confirmed pair -> its own score
        self.held: dict[tuple[int, int], bool] = {}  # pair over the threshold -> it stands
        self.checked = self.confirmed = self.refuted = 0

    def _features(self, image_id: int, inverted: bool = False) -> LocalFeatures | None:
        """An image's key points, of its grey levels inverted too (each computed once; the
        upright ones by ``key_points`` when given: the library's, kept on disk)."""
        cache = self.inverted if inverted else self.features
        if image_id not in cache:
            cache[image_id] = self._made(image_id, inverted)
        return cache[image_id]

    def key_points_of(self, image_id: int) -> LocalFeatures | None:
        """An image's upright key points as the checks match them (made once)."""
        return self._features(image_id)

    def picture(self, image_id: int) -> Image.Image | None:
        """An image's file decoded at the key points' draft (None: gone or unreadable)."""
        return self._read(image_id, lambda p: load_image(p, draft_size=KEY_POINT_DRAFT).image)

    def _made(self, image_id: int, inverted: bool = False) -> LocalFeatures | None:
        if self.key_points is not None and not inverted:
            return self.key_points(image_id)
        picture = self.picture(image_id)
        return None if picture is None else local_features(picture, inverted=inverted)

    def _denser(self, a: int, b: int) -> int:
        """Inliers of the pair ``a``, ``b`` with the denser key points of either image against
        the other's (each image's made once; each pair matched once)."""
        key = (min(a, b), max(a, b))
        if key not in self.densely:
            if self.checked >= self.max_pairs:  # the run's budget is spent: no more decoding
                return 0
            found = 0
            for one, other in ((a, b), (b, a)):
                if one not in self.dense:
                    picture = self.picture(one)
                    self.dense[one] = None if picture is None else dense_features(picture)
                mine, theirs = self.dense[one], self._features(other)
                if mine is not None and theirs is not None:
                    found = max(found, count_inliers(mine, theirs))
                if found >= MIN_INLIERS:
                    break
            self.confirmed += found >= MIN_INLIERS
            self.densely[key] = found
        return self.densely[key]

    def _prefetch(self, pairs: list[tuple[int, int, bool]]) -> None:
        """Make the upright key points that the first pairs within the budget will match
        (each image once) on :attr:`workers` threads; the matching stays in order."""
        wanted: dict[int, None] = {}
        budget = self.max_pairs - self.checked
        for a, b, inverted in pairs:
            if budget <= 0:
                break
            if (min(a, b), max(a, b), inverted) in self.decided:
                continue
            budget -= 1
            for image_id in (b,) if inverted else (a, b):
                if image_id not in self.features:
                    wanted[image_id] = None
        if self.workers < 2 or len(wanted) < 2:
            return
        with ThreadPoolExecutor(self.workers, thread_name_prefix="key-points") as pool:
            self.features.update(zip(wanted, pool.map(self._made, wanted), strict=True))

    def _pixels(self, image_id: int) -> QueryPixels | None:
        """A small image's grey levels (decoded once)."""
        if image_id not in self.levels:
            self.levels[image_id] = self._read(image_id, lambda p: grey_levels(load_image(p).image))
        return self.levels[image_id]

    def _thumbnail(self, image_id: int) -> Image.Image | None:
        """An image's grey thumbnail (decoded once, at the thumbnail's draft)."""
        if image_id not in self.thumbnails:
            self.thumbnails[image_id] = self._read(image_id, read_thumbnail)
        return self.thumbnails[image_id]

    def _read(self, image_id: int, make: Callable[[Path], T]) -> T | None:
        path = self.path_of(image_id)
        try:
            return make(path) if path else None
        except (ImgsearchError, OSError) as error:
            log.info("verify: image %s not read: %s", image_id, error)
            return None

    def _by_pixels(self, a: int, b: int, score: float) -> float:
        """The pair's score once the small one of ``a``, ``b`` is compared by pixels (each
        pair compared once)."""
        key = (min(a, b), max(a, b))
        if key not in self.correlated:
            small, other = (a, b) if a in self.small else (b, a)
            mine, theirs = self._pixels(small), self._thumbnail(other)
            if mine is None or theirs is None or self.checked >= self.max_pairs:
                return score
            self.checked += 1
            self.correlated[key] = pixel_correlation(mine, theirs)
            self.confirmed += self.correlated[key] >= PIXEL_MATCH
        return pixel_copy_score(score, self.correlated[key], self.calibration)

    def _inliers(self, a: int, b: int, inverted: bool = False) -> int:
        key = (min(a, b), max(a, b), inverted)
        if key not in self.decided:
            if self.checked >= self.max_pairs:
                return 0
            fa, fb = self._features(a, inverted), self._features(b)
            self.checked += 1
            inliers = count_inliers(fa, fb) if fa is not None and fb is not None else 0
            self.confirmed += inliers >= MIN_INLIERS
            self.decided[key] = inliers
        return self.decided[key]

    def __call__(self, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        ids = np.asarray(ids, dtype=np.int64).ravel()
        scores, found = self.inner(ids, k)
        scores = np.array(scores, dtype=np.float32, copy=True)
        grey = (scores >= self.low) & (scores < self.threshold) & (found >= 0)
        grey &= found != ids[:, None]
        if self.crops is not None and self.pair_score is not None:  # (crops come with it)
            taken = nominate(
                ids, scores, found, self.crops, self.pair_score, self.low, self.threshold
            )
            self.cropped += int(taken.sum())
            grey |= taken
        if self.small:  # a thumbnail and each of its candidates, by pixels
            small = np.fromiter(self.small, np.int64, len(self.small))
            pixels = np.isin(ids, small)[:, None] | np.isin(found, small)
            pixels &= (scores < self.threshold) & (found >= 0) & (found != ids[:, None])
            grey &= ~pixels
            for r, c in zip(*np.nonzero(pixels), strict=True):
                a, b = int(ids[r]), int(found[r, c])
                raised = self._by_pixels(a, b, float(scores[r, c]))
                if raised > scores[r, c]:
                    self.raised[(min(a, b), max(a, b))] = float(scores[r, c])
                    scores[r, c] = max(self.threshold, raised)
        open_ = (scores < self.threshold) & (found >= 0) & (found != ids[:, None])
        if self.small:
            open_ &= ~pixels
        toned, rho = np.zeros(found.shape, np.int8), np.zeros(found.shape, np.float32)
        if self.layouts is not None:
            toned, rho = toned_pairs(self.layouts, ids, found, open_)
        grey |= toned != 0
        # the band under the grey one: pairs that may attach, checked once groups are made
        lower = np.zeros_like(grey)
        if self.attach_low is not None:
            lower = open_ & ~grey & (scores >= self.attach_low) & (scores < self.low)
        for r, c in zip(*np.nonzero(lower), strict=True):
            a, b = sorted((int(ids[r]), int(found[r, c])))
            self.lower[(a, b)] = float(scores[r, c]), float(rho[r, c])
        rows, cols = np.nonzero(grey)
        ordered = sorted(zip(rows.tolist(), cols.tolist(), strict=True), key=lambda rc: -scores[rc])
        self._prefetch([(int(ids[r]), int(found[r, c]), bool(toned[r, c] < 0)) for r, c in ordered])
        for r, c in ordered:
            a, b = int(ids[r]), int(found[r, c])
            # an inverted layout's nominee inverted, then as it is too (the engine's rule)
            tries = (True, False) if toned[r, c] < 0 else (False,)
            inliers = self._matched(a, b, tries, float(rho[r, c]))
            if inliers >= MIN_INLIERS:
                self.raised[(min(a, b), max(a, b))] = float(scores[r, c])
                verified = verified_copy_score(float(scores[r, c]), inliers, self.calibration)
                scores[r, c] = max(self.threshold, verified)
        order = np.argsort(-scores, axis=1, kind="stable")
        return np.take_along_axis(scores, order, 1), np.take_along_axis(found, order, 1)

    def holds(self, a: int, b: int) -> bool:
        """Whether the pair ``a``, ``b`` that its vectors put over the threshold stands (each
        pair decided once; module doc): not when key points found no transform of one image
        onto the other and the two grey-level layouts do not correlate either."""
        key = (min(a, b), max(a, b))
        if key in self.raised or a in self.small or b in self.small or self.layouts is None:
            return True  # confirmed, compared by pixels, or nothing to refute it with
        if key not in self.held:
            self.held[key] = self._stands(a, b)
            self.refuted += not self.held[key]
        return self.held[key]

    def _stands(self, a: int, b: int) -> bool:
        rho = pair_correlation(self.layouts, a, b)  # type: ignore[arg-type]
        if abs(rho) >= LAYOUT_JOINED or self.checked >= self.max_pairs:
            return True  # laid out alike (a squashed or toned copy), or the budget is spent
        mine, theirs = self._features(a), self._features(b)
        if mine is None or theirs is None:
            return True
        if min(mine.count, theirs.count) < REFUTING_POINTS <= max(mine.count, theirs.count):
            return True  # a bare copy (blurred, flat) of a detailed picture: nothing refutes it
        # both detailed, or both bare: different photos blurred alike look alike to the model
        # (a blind hold-out: 6 blurred photos grouped), and only key points hold them
        tries = (False, True) if rho < 0 else (False,)  # inverted too: a negative among edits
        return self._matched(a, b, tries, rho) >= MIN_INLIERS or self.checked >= self.max_pairs

    def _matched(self, a: int, b: int, tries: tuple[bool, ...], rho: float) -> int:
        """Inliers of the pair ``a``, ``b``: ``a``'s key points inverted or not, in the order
        of ``tries``, until one confirms; then, short of :data:`MIN_INLIERS` with layouts that
        correlate (``|rho| >= DENSE_LAYOUT``), the denser key points of either image."""
        inliers = 0
        for inverted in tries:
            if inliers >= MIN_INLIERS:
                break
            inliers = max(inliers, self._inliers(a, b, inverted))
        if inliers < MIN_INLIERS and abs(rho) >= DENSE_LAYOUT:
            inliers = max(inliers, self._denser(a, b))
        return inliers

    def attachable(self, grouped: Container[int]) -> dict[tuple[int, int], float]:
        """The lower band's pairs of one image in ``grouped`` and one not that key points
        confirm (best first, within the budget); no other pair of that band is checked."""
        pairs = sorted(
            ((*s, a, b) for (a, b), s in self.lower.items() if (a in grouped) != (b in grouped)),
            reverse=True,
        )
        self._prefetch([(a, b, False) for _s, _rho, a, b in pairs])
        return {
            (a, b): score
            for score, rho, a, b in pairs
            if self._matched(a, b, (False,), rho) >= MIN_INLIERS  # (denser points: rho)
        }

    def restore(self, result: DedupResult) -> DedupResult:
        """``result`` with each confirmed member's own score, marked ``verified``."""
        return with_own_scores(result, self.raised)

    def stats(self) -> dict[str, int]:
        return {
            "verify_checked": self.checked,
            "verify_confirmed": self.confirmed,
            "verify_images": len(self.features | self.levels | self.thumbnails),
            "verify_dense_images": len(self.dense),
            "verify_refuted": self.refuted,
            **({"verify_crop_pairs": self.cropped} if self.crops is not None else {}),
        }
