"""The key-point witness of one query: a lesser copy keeps its ``duplicate`` flag only when
its key points match the query's, or a better copy's (:mod:`search.descriptor.witness` asks;
``local=on``, the default). At most :data:`WITNESS_PAIRS` pairs are matched per query and none
is started after :data:`search.descriptor.VERIFY_BUDGET_S`: a copy not asked keeps the
decision.

The copies it will be asked about are known before the first question
(:func:`search.descriptor.witness.duplicate_decisions` tells it: ``ahead``); their key points
are read on other threads meanwhile (:class:`ReadAhead`: a file's read and sha256, its kept
entry or, met for the first time, its decode and ORB; two files side by side), while this one
makes the query's own and matches the pairs already read. The same pairs are matched, in
the same order; at most :data:`WITNESS_PAIRS` files are read ahead, before the budget counts,
and those not started when the query ends are dropped (bench/README.md, "Eighth round")."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Container, Sequence
from concurrent.futures import Future
from functools import partial

from models.views import ViewSet
from search.descriptor import (
    LAYOUT_MATCH,
    MIN_INLIERS,
    VERIFY_BUDGET_S,
    LocalFeatures,
    count_inliers,
    key_points_match,
    layout_correlations,
)
from search.query.candidate_files import ReadAhead, read_here_or_awaited
from search.query.local_evidence import LocalStats, QueryEvidence
from search.query.records import LibraryRecords
from search.store import StoredImage

WITNESS_PAIRS = 12  # pairs matched per query at most

# (image id, its row when already read) -> its key points (None: gone, changed, unreadable)
StoredFeatures = Callable[[int, StoredImage | None], LocalFeatures | None]


class KeyPointWitness:
    """``witness(image id, other copies' ids, part=None, after=0) -> bool | None``: True when
    the image's key points match the query's (its mirrored ones included) or a better copy's,
    or when the query's key points or a part's confirmed it already (``confirmed``: the
    grey-band check's copies and a part's; such a copy holds them), False only when every
    pair was matched and none holds
    a copy's geometry, None when not asked (its file gone, the budget spent; ``spare``: the
    question past the pairs' budget that the best copy is asked last, None too when
    ``same_places`` says its layout holds the query's: noise or stripes that blind ORB keep
    the places, another photo under one filter does not). With ``part``
    (a part of the query raised it: a collage's picture), that part's key points
    (``part_features``) are matched instead of the whole query's; the first ``after`` better
    copies (those more like it than the query is) are matched before the query when their key
    points are at hand (read for this query already). ``rows``: the query's candidates' rows
    as its search reads them (the hits shown: their files are found without a query each);
    ``stats`` counted under ``lock``; ``read_ahead``: where the images that :meth:`ahead`
    names are read meanwhile. ``paired``: a library image's key points mirrored too, how a
    better copy is matched (first) with the copy asked about: a mirrored copy of the picture
    is a copy of its other copies too (without them, a mirrored crop held its scene's
    original by 5 inliers instead of 66, and refuted it)."""

    def __init__(
        self,
        features: StoredFeatures,
        query_features: Callable[[], LocalFeatures | None],
        rows: dict[int, StoredImage],
        stats: LocalStats,
        lock: threading.Lock,
        confirmed: Container[int] = (),
        read_ahead: ReadAhead | None = None,
        part_features: Callable[[int], LocalFeatures | None] | None = None,
        paired: StoredFeatures | None = None,
        same_places: Callable[[int], bool] | None = None,
        counted: dict[int, int] | None = None,
    ) -> None:
        self.features, self.query_features, self.rows = features, query_features, rows
        self.stats, self.lock = stats, lock
        self.confirmed, self.read_ahead = confirmed, read_ahead
        self.part_features, self.paired = part_features, paired
        self.same_places = same_places
        self.counted = {} if counted is None else counted  # inliers() found, by image id
        self.pairs, self.started = 0, 0.0  # pairs matched, when the first was started
        self.pending: dict[int, Future[LocalFeatures | None]] = {}
        self._got: dict[int, LocalFeatures | None] = {}  # key points read for this query
        self._paired: dict[int, LocalFeatures | None] = {}  # ... mirrored too (better copies)

    def ahead(self, image_ids: Sequence[int]) -> None:
        """Start reading the key points of the images the witness will be asked about (in
        that order; the first :data:`WITNESS_PAIRS`)."""
        if self.read_ahead is None:
            return
        for image_id in list(dict.fromkeys(image_ids))[:WITNESS_PAIRS]:
            if image_id in self.pending or image_id in self.confirmed:
                continue
            row = self.rows.get(image_id)
            read = self.read_ahead.submit(lambda i=image_id, r=row: self.features(i, r))
            self.pending[image_id] = read

    def finish(self) -> None:
        """The query asks no more: reads not started are dropped."""
        for read in self.pending.values():
            read.cancel()
        self.pending.clear()

    def __call__(
        self,
        image_id: int,
        better: Sequence[int],
        part: int | None = None,
        after: int = 0,
        spare: bool = False,
    ) -> bool | None:
        if image_id in self.confirmed:
            return True
        started = time.perf_counter()
        self.started = self.started or started
        budget = WITNESS_PAIRS + (len(better) + 1 if spare else 0)  # (the best copy's question)
        if self._spent_all(budget):
            return None
        # first: a file gone needs no query key points
        mine = self._features_of(image_id)
        query = None if mine is None else self._query(part)
        if query is None:
            return None
        answer: bool | None = False
        pairs = 0
        # the query's (its own mirrored ones too) after those of the first ``after`` better
        # copies that are at hand: no file is read before the query's key points are matched
        first = [b for b in better[:after] if b in self._paired_at_hand()]
        for other in [*first, query, *(b for b in better if b not in first)]:
            if self._spent_all(budget):
                answer = None
                break
            theirs = other if isinstance(other, LocalFeatures) else self._better(other)
            if theirs is None:
                answer = None
                continue
            self.pairs, pairs = self.pairs + 1, pairs + 1
            if key_points_match(theirs, mine):
                answer = True
                break
        if answer is False and spare and part is None and _densely(query, mine):
            answer = True  # the best copy: the query's denser key points hold it
        if answer is False and spare and self.same_places and self.same_places(image_id):
            answer = None  # the best copy: its places are the query's, the key points blind
        with self.lock:
            self.stats.witness_pairs += pairs
            self.stats.refuted += answer is False
            self.stats.seconds += time.perf_counter() - started
        return answer

    def inliers(self, image_id: int) -> int | None:
        """How many of the image's key points match the query's under one transform (its
        mirrored ones too): :func:`search.descriptor.tied_copies_first` orders copies tied on
        their vectors by it. None when its file is gone or changed, or the query's time
        budget is spent (its pairs are not counted against :data:`WITNESS_PAIRS`)."""
        started = time.perf_counter()
        self.started = self.started or started
        if started - self.started > VERIFY_BUDGET_S:
            return None
        mine = self._features_of(image_id)
        query = None if mine is None else self._query(None)
        if query is None:
            return None
        found = self.counted[image_id] = count_inliers(query, mine)
        with self.lock:
            self.stats.tied_pairs += 1
            self.stats.seconds += time.perf_counter() - started
        return found

    def _query(self, part: int | None) -> LocalFeatures | None:
        """The query's key points, or those of its ``part`` (not the whole's)."""
        if part is None:
            return self.query_features()
        return self.part_features(part) if self.part_features is not None else None

    def _spent_all(self, pairs: int = WITNESS_PAIRS) -> bool:  # before a file read or a pair
        return self.pairs >= pairs or time.perf_counter() - self.started > VERIFY_BUDGET_S

    def _paired_at_hand(self) -> Container[int]:
        return self._got if self.paired is None else self._paired

    def _better(self, image_id: int) -> LocalFeatures | None:
        """A better copy's key points, mirrored too when ``paired`` can read them."""
        if self.paired is None:
            return self._features_of(image_id)
        if image_id not in self._paired:
            self._paired[image_id] = self.paired(image_id, self.rows.get(image_id))
        return self._paired[image_id]

    def _features_of(self, image_id: int) -> LocalFeatures | None:
        if image_id in self._got:
            return self._got[image_id]
        read = self.pending.pop(image_id, None)
        here = partial(self.features, image_id, self.rows.get(image_id))
        found = self._got[image_id] = read_here_or_awaited(read, here)
        return found


def _densely(query: LocalFeatures, theirs: LocalFeatures) -> bool:
    """Whether the query's denser key points (:func:`search.descriptor.dense_features`: made
    once a query, when first asked) match ``theirs`` where its usual ones did not: a crop of
    a photo whose 500 strongest corners lie in a part the crop left out (a blind hold-out's
    crops at z 7-7.7 matched their originals by 89-279 of them and by none of the 500)."""
    dense = query.dense
    return dense is not None and count_inliers(dense, theirs, MIN_INLIERS) >= MIN_INLIERS


def query_parts(
    query: Callable[[], QueryEvidence], views: ViewSet
) -> Callable[[int], LocalFeatures | None]:
    """A part's key points by its number among the query's pieces (its views' tiles and
    cells: :attr:`models.views.ViewSet.pieces`, read when asked: the views embed their pieces
    after the witness is made), made on first use."""

    def of(part: int) -> LocalFeatures | None:
        pieces = views.pieces
        return query().of_part(pieces[part]) if 0 <= part < len(pieces) else None

    return of


def same_places(records: LibraryRecords, views: ViewSet) -> Callable[[int], bool]:
    """Whether a library image's stored layout is in rank order with the query's (or inverted:
    ``|rho| >= LAYOUT_MATCH``, which different photos never reached), read when asked."""

    def same(image_id: int) -> bool:
        layout = views.layout
        stored = records.shaped_layouts([image_id]).get(image_id)
        if layout is None or stored is None:
            return False
        return abs(layout_correlations(layout, {0: stored[0]}).get(0, 0.0)) >= LAYOUT_MATCH

    return same
