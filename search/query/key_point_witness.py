"""The key-point witness of one query: a lesser copy keeps its ``duplicate`` flag only when
its key points match the query's, or a better copy's (:mod:`search.descriptor.witness` asks;
``local=on``, the default). At most :data:`WITNESS_PAIRS` pairs are matched per query and none
is started after :data:`search.descriptor.VERIFY_BUDGET_S`: a copy not asked keeps the
decision."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from search.descriptor import VERIFY_BUDGET_S, LocalFeatures, LocalWitness, key_points_match
from search.query.local_evidence import LocalStats
from search.store import StoredImage

WITNESS_PAIRS = 12  # pairs matched per query at most

# (image id, its row when already read) -> its key points (None: gone, changed, unreadable)
StoredFeatures = Callable[[int, StoredImage | None], LocalFeatures | None]


def key_point_witness(
    features: StoredFeatures,
    query_features: Callable[[], LocalFeatures | None],
    rows: dict[int, StoredImage],
    stats: LocalStats,
    lock: threading.Lock,
) -> LocalWitness:
    """``(image id, other copies' ids) -> bool | None``: True when the image's key points
    match the query's (its mirrored ones included) or a better copy's, False only when every
    pair was matched and none holds a copy's geometry, None when not asked (its file gone, the
    budget spent). ``rows``: the query's candidates' rows as its search reads them (the hits
    shown: their files are found without a query each); ``stats`` counted under ``lock``."""
    spent = [0, 0.0]  # pairs matched, when the first was started

    def spent_all() -> bool:  # checked before any file is read or pair matched
        return spent[0] >= WITNESS_PAIRS or time.perf_counter() - spent[1] > VERIFY_BUDGET_S

    def witness(image_id: int, better: Sequence[int]) -> bool | None:
        started = time.perf_counter()
        spent[1] = spent[1] or started
        if spent_all():
            return None
        # first: a file gone needs no query key points
        mine = features(image_id, rows.get(image_id))
        query = query_features() if mine is not None else None
        if query is None:
            return None
        answer: bool | None = False
        pairs = 0
        for other in [query, *better]:  # the query's own mirrored features are matched
            if spent_all():
                answer = None
                break
            theirs = other if isinstance(other, LocalFeatures) else features(other, rows.get(other))
            if theirs is None:
                answer = None
                continue
            spent[0], pairs = spent[0] + 1, pairs + 1
            if key_points_match(theirs, mine):
                answer = True
                break
        with lock:
            stats.witness_pairs += pairs
            stats.refuted += answer is False
            stats.seconds += time.perf_counter() - started
        return answer

    return witness
