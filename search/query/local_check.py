"""Local evidence in the query path: key points (ORB + RANSAC) where the global vector is in
doubt.

The key-point witness (``local=on``, the default): a query's copies below its best one must
match the query's key points, or a better copy's, to keep the copy decision
(:mod:`search.descriptor.witness`); at most :data:`WITNESS_PAIRS` pairs matched per query and
none started after :data:`VERIFY_BUDGET_S` (a copy not asked keeps the decision).

The grey-band check (``local=on``, the default, or ``verify=on``):
A query whose views (and tiles) leave no sure copy gets its few best candidates in the grey
band of the calibrated copy score (``duplicate_z >= VERIFY_Z``, below what a confirmed copy
scores anyway) checked with ORB key points + RANSAC (:mod:`search.descriptor.verify`): the
query decoded once at up to 1024 px, each candidate's file read by its database row (only
when its bytes are still those indexed: its size, then sha256; a missing or changed file, a
video or a file over :data:`LOCAL_MAX_BYTES` is simply not checked), at most
:data:`VERIFY_CHECKED` of them, and none started after :data:`VERIFY_BUDGET_S`. A confirmed
candidate's copy score becomes :func:`search.descriptor.verified_copy_score` - the rule
``dedup --verify`` and the offline evaluation use, so a pair scores the same however it is
asked. A query with a sure copy never gets here (:class:`search.descriptor.QueryScorer`): no
OpenCV import, no file read.

A query too small for key points (its longer side at most ``PIXEL_SIDE``, no region of
interest) has its best candidates compared by their pixels first, whatever their z
(:mod:`search.descriptor.pixel_match`; without OpenCV too): each candidate's grey thumbnail
read by its database row as above and kept in the same cache, a match raised into the
confirmed band and explained by its correlation.

All of them decode the query once, at up to 1024 px, when first asked.

Candidates' features are kept per image id and file state (size, mtime) in a bounded LRU
cache (:data:`FEATURE_CACHE` images, ~40 kB each). Without OpenCV the check is skipped and a
warning says how to install it, once per engine; a search never fails for it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import numpy as np
from PIL import Image

from models import ImgsearchError, is_video_file, load_image
from models.roi import coerce_roi
from search.descriptor import (
    KEY_POINT_DRAFT,
    PIXEL_SIDE,
    THUMB_SIDE,
    VERIFY_BUDGET_S,
    VERIFY_CHECKED,
    Descriptor,
    LocalCheck,
    LocalFeatures,
    LocalWitness,
    QueryPixels,
    VerifyUnavailableError,
    count_inliers,
    grey_band,
    grey_levels,
    key_points_match,
    local_features,
    pixel_candidates,
    pixel_copy_score,
    pixel_correlation,
    thumbnail,
    verified_copy_score,
)
from search.query.errors import PathEscapeError
from search.query.records import LibraryRecords, disk_change, unchanged_bytes
from search.query.results import ImageQuery, RoiLike, SearchHit

log = logging.getLogger(__name__)

FEATURE_CACHE = 1024  # candidates' features and thumbnails kept (~40-64 kB each)
LOCAL_MAX_BYTES = 64 << 20  # a candidate file larger than this is not read for a query
WITNESS_PAIRS = 12  # key-point witness: pairs matched per query at most
T = TypeVar("T")


@dataclass
class LocalStats:
    """Running totals of one engine's local checks (the bench reads their differences)."""

    queries: int = 0  # queries that had grey-band candidates
    checked: int = 0  # candidate pairs matched
    files_read: int = 0  # candidate files read (cache misses)
    confirmed: int = 0  # pairs raised
    pixel_pairs: int = 0  # small queries: candidates compared by pixels
    seconds: float = 0.0
    witness_pairs: int = 0  # key-point witness: pairs matched
    refuted: int = 0  # key-point witness: copies that lost the decision


@dataclass
class QueryLocal:
    """One query's local evidence for :meth:`search.descriptor.QueryScorer.search`: the
    grey-band check and the key-point witness (None where the descriptor has it off), and
    after the search what confirmed each raised candidate, by image id: its key points
    (``confirmed``: inliers) or its pixels (``by_pixels``: correlation)."""

    check: LocalCheck | None
    witness: LocalWitness | None
    confirmed: dict[int, int] = field(default_factory=dict)
    by_pixels: dict[int, float] = field(default_factory=dict)

    def explain(self, hits: list[SearchHit]) -> list[SearchHit]:
        """``hits`` with ``key_points`` / ``pixel_match`` set on the images the check
        confirmed."""
        return [
            replace(
                hit,
                key_points=self.confirmed.get(hit.id),
                pixel_match=self.by_pixels.get(hit.id),
            )
            if hit.media == "image" and (hit.id in self.confirmed or hit.id in self.by_pixels)
            else hit
            for hit in hits
        ]


@dataclass
class QueryEvidence:
    """A query's own local evidence, read once: its key points (None: none, or no OpenCV)
    and, for a small query, its grey levels."""

    features: LocalFeatures | None
    pixels: QueryPixels | None


def _key_points(data: bytes, max_pixels: int | None) -> LocalFeatures:
    """A library image's key points (matched second only: not mirrored)."""
    image = load_image(data, draft_size=KEY_POINT_DRAFT, max_pixels=max_pixels).image
    return local_features(image, mirrored=False)


def _thumbnail(data: bytes, max_pixels: int | None) -> Image.Image:
    """A library image's grey thumbnail for small queries' pixels."""
    return thumbnail(
        load_image(data, draft_size=(THUMB_SIDE, THUMB_SIDE), max_pixels=max_pixels).image
    )


class LocalVerifier:
    """The engine's local check: builds each query's callback, caches candidates' features."""

    def __init__(self, records: LibraryRecords, max_pixels: int | None = None) -> None:
        self.records = records
        self.max_pixels = max_pixels
        self.stats = LocalStats()
        self._cache: OrderedDict[tuple[str, int, int, int], Any] = OrderedDict()
        self._lock = threading.Lock()
        self._warned = False

    def for_query(
        self,
        descriptor: Descriptor,
        source: ImageQuery,
        roi: RoiLike,
        size: tuple[int, int] | None = None,
    ) -> QueryLocal:
        """The local evidence of one query (``source`` and its region ``roi``; ``size``: its
        width and height, when known: a small one is compared by pixels too), read once when
        first asked."""
        region = coerce_roi(roi)
        small = region is None and size is not None and max(size) <= PIXEL_SIDE
        found: list[QueryEvidence] = []

        def evidence() -> QueryEvidence:
            if not found:
                found.append(self._query_evidence(source, region, small))
            return found[0]

        local = QueryLocal(None, None)
        if descriptor.config.checks_grey_band:
            local.check = self._check(descriptor, evidence, small, local)
        if descriptor.config.local:
            local.witness = self._witness(lambda: evidence().features)
        return local

    def _query_evidence(self, source: ImageQuery, region: object, small: bool) -> QueryEvidence:
        try:
            image = load_image(
                source, draft_size=KEY_POINT_DRAFT, max_pixels=self.max_pixels, roi=region
            ).image
        except (ImgsearchError, OSError) as error:
            log.info("local evidence: cannot read the query: %s", error)
            return QueryEvidence(None, None)
        pixels = grey_levels(image) if small else None
        try:
            return QueryEvidence(local_features(image), pixels)
        except VerifyUnavailableError as error:
            self._warn(error)
        except (ImgsearchError, OSError) as error:
            log.info("local evidence: no key points for the query: %s", error)
        return QueryEvidence(None, pixels)

    def _check(
        self,
        descriptor: Descriptor,
        evidence: Callable[[], QueryEvidence],
        small: bool,
        local: QueryLocal,
    ) -> LocalCheck:
        """The grey-band check: ``(ids, copy) -> copy`` with the confirmed candidates raised
        (asked by the scorer when the query stays unsettled): a small query's by pixels,
        then the grey band's by key points; what confirmed them goes to ``local``."""
        calibration = descriptor.calibration

        def check(ids: Sequence[int], copy: np.ndarray) -> np.ndarray:
            out = np.array(copy, np.float32, copy=True)
            by_pixels = pixel_candidates(out, calibration) if small else []
            if not by_pixels and not grey_band(out, calibration, VERIFY_CHECKED):
                return out
            started = time.perf_counter()
            query = evidence()
            read = raised_pairs = compared = checked = 0
            if query.pixels is not None:
                for n in by_pixels:
                    if time.perf_counter() - started > VERIFY_BUDGET_S:
                        break
                    thumb, fresh = self._read(int(ids[n]), _thumbnail)
                    read += fresh
                    if thumb is None:
                        continue
                    compared += 1
                    correlation = pixel_correlation(query.pixels, thumb)
                    raised = pixel_copy_score(float(out[n]), correlation, calibration)
                    if raised > out[n]:
                        local.by_pixels[int(ids[n])] = round(correlation, 3)
                        raised_pairs += 1
                    out[n] = raised
            for n in grey_band(out, calibration, VERIFY_CHECKED) if query.features else ():
                if time.perf_counter() - started > VERIFY_BUDGET_S:
                    break
                found, fresh = self.features(int(ids[n]))
                read += fresh
                if found is None:
                    continue
                checked += 1
                inliers = count_inliers(query.features, found)
                raised = verified_copy_score(float(out[n]), inliers, calibration)
                if raised > out[n]:
                    local.confirmed[int(ids[n])] = inliers
                    raised_pairs += 1
                out[n] = raised
            with self._lock:
                s = self.stats
                s.queries, s.checked, s.files_read = (
                    s.queries + 1,
                    s.checked + checked,
                    s.files_read + read,
                )
                s.pixel_pairs += compared
                s.confirmed += raised_pairs
                s.seconds += time.perf_counter() - started
            return out

        return check

    def _witness(self, query_features: Callable[[], LocalFeatures | None]) -> LocalWitness:
        """The key-point witness: ``(image id, other copies' ids) -> bool | None`` (module
        doc); False only when every pair was matched and none holds a copy's geometry."""
        spent = [0, 0.0]  # pairs matched, when the first was started

        def spent_all() -> bool:  # checked before any file is read or pair matched
            return spent[0] >= WITNESS_PAIRS or time.perf_counter() - spent[1] > VERIFY_BUDGET_S

        def witness(image_id: int, better: Sequence[int]) -> bool | None:
            started = time.perf_counter()
            spent[1] = spent[1] or started
            if spent_all():
                return None
            query = query_features()
            mine = self.features(image_id)[0] if query is not None else None
            if mine is None:
                return None
            answer: bool | None = False
            pairs = 0
            for other in [query, *better]:  # the query's own mirrored features are matched
                if spent_all():
                    answer = None
                    break
                theirs = other if isinstance(other, LocalFeatures) else self.features(other)[0]
                if theirs is None:
                    answer = None
                    continue
                spent[0], pairs = spent[0] + 1, pairs + 1
                if key_points_match(theirs, mine):
                    answer = True
                    break
            with self._lock:
                self.stats.witness_pairs += pairs
                self.stats.refuted += answer is False
                self.stats.seconds += time.perf_counter() - started
            return answer

        return witness

    def features(self, image_id: int) -> tuple[LocalFeatures | None, bool]:
        """Local features of library image ``image_id`` (None: its file is gone, changed or
        unreadable) and whether its file was read for them (not cached)."""
        return self._read(image_id, _key_points)

    def _read(self, image_id: int, make: Callable[[bytes, int | None], T]) -> tuple[T | None, bool]:
        """``make(bytes, max_pixels)`` of library image ``image_id``'s file (None: the file is
        gone, changed or unreadable), cached per image, file state and ``make``, and whether
        the file was read for it (not cached)."""
        try:
            file = self.records.image_file(image_id)  # one column query
            # another size: changed for sure; only another mtime (a restore, `touch`): its
            # bytes are checked against the indexed sha256 below
            if file is None or disk_change(file.path, file.size) is not None:
                return None, False
            if is_video_file(file.path) or (file.size or 0) > LOCAL_MAX_BYTES:
                return None, False  # never read whole for a query (memory, time)
            st = file.path.stat()
        except (PathEscapeError, OSError):
            return None, False
        key = (make.__name__, image_id, st.st_size, st.st_mtime_ns)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key], False
        data = unchanged_bytes(file)  # regular file, size-limited, sha256 as indexed
        found = None
        if data is not None:
            try:
                found = make(data, self.max_pixels)
            except (ImgsearchError, OSError) as error:
                log.info("local evidence: nothing read of image %s: %s", image_id, error)
        with self._lock:
            self._cache[key] = found
            while len(self._cache) > FEATURE_CACHE:
                self._cache.popitem(last=False)
        return found, True

    def _warn(self, error: VerifyUnavailableError) -> None:
        if not self._warned:
            self._warned = True
            log.warning("key points: %s; searching without them (verify, local)", error)
