"""Local evidence in the query path: key points (ORB + RANSAC) where the global vector is in
doubt.

The key-point witness (``local=on``, the default): a query's copies below its best one must
match the query's key points, or a better copy's, to keep the copy decision
(:mod:`search.descriptor.witness`, matched by :mod:`search.query.key_point_witness`).

The grey-band check (``local=on``, the default, or ``verify=on``):
A query whose views (and tiles) leave no sure copy gets its few best candidates in the grey
band of the calibrated copy score (``duplicate_z >= GREY_BAND_Z``, below what a confirmed copy
scores anyway) checked with ORB key points + RANSAC (:mod:`search.descriptor.verify`): the
query decoded once at up to 1024 px, each candidate's file read by its database row (only
when its bytes are still those indexed: its size, then sha256; a missing or changed file, a
video or a file over 64 MB is simply not checked: :mod:`search.query.candidate_files`), at most
:data:`VERIFY_CHECKED` of them, and none started after :data:`VERIFY_BUDGET_S`. A confirmed
candidate's copy score becomes :func:`search.descriptor.verified_copy_score` - the rule
``dedup --verify`` and the offline evaluation use, so a pair scores the same however it is
asked. A query with a firm copy (sure; in a whitened library also ``duplicate_z >=
WITNESS_Z``, past the look-alikes) never gets here (:class:`search.descriptor.QueryScorer`):
no OpenCV import, no file read - unless it is a reverse lookup's (``thorough``), which checks
its best :data:`LOOKUP_CHECKED` however settled.

A query too small for key points (its longer side at most ``PIXEL_SIDE``, no region of
interest), or a pixelated one (as small as its grid of blocks: :mod:`models.mosaic`), has
its best candidates compared by their pixels first, whatever their z
(:mod:`search.descriptor.pixel_match`; without OpenCV too): each candidate's grey thumbnail
read by its database row as above and kept in the same cache, a match raised into the
confirmed band and explained by its correlation.

Candidates whose tones changed but not their places (a sepia or duotone print, inverted too)
can score anywhere below the grey band: the query's grey-level layout (computed with its
views) nominates the candidates whose stored layouts are in rank order with it
(:mod:`search.descriptor.layout_match`; one read of their 256-byte layouts), and the best
:data:`search.descriptor.LAYOUT_NOMINATED` are checked by key points like the grey band's, an
inverted one with the query's grey levels inverted (and as it is when that confirms nothing:
a duotone's tones can turn over while its edges keep their corners).

With ``crops=on`` the two images whose stored crops (:mod:`models.crops`) match the query's
upright view best join the candidates and are checked the same way
(:mod:`search.query.library_crops`): crops of a photo its whole vector ranks low.

Where another ranking of the candidates puts a different one first than the descriptor -
the plain embedding's cosine (one read of their raw vectors), the layout's rank correlation -
that candidate is checked too (:mod:`search.descriptor.second_opinion`: occluded, scribbled,
posterised copies).

The best matches of a query's tiles (:mod:`search.descriptor.regional`: a collage's cells,
its quarters) are checked by the key points of the tile that matched each.

All of them decode the query once, at up to 1024 px, when first asked; the candidates'
files are read two side by side (:class:`search.query.candidate_files.ReadAhead`), their
features and thumbnails kept per image id and file state in a bounded LRU cache. Without
OpenCV the key points are skipped (a warning, once per engine); a search never fails for it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import ChainMap
from collections.abc import Callable, Sequence
from contextlib import closing
from typing import Any

import numpy as np
from PIL import Image

from models.roi import coerce_roi
from models.views import ViewSet
from search.descriptor import (
    DENSE_LAYOUT,
    LOOKUP_CHECKED,
    MIN_INLIERS,
    TONED_LAYOUT,
    VERIFY_BUDGET_S,
    VERIFY_CHECKED,
    Descriptor,
    LocalCheck,
    LocalFeatures,
    VerifyUnavailableError,
    count_inliers_closer,
    grey_band,
    is_small,
    nominees_to_check,
    pixel_candidates,
    pixel_copy_score,
    pixel_correlation,
    read_thumbnail,
    verified_copy_score,
    verified_floor,
)
from search.query.candidate_files import (
    CandidateFiles,
    ReadAhead,
    dense_key_points,
    key_points,
    paired_key_points,
)
from search.query.check_nominees import check_nominees
from search.query.key_point_witness import KeyPointWitness, query_parts, same_places
from search.query.library_crops import LibraryNominees
from search.query.local_evidence import LocalStats, QueryEvidence, QueryLocal, read_query_evidence
from search.query.results import ImageQuery, RoiLike
from search.store import ModelStamp, StoredImage

log = logging.getLogger(__name__)


class LocalVerifier:
    """The engine's local check: builds each query's callbacks; candidates' evidence is read
    and cached by :class:`search.query.candidate_files.CandidateFiles`."""

    def __init__(self, files: CandidateFiles) -> None:
        self.files = files  # the candidates' files: their rows, the decode limit, key points
        self.library = LibraryNominees(files.records)  # a query's nominees among them all
        self.stats = LocalStats()
        self._lock = threading.Lock()  # the stats
        self._warned = False
        self.read_ahead = ReadAhead()  # candidates' files, read while others are matched

    def close(self) -> None:
        """Reads ahead not started are dropped; a read of the crops in progress ends first."""
        self.read_ahead.close()
        self.library.close()

    def for_query(
        self,
        descriptor: Descriptor,
        source: ImageQuery,
        roi: RoiLike,
        views: ViewSet | None = None,
        generation: int | None = None,
        model: ModelStamp | None = None,
        thorough: bool = False,
        within: Sequence[int] = (),
    ) -> QueryLocal:
        """The local evidence of one query (``source`` and its region ``roi``; ``views``: its
        embedded views, when known: a small one is compared by pixels too, and their
        grey-level layout nominates candidates for the key points - among the library's
        images at ``generation`` too: :mod:`search.query.library_layouts`), read once when
        first asked; ``thorough``: a reverse lookup's, its grey band checked however settled and
        its best :data:`LOOKUP_CHECKED` of it; ``within``: the library images the region
        ``roi`` was cut from (the query's file), nominated for the key points."""
        region = coerce_roi(roi)
        size = (views.analysis.width, views.analysis.height) if views is not None else None
        grid = views.mosaic if views is not None else None
        small = (region is None and size is not None and is_small(*size)) or grid is not None

        found: list[QueryEvidence] = []

        def evidence() -> QueryEvidence:
            if not found:
                found.append(
                    read_query_evidence(
                        source, region, small, grid, self.files.max_pixels, self._warn
                    )
                )
            return found[0]

        local = QueryLocal(None, None, thorough=thorough, within=list(within))
        if descriptor.config.checks_grey_band:
            local.check = self._check(descriptor, evidence, small, local, views)
            if views is not None and generation is not None:
                state = (generation, model)
                local.nominated = self.library.for_query(descriptor, views, state, local)
        if descriptor.config.local:
            local.witness = KeyPointWitness(
                lambda i, row: self.features(i, row)[0],
                lambda: evidence().features,
                local.rows,
                self.stats,
                self._lock,
                ChainMap(local.parts, local.confirmed),  # a copy the query's key points (or
                # a part's) confirmed in the grey-band check holds them: no pair is matched again
                self.read_ahead,
                None if views is None else query_parts(evidence, views),
                lambda i, row: self.files.read(i, paired_key_points, row)[0],
                None if views is None else same_places(self.files.records, views),
                local.counted,
            )
        return local

    def _check(
        self,
        descriptor: Descriptor,
        evidence: Callable[[], QueryEvidence],
        small: bool,
        local: QueryLocal,
        views: ViewSet | None = None,
    ) -> LocalCheck:
        """The grey-band check: ``(ids, copy, tile nominees) -> copy`` with the confirmed
        candidates raised (asked by the scorer when the query stays unsettled): a small
        query's by pixels, then the grey band's, those the layout of its ``views`` nominates
        (its layout made then: :mod:`search.descriptor.layout_match`,
        :mod:`search.descriptor.window_match`) and those its tiles nominate
        (:mod:`search.descriptor.regional`) by key points; what confirmed them goes to
        ``local``."""
        calibration = descriptor.calibration
        limit = LOOKUP_CHECKED if local.thorough else VERIFY_CHECKED

        def check(
            ids: Sequence[int],
            copy: np.ndarray,
            tiles: Sequence[tuple[int, int]] = (),
            tiles_only: bool = False,  # a settled collage: its other pictures' cells alone
            chained: Sequence[int] = (),  # ... or the grey band's among these positions alone
        ) -> np.ndarray:
            out = np.array(copy, np.float32, copy=True)
            only = tiles_only or bool(len(chained))
            by_pixels = pixel_candidates(out, calibration) if small and not only else []
            by_layout, by_window, by_second, rho = (
                ([], [], [], {})
                if only
                else check_nominees(self.files.records, views, ids, out, calibration)
            )
            at = {int(i): n for n, i in enumerate(ids)}
            by_tile = [(at[int(i)], 1.0) for i, _ in tiles if int(i) in at]
            by_crop = (
                [] if only else [(at[i], 1.0) for i in local.cropped + local.within if i in at]
            )
            nominees = by_layout + by_window + by_tile + by_second + by_crop
            unmet = {int(n) for n in chained if int(ids[n]) not in local.checked}

            def in_band() -> list[int]:  # among ``chained`` (not met by the check yet) if given
                if not len(chained):
                    return grey_band(out, calibration, limit)
                band = grey_band(out, calibration, len(out))
                return [n for n in band if n in unmet][:limit]

            if not by_pixels and not nominees and not in_band():
                return out
            started = time.perf_counter()
            query = evidence()
            done = {"read": 0, "pixels": 0, "key points": 0, "layout": 0, "raised": 0}

            def confirm(
                positions: Sequence[int],
                kind: str,
                read: Callable[[bytes, int | None], Any],
                scored: Callable[[int, float, Any], tuple[Any, float]],
                explained: dict[int, Any],
            ) -> None:
                """Raise ``out`` at the ``positions`` that ``scored(position, own score, what
                ``read`` made of the candidate's file)`` confirms; the evidence goes to
                ``explained``."""
                image_ids = [int(ids[n]) for n in positions]
                with closing(self.files.read_in_order(image_ids, read, self.read_ahead)) as reads:
                    for n in positions:
                        if time.perf_counter() - started > VERIFY_BUDGET_S:
                            break
                        theirs, fresh = next(reads)
                        done["read"] += fresh
                        if theirs is None:
                            continue
                        done[kind] += 1
                        evidence_of, raised = scored(n, float(out[n]), theirs)
                        if raised > out[n]:
                            explained[int(ids[n])] = evidence_of
                            done["raised"] += 1
                        out[n] = raised

            if query.pixels is not None:
                mine = query.pixels

                def by_correlation(_: int, own: float, thumb: Image.Image) -> tuple[float, float]:
                    found = pixel_correlation(mine, thumb)
                    return round(found, 3), pixel_copy_score(own, found, calibration)

                confirm(by_pixels, "pixels", read_thumbnail, by_correlation, local.by_pixels)
            if query.features is not None:

                def inliers_of(
                    features: LocalFeatures,
                    closer: Callable[[], LocalFeatures | None] = lambda: None,
                    denser: Callable[[], LocalFeatures | None] = lambda: None,
                ) -> Callable[..., tuple[int, float]]:
                    def by_inliers(n: int, own: float, theirs: LocalFeatures) -> tuple[int, float]:
                        # the denser key points for a candidate laid out as the query only
                        laid_out = abs(rho.get(n, 0.0))
                        dense = denser if laid_out >= DENSE_LAYOUT else lambda: None
                        inliers = count_inliers_closer(features, theirs, closer, dense)
                        if inliers < MIN_INLIERS and laid_out >= TONED_LAYOUT:
                            toned = self._toned(int(ids[n]), features, denser)
                            inliers = max(inliers, toned)
                        return inliers, verified_copy_score(own, inliers, calibration)

                    return by_inliers

                chosen = [] if tiles_only else in_band()
                check_with = inliers_of(query.features, query.at_crop_scale, query.denser)
                confirm(chosen, "key points", key_points, check_with, local.confirmed)
                local.checked.update(int(ids[n]) for n in chosen)
                floor = verified_floor(calibration)
                # a tile's nominee by the key points of that tile (a collage's photo is too
                # small among the whole query's key points); the whole query's follow below
                parts = views.pieces if views is not None else ()
                for image_id, part in tiles:
                    n = at.get(int(image_id))
                    if n is None or part >= len(parts) or out[n] >= floor:
                        continue
                    features = query.of_part(parts[part])
                    if features is not None:
                        by_part = inliers_of(features)
                        confirm([n], "key points", key_points, by_part, local.confirmed)
                        if out[n] >= floor:
                            local.parts[int(image_id)] = part
                left = [] if only else [(n, rho) for n, rho in nominees if out[n] < floor]
                upright, inverted = nominees_to_check(left, chosen)
                layouts = {n for n, _ in by_layout}  # their checks first, window's and tiles' last
                crops = [n for n in upright if n not in layouts]
                upright = [n for n in upright if n in layouts]
                confirm(upright, "layout", key_points, check_with, local.confirmed)
                features = query.inverted() if inverted else None
                if features is not None:
                    inverse = inliers_of(features)
                    confirm(inverted, "layout", key_points, inverse, local.confirmed)
                # a duotone's tones may turn over while its edges keep their corners: an
                # inverted layout's nominee left unconfirmed is matched as it is too
                unconfirmed = [n for n in inverted if out[n] < floor]
                confirm(unconfirmed, "layout", key_points, check_with, local.confirmed)
                confirm(crops, "layout", key_points, check_with, local.confirmed)
            with self._lock:
                s = self.stats
                s.queries, s.checked, s.files_read = (
                    s.queries + (not len(chained)),  # (a second call for the same query)
                    s.checked + done["key points"],
                    s.files_read + done["read"],
                )
                s.pixel_pairs += done["pixels"]
                s.layout_pairs += done["layout"]
                s.confirmed += done["raised"]
                s.seconds += time.perf_counter() - started
            return out

        return check

    def _toned(
        self,
        image_id: int,
        features: LocalFeatures,
        denser: Callable[[], LocalFeatures | None],
    ) -> int:
        """Inliers of the query's ``features`` (and of its ``denser()`` ones) with library
        image ``image_id``'s denser key points (its file read again; kept in memory): a
        candidate laid out as the query at ``TONED_LAYOUT``, whose 500 key points the
        query's did not match. (A darkened copy's 500 / 1,500 key points had 0 / 0 inliers with
        its original's 500 and 96 / 146 with its 1,500; a darker one's 0 / 145.)"""
        theirs, _fresh = self.files.read(image_id, dense_key_points)
        # (as the first pass, less its crop-scale retry)
        return 0 if theirs is None else count_inliers_closer(features, theirs, lambda: None, denser)

    def features(
        self, image_id: int, known: StoredImage | None = None
    ) -> tuple[LocalFeatures | None, bool]:
        """Local features of library image ``image_id`` (None: its file is gone, changed or
        unreadable; ``known``: its row, already read) and whether its file was read for them
        (not cached)."""
        return self.files.read(image_id, key_points, known)

    def _warn(self, error: VerifyUnavailableError) -> None:
        if not self._warned:
            self._warned = True
            log.warning("key points: %s; searching without them (verify, local)", error)
