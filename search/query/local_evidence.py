"""What one query's local check holds and what it found (:mod:`search.query.local_check`):
the query's own evidence read once, the callbacks the scorer asks, and running totals."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from PIL import Image

from models import ImgsearchError, load_image
from search.descriptor import (
    KEY_POINT_DRAFT,
    MIN_INLIERS,
    LocalCheck,
    LocalFeatures,
    LocalWitness,
    Nominated,
    QueryPixels,
    ScoredHit,
    VerifyUnavailableError,
    crop_scale_features,
    grey_levels,
    grid_levels,
    local_features,
)
from search.query.results import ImageQuery, SearchHit
from search.query.scored_hits import with_parts
from search.store import StoredImage

log = logging.getLogger(__name__)


@dataclass
class LocalStats:
    """Running totals of one engine's local checks (the bench reads their differences)."""

    queries: int = 0  # queries that had grey-band candidates
    checked: int = 0  # candidate pairs matched
    files_read: int = 0  # candidate files read (cache misses)
    confirmed: int = 0  # pairs raised
    pixel_pairs: int = 0  # small queries: candidates compared by pixels
    layout_pairs: int = 0  # candidates nominated by their layout, matched by key points
    seconds: float = 0.0
    witness_pairs: int = 0  # key-point witness: pairs matched
    refuted: int = 0  # key-point witness: copies that lost the decision
    tied_pairs: int = 0  # copies tied on their scores, their key points counted


@dataclass
class QueryLocal:
    """One query's local evidence for :meth:`search.descriptor.QueryScorer.search`: the
    grey-band check, the key-point witness and the library images its layout nominates
    (``nominated``: ids to join the candidates; None where the descriptor has them off), and
    after the search what confirmed each raised candidate, by image id: its key points
    (``confirmed``: inliers) or its pixels (``by_pixels``: correlation)."""

    check: LocalCheck | None
    witness: LocalWitness | None
    nominated: Nominated | None = None
    rows: dict[int, StoredImage] = field(default_factory=dict)  # read by the search already
    confirmed: dict[int, int] = field(default_factory=dict)
    counted: dict[int, int] = field(default_factory=dict)  # copies tied on their scores
    # ordered by their key points (the witness's inliers(): id -> matches with the query)
    by_pixels: dict[int, float] = field(default_factory=dict)
    parts: dict[int, int] = field(default_factory=dict)  # id -> the query's tile confirmed
    cropped: list[int] = field(default_factory=list)  # ids its crops nominated (crops=on)
    within: list[int] = field(default_factory=list)  # a region's: the photos it was cut from
    checked: set[int] = field(default_factory=set)  # ids the whole query's key points met
    thorough: bool = False  # a reverse lookup's: checked however settled (LOOKUP_CHECKED)

    def callbacks(self) -> dict[str, Any]:
        """``local``, ``witness``, ``nominated`` and ``thorough``, as
        :meth:`QueryScorer.search` takes them."""
        return {
            "local": self.check,
            "witness": self.witness,
            "nominated": self.nominated,
            "thorough": self.thorough,
        }

    def explain(
        self,
        hits: list[SearchHit],
        scored: Sequence[tuple[ScoredHit, object]] = (),
        boxes: Sequence[tuple[float, float, float, float]] = (),
    ) -> list[SearchHit]:
        """``hits`` with ``key_points`` / ``pixel_match`` set on the images the check
        confirmed, and ``part`` where a part of the query (``boxes``, the tiles of the
        regional evidence) raised them (``scored``: the scorer's hits) or confirmed them."""
        matched = {i: n for i, n in self.counted.items() if n >= MIN_INLIERS} | self.confirmed
        explained = [
            replace(
                hit,
                key_points=matched.get(hit.id),
                pixel_match=self.by_pixels.get(hit.id),
            )
            if hit.media == "image" and (hit.id in matched or hit.id in self.by_pixels)
            else hit
            for hit in hits
        ]
        part_of = {hit.id: hit.part for hit, _ in scored if hit.part is not None} | self.parts
        return with_parts(explained, part_of, boxes)


@dataclass
class QueryEvidence:
    """A query's own local evidence, read once: its key points (None: none, or no OpenCV)
    and, for a small query, its grey levels; the key points of its inverted grey levels are
    made on first use (:meth:`inverted`)."""

    features: LocalFeatures | None
    pixels: QueryPixels | None
    image: Image.Image | None = field(default=None, repr=False)
    _inverted: list[LocalFeatures | None] = field(default_factory=list, init=False, repr=False)
    _closer: list[LocalFeatures | None] = field(default_factory=list, init=False, repr=False)
    _dense: list[LocalFeatures | None] = field(default_factory=list, init=False, repr=False)
    _parts: dict[tuple[float, ...], list[LocalFeatures | None]] = field(
        default_factory=dict, init=False, repr=False
    )

    def at_crop_scale(self) -> LocalFeatures | None:
        """Key points of the query at a crop's scale
        (:func:`search.descriptor.crop_scale_features`), made on first use, or None."""
        closer = partial(crop_scale_features, lazy=True)
        return self._once(self._closer, closer, "at a crop's scale")

    def denser(self) -> LocalFeatures | None:
        """More key points of the query (:func:`search.descriptor.dense_features`, the
        ``dense`` of its lazy key points: made on first use from the grey levels those were
        made of), or None."""

        def made(_: Image.Image) -> LocalFeatures | None:
            return self.features.dense if self.features is not None else None

        return self._once(self._dense, made, "denser")

    def of_part(self, box: tuple[float, float, float, float]) -> LocalFeatures | None:
        """Key points of a part of the query (``box``: left, top, right, bottom as fractions
        of it; one tile of a collage), made on first use of each part, or None."""
        left, top, right, bottom = box

        def part(image: Image.Image) -> LocalFeatures:
            w, h = image.size
            crop = (round(left * w), round(top * h), round(right * w), round(bottom * h))
            return local_features(image.crop(crop), frames=False, lazy=True)

        return self._once(self._parts.setdefault(box, []), part, "for a part of the query")

    def inverted(self) -> LocalFeatures | None:
        """Key points of the query with its grey levels inverted (an inverted duotone's
        original is matched with these), or None."""
        inverted = partial(local_features, inverted=True, lazy=True)
        return self._once(self._inverted, inverted, "for the inverted query")

    def _once(
        self,
        made: list[LocalFeatures | None],
        make: Callable[[Image.Image], LocalFeatures | None],
        what: str,
    ) -> LocalFeatures | None:
        """``make(image)`` on first use, kept in ``made``; None without key points."""
        if not made:
            found = None
            if self.image is not None and self.features is not None:
                try:
                    found = make(self.image)
                except (ImgsearchError, OSError) as error:
                    log.info("local evidence: no key points %s: %s", what, error)
            made.append(found)
        return made[0]


def read_query_evidence(
    source: ImageQuery,
    region: object,
    small: bool,
    grid: tuple[int, int] | None,
    max_pixels: int | None,
    unavailable: Callable[[VerifyUnavailableError], None],
) -> QueryEvidence:
    """The query's own evidence: decoded once at up to 1024 px (its region ``region``), its
    key points (made lazily) and, when ``small`` or pixelated (``grid``), its grey levels;
    ``unavailable`` is told when OpenCV is missing."""
    try:
        image = load_image(
            source, draft_size=KEY_POINT_DRAFT, max_pixels=max_pixels, roi=region
        ).image
    except (ImgsearchError, OSError) as error:
        log.info("local evidence: cannot read the query: %s", error)
        return QueryEvidence(None, None)
    # a pixelated picture is as small as its grid of blocks (its region's, with one)
    pixels = grid_levels(image, grid) if grid else grey_levels(image) if small else None
    try:
        # mirrored and smoothed key points made when a match asks (one query's)
        return QueryEvidence(local_features(image, lazy=True), pixels, image)
    except VerifyUnavailableError as error:
        unavailable(error)
    except (ImgsearchError, OSError) as error:
        log.info("local evidence: no key points for the query: %s", error)
    return QueryEvidence(None, pixels)
