"""The query engine: search by image, region, id or label; what the web and the CLI call.

A :class:`SearchEngine` wraps a :class:`search.library.library.Library`. Browsing, ``similar`` and
label searches need no model; the ONNX model is loaded on the first image query. Every hit is
re-scored with the exact vector from SQLite (the truth), so approximate indexes only choose
candidates and a hit removed from the store since the last refresh never shows up.

Thread-safe: the library swaps its FAISS index atomically and a query keeps the reference it
started with; the lazily built analyzer is guarded by a lock.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np

from models import ImageAnalyzer, ImageError, ImgsearchError, RoiError, is_video_file
from models.roi import coerce_roi
from models.views import ViewSet
from search.descriptor import (
    CANDIDATES_PER_VIEW,
    DescriptorConfig,
    MoreViews,
    QueryRegions,
    QueryScorer,
    ScoredHit,
)
from search.explore import Explorer
from search.library import KeyPointCache, Library, Searchable, to_stored
from search.query.admin import LibraryAdmin
from search.query.browse import label_hits, newest_hits
from search.query.candidate_files import CandidateFiles
from search.query.errors import ImageNotFoundError, PathEscapeError, QueryError
from search.query.guard import ServingGuard
from search.query.local_check import LocalVerifier
from search.query.local_evidence import QueryLocal
from search.query.pixels import PixelDigests, SamePixels
from search.query.quality import QualityFilter, ShownHits
from search.query.query_views import QueryViews
from search.query.records import ImageFile, LibraryRecords, unchanged_bytes
from search.query.results import (
    ImageQuery,
    ImageQueryResult,
    RoiLike,
    SearchHit,
    check_params,
    hit_from_row,
    is_image_id,
    no_copies_reason,
    query_sha256,
    read_query_bytes,
    with_source,
)
from search.query.scored_hits import hits_from_scores
from search.query.stored_turns import turns_for
from search.query.video import VideoSearch, is_video_query
from search.settings import Settings
from search.store import ImageInfo, ModelStamp, ReindexingError, StoredImage

log = logging.getLogger(__name__)

CANDIDATE_MARGIN = 10  # extra candidates: self-exclusion, rows removed meanwhile, ties at k


class SearchEngine:
    """Queries over one library. Open with :meth:`open`; close with :meth:`close`."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self.store = library.store
        self.settings: Settings = library.settings
        self.guard = ServingGuard(library)
        self.records = LibraryRecords(library.store)
        self.admin = LibraryAdmin(library)
        kept = None if library.store.read_only else self.settings.library  # None: in memory
        self.explore = Explorer(library.store, kept, check=self.guard.check_serving)
        self.videos = VideoSearch(self.store, self.guard, self.records)
        on_disk = KeyPointCache(self.settings.key_point_dir, writable=not library.store.read_only)
        files = CandidateFiles(self.records, self.settings.max_image_pixels, on_disk)
        self.local = LocalVerifier(files)  # key points, pixels, layouts of candidates
        self.pixel_digests = PixelDigests()  # library files' pixels, for `exact`

    @classmethod
    def open(cls, settings: Settings) -> SearchEngine:
        """Open the library of ``settings``; raises ``LibraryNotFoundError`` when none exists."""
        return cls(Library.open(settings))

    def close(self) -> None:
        self.local.close()
        self.library.close()

    def refresh(self) -> bool:
        """Reload the FAISS cache if the store's generation moved; True when it did."""
        return bool(self.library.refresh())

    def __enter__(self) -> SearchEngine:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- model ------------------------------------------------------------------------------

    @property
    def analyzer(self) -> ImageAnalyzer:
        """The models.ImageAnalyzer for queries, built on first use (loads the ONNX model)."""
        return self.guard.analyzer_for(None)

    def embed_views(
        self,
        source: ImageQuery,
        roi: RoiLike = None,
        config: DescriptorConfig | None = None,
        model: ModelStamp | None = None,
        *,
        upright_only: bool = False,
    ) -> tuple[ViewSet, bytes | None]:
        """Decode a query once and embed the views the descriptor compares (quarter turns,
        the photo inside a frame): ``(ViewSet, encoded bytes or None)``. ``config`` defaults
        to the library's descriptor; ``upright_only`` leaves the turned views for
        :meth:`models.views.ViewSet.with_turns`. Raises ``ImageError`` / ``RoiError``."""
        region = coerce_roi(roi)
        data = read_query_bytes(source)
        live = self.library.searchable() if config is None else None
        config = config or live.descriptor.config  # type: ignore[union-attr]
        analyzer = self.guard.analyzer_for(
            model if model is not None else (live.model if live is not None else None)
        )
        try:
            views = analyzer.analyze_views(
                data if data is not None else source,
                region,
                rotations=config.angles,
                frames=config.frames,
                upright_only=upright_only,
                unblock=config.unblock,
            )
        except ImageError as error:
            raise with_source(error, source) from None
        return views, data

    # -- queries ----------------------------------------------------------------------------

    def query_image(
        self,
        source: ImageQuery,
        roi: RoiLike = None,
        k: int = 10,
        min_score: float | None = None,
        *,
        exclude: int | None = None,
        all_views: bool | None = None,
        flags: QualityFilter | None = None,
        thorough: bool = False,
    ) -> ImageQueryResult:
        """Search with an image file or bytes (or its region ``roi``): the query's analysis,
        its bytes, and the ``k`` best hits (see :meth:`search_image`); ``exclude``: an image
        id left out of the results (the query itself, for :meth:`similar`). Every view is
        embedded (``all_views``; default: unless ``settings.upright_first``); else the upright
        views are searched first, the turned ones embedded only when those leave no sure copy
        (:class:`search.descriptor.QueryScorer`); ``flags``: a quality-flag filter;
        ``thorough`` (a reverse lookup's): every view, the grey band checked however settled."""
        check_params(k, min_score)
        state = self.store.health.serving_state()
        live = self.guard.live(state)  # one state for the whole query, even if swapped
        descriptor = live.descriptor
        every = thorough or (not self.settings.upright_first if all_views is None else all_views)
        views, data = self.embed_views(
            source, roi, descriptor.config, live.model, upright_only=not every
        )
        analysis = views.analysis
        asked = QueryViews(views, descriptor)
        query = source if data is None else data
        sha = query_sha256(source, data)
        # a region's own photo (the library's files of the query's bytes) holds it: nominated
        within = self.store.ids_by_sha256(sha) if sha is not None and roi is not None else ()
        local = self.local.for_query(
            descriptor, query, roi, views, live.generation, live.model, thorough, within
        )
        scored = self._scored(
            live,
            asked.rows,
            analysis.labels,
            k,
            exclude,
            asked.more,
            flags,
            asked.regions,
            local,
        )
        same_pixels = SamePixels(
            source,
            data,
            (analysis.width, analysis.height),
            self.records.image_file_path,
            self.settings.max_image_pixels,
            self.pixel_digests,
            views.full_size,
        )
        exact = same_pixels.exact(sha, roi is not None)
        none = no_copies_reason(analysis.width, analysis.height, views.picture, coerce_roi(roi))
        taken = analysis.exif_datetime  # a hit taken at another time: another shot
        calibration = live.descriptor.calibration
        found = hits_from_scores(scored, calibration, exact, none, taken, min_score)
        hits = local.explain(found, scored, views.pieces)
        hits = self.videos.merge(live, asked.rows, hits, k, min_score, exclude, flags, none)
        hits = flags.hits(hits, k) if flags else hits
        self.guard.check_unchanged(state)
        return ImageQueryResult(analysis, data, sha, hits, asked.embedded)

    def search_image(
        self,
        source: ImageQuery,
        roi: RoiLike = None,
        k: int = 10,
        min_score: float | None = None,
        flags: QualityFilter | None = None,
        name: str | None = None,
    ) -> list[SearchHit]:
        """The ``k`` images most similar to ``source`` (or its region ``roi``), best first;
        ``name``: uploaded bytes' file name (``clip.mp4`` is read as a video, as a file is).

        Results are ordered by ``score``, the rank score: the copy score fused with class-label
        similarity for look-alikes (:meth:`search.descriptor.Descriptor.rank_scores`; 1.0 for
        the same image). ``copy_score`` is the cosine in the library's descriptor space, best
        over the query's views and the stored image's rows; ``z`` is its calibrated value and
        ``duplicate`` the copy decision (``z >= DUPLICATE_Z``; a grey-band ``lookalike`` is
        none: :mod:`search.descriptor.witness`). ``exact`` marks byte-identical (sha256) or
        pixel-identical copies of the query file (never for a region ``roi``)."""
        if is_video_query(source, name):
            if roi is not None:  # it was dropped without a word: the whole clip was searched
                raise RoiError(
                    "a region is for a photo; a video or an animated image is searched by its "
                    "whole frames"
                )
            check_params(k, min_score)
            hits = self.videos.query_clip(source, k, min_score)
            return flags.hits(hits, k) if flags else hits
        return self.query_image(source, roi, k, min_score, flags=flags).hits

    def hits_for(self, ids: Sequence[int], score: float, *, exact: bool) -> list[SearchHit]:
        """Hit records for known image ids (e.g. exact copies found by hash), in id order."""
        rows = self.store.reads.hit_rows(sorted(set(ids)))
        return [hit_from_row(0, score, row, exact) for row in rows.values()]

    def similar(
        self,
        image_id: int,
        k: int = 10,
        min_score: float | None = None,
        flags: QualityFilter | None = None,
    ) -> list[SearchHit]:
        """The ``k`` images most similar to library image ``image_id``, the image excluded:
        asked as a search with its file is (a video: with its stored frames), so that a pair
        scores the same either way; its stored rows when the file is gone or changed."""
        check_params(k, min_score)
        image_id = int(image_id)
        if not is_image_id(image_id):
            raise ImageNotFoundError(f"no image with id {image_id} in the library")
        state = self.store.health.serving_state()
        live = self.guard.live(state)
        found = self.store.descriptors.rows([image_id]).get(image_id)
        if found is None:
            raise self.records.without_vector(image_id)
        file = self.records.file_inside(image_id)  # a link out of its collection: stored rows
        if (
            videos := self.videos.similar(image_id, file and file.sha256, k, min_score)
        ) is not None:
            return flags.hits(videos, k) if flags else videos
        data = None if file is None or is_video_file(file.path) else unchanged_bytes(file)
        if data is not None:
            try:
                return self.query_image(
                    data, None, k, min_score, exclude=image_id, flags=flags
                ).hits
            except ReindexingError:
                raise
            except ImgsearchError as error:  # e.g. the model is missing: the stored rows
                log.info("similar(%d) from its stored vectors: %s", image_id, error)
        query, _owner = live.descriptor.stored_rows([to_stored(found)])
        scored = self._scored(live, query, found.labels, k, image_id, None, flags)
        sha256 = file.sha256 if file is not None else None
        hits = hits_from_scores(
            scored,
            live.descriptor.calibration,
            lambda hit, _s: sha256 is not None and hit.sha256 == sha256,
            taken=self.records.taken(image_id),
            min_score=min_score,
        )
        # the videos at their best moments, as a search with the file finds them (a video
        # holding the photo scored by its first frame only: 0.56 @ 00:00.0 for 0.997 @ 00:08.2)
        hits = self.videos.merge(live, query, hits, k, min_score, image_id, flags)
        hits = flags.hits(hits, k) if flags else hits
        self.guard.check_unchanged(state)
        return hits

    def search_labels(self, q: str, k: int = 50, offset: int = 0) -> list[SearchHit]:
        """Images with a label that has the words of ``q`` as whole words (its total:
        ``records.count_labels``; :func:`search.query.browse.label_hits`); an embedding-only
        model says so instead of answering "no results"."""
        self.admin.check_labels()
        return label_hits(self.store, q, k, offset)

    def browse(
        self, offset: int = 0, limit: int = 60, flags: QualityFilter | None = None
    ) -> tuple[list[SearchHit], int]:
        """A page of the library, newest file first (:func:`search.query.browse.newest_hits`)."""
        return newest_hits(self.store, offset, limit, flags)

    def _scored(
        self,
        live: Searchable,
        query: np.ndarray,
        labels: Sequence[tuple[str, float]],
        k: int,
        exclude: int | None,
        more: MoreViews | None = None,
        flags: QualityFilter | None = None,
        regions: QueryRegions | None = None,
        local: QueryLocal | None = None,
    ) -> list[tuple[ScoredHit, StoredImage]]:
        """Candidates from ``live``'s indexes scored exactly from the store (the truth) by
        its :class:`search.descriptor.QueryScorer` (``more`` turned views, ``regions`` tiles,
        ``local`` check: each asked while the query stays unsettled; stored images' turned
        views and ``local``'s key points as witnesses), filtered (``flags``), best first:
        ``min_score`` is asked of the hits' final scores (:func:`hits_from_scores`)."""
        if live.index.ntotal == 0:
            return []

        def stored(ids: Sequence[int]) -> dict[int, Any]:
            return {i: to_stored(r) for i, r in self.store.descriptors.rows(ids).items()}

        wanted = flags.candidates(k) if flags else k + CANDIDATE_MARGIN
        scorer = QueryScorer(  # a video's row takes no photo's place: merge() ranks videos
            live.descriptor,
            partial(live.neighbours, skip=self.videos.frames.video_ids(live)),
            stored,
            candidates=max(CANDIDATES_PER_VIEW, wanted),
            cache=live.rows,
            turns=turns_for(self.records, self.guard, live),
        )
        evidence = local.callbacks() if local else {}
        rows = local.rows if local else {}  # the key-point witness finds the shown's files here
        hits = ShownHits(partial(self.store.reads.hit_rows, labels=False), k, flags, rows)
        found = scorer.search(
            query, labels, wanted, exclude, more, regions, shown=hits.shown, **evidence
        )
        for image_id, row in hits.rows.items():  # labels read with the candidates' vectors
            image = scorer.images.get(image_id)
            row.labels = list(image.labels) if image is not None else []
        return hits.select(found)


__all__ = ["ImageFile", "ImageInfo", "PathEscapeError", "QueryError", "SearchEngine", "SearchHit"]
