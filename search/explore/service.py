"""The explore stage over one library: clusters, outliers and the map of its stored vectors
(the model's embeddings; no image is read again), cached per index generation.

Consistency: a computation takes the library's stamp (generation, vector count...) once and
holds the explorer's lock from there to its answer, so that the vectors, the k-NN graph,
the labels and the map of one answer belong to one generation; a result is kept (in memory,
on disk) only when the stamp still holds after it was made (nothing was committed while its
vectors were read). The map's cluster poll never reads vectors: it answers from the kept
results, with the generation they belong to.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from search.explore.cache import ResultCache
from search.explore.clusters import (
    DEFAULT_MIN_SIZE,
    METHODS,
    default_k,
    density_of_pictures,
    kmeans_labels,
    members_by_cluster,
)
from search.explore.errors import ExploreError
from search.explore.graph import EXACT_MAX, Graph, knn_graph, reduced, unit_rows
from search.explore.outliers import DEFAULT_K, OutlierScores, outlier_scores, reason
from search.explore.projection import project
from search.explore.results import (
    Cluster,
    Clusters,
    LibraryMap,
    MapColouring,
    Member,
    Outlier,
)
from search.store import LibraryStore

log = logging.getLogger(__name__)

GRAPH_K = 30  # neighbours kept per image: outliers read up to this one, density the first 15
DENSITY_K = 15
CLUSTERS_VERSION = 3  # 3: copies of one picture counted once
"""In the kept results' names: labels kept by an older rule (v1: density groups of any size)
are made again."""
OUTLIERS_VERSION = 2  # v1: sd readings of libraries too small for them ("-101.8 sd")
LABELS_SHOWN = 3
MAP_WAITS_UP_TO = 20_000
"""Larger libraries get their first map without cluster colours (computed meanwhile)."""


class Explorer:
    """Clusters, outliers and the map of one library (thread-safe; results cached)."""

    def __init__(
        self, store: LibraryStore, library: Path | None, check: Callable[[], None] | None = None
    ) -> None:
        """``library``: the folder its results are kept in (None: in memory only); ``check``
        runs before every answer (the engine's: refused while a re-index is unfinished, as
        searches are, instead of clusters of the images re-embedded so far)."""
        self.store = store
        self._check = check or (lambda: None)
        self.cache = ResultCache(library)
        self._lock = threading.RLock()  # one computation at a time (memory), of one stamp
        self._cache_lock = threading.Lock()  # reads of finished results never wait on one
        self._vectors: tuple[str, np.ndarray, np.ndarray] | None = None
        self._reduced: tuple[str, np.ndarray] | None = None
        self._colouring: set[str] = set()  # stamps whose map clusters are being computed

    def stamp(self) -> dict[str, object]:
        """What a cached result belongs to: library, generation, vector count, model."""
        model = self.store.model_stamp()
        return {
            "library": self.store.library_id,
            "generation": self.store.generation(),
            "vectors": self.store.vector_count(),
            "model": model.name if model else None,
        }

    def _peek(self, key: str, stamp: dict[str, object]) -> dict[str, np.ndarray] | None:
        """A finished result, without waiting for a computation in progress."""
        with self._cache_lock:
            return self.cache.get(key, stamp)

    def _result(self, key: str, stamp: dict[str, object], make: Any) -> dict[str, np.ndarray]:
        """The result ``key`` of ``stamp`` (the caller holds the lock): kept, or made now
        and kept when the library did not move meanwhile."""
        found = self._peek(key, stamp)
        if found is None:
            found = make(stamp)
            if self.stamp() == stamp:
                with self._cache_lock:
                    self.cache.put(key, stamp, found)
        return found

    def _vectors_of(self, stamp: dict[str, object]) -> tuple[np.ndarray, np.ndarray]:
        """Ids and unit vectors of the library (kept in memory for one stamp: one read for
        every step of an answer; the caller holds the lock)."""
        text = repr(sorted(stamp.items()))
        if self._vectors is None or self._vectors[0] != text:
            self._vectors = None  # the old matrix goes before the new one is read
            parts = list(self.store.iter_vectors())
            model = self.store.model_stamp()
            width = model.dimension if model else 1
            ids = np.concatenate([np.zeros(0, np.int64)] + [p[0] for p in parts])
            x = np.concatenate([np.zeros((0, width), np.float32)] + [p[1] for p in parts])
            del parts
            x = x.astype(np.float32, copy=False)
            for start in range(0, len(x), 16_384):  # unit rows in place: no second copy
                x[start : start + 16_384] = unit_rows(x[start : start + 16_384])
            # kept under ``stamp`` even when the library moved while they were read: every
            # step of this answer (the graph, the scores) then uses the same rows (outliers
            # mixed two reads: 458 vs 490 rows, a 500); a later answer has a later stamp
            self._vectors = (text, ids, x)
        return self._vectors[1], self._vectors[2]

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """Ids and unit vectors of the library now."""
        with self._lock:
            return self._vectors_of(self.stamp())

    def _space(self, stamp: dict[str, object]) -> tuple[np.ndarray, np.ndarray]:
        """Ids and the vectors clusters are made in (PCA-reduced above EXACT_MAX images)."""
        ids, x = self._vectors_of(stamp)
        if len(x) <= EXACT_MAX:
            return ids, x
        text = repr(sorted(stamp.items()))
        if self._reduced is None or self._reduced[0] != text:  # k-means, graph and outliers
            self._reduced = (text, reduced(x))
        return ids, self._reduced[1]

    def _graph(self, stamp: dict[str, object]) -> tuple[np.ndarray, Graph]:
        def make(stamp: dict[str, object]) -> dict[str, np.ndarray]:
            ids, x = self._space(stamp)
            g = knn_graph(x, GRAPH_K)
            return {"ids": ids, "neighbours": g.neighbours, "distances": g.distances}

        found = self._result(f"graph-{GRAPH_K}", stamp, make)
        return found["ids"], Graph(found["neighbours"], found["distances"])

    def graph(self) -> tuple[np.ndarray, Graph]:
        """Ids and the library's k-NN graph (rows of ``ids``)."""
        with self._lock:
            return self._graph(self.stamp())

    def labels(self, method: str = "density", *, k: int | None = None, min_size: int | None = None):
        """Ids, cluster labels per id (-1 = noise) and the parameter used."""
        with self._lock:
            stamp = self.stamp()
            return self._labels(stamp, method, k, min_size)

    def _labels(
        self, stamp: dict[str, object], method: str, k: int | None, min_size: int | None
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """Ids, labels per id and the parameter, all of ``stamp`` (the caller holds the
        lock); a kept result is answered without reading the vectors."""
        if method not in METHODS:
            raise ExploreError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
        n = int(stamp["vectors"])  # type: ignore[call-overload]
        if method == "kmeans":
            param = int(k) if k is not None else default_k(n)
            if n and not 1 <= param <= n:
                raise ExploreError(
                    f"k must be between 1 and the number of images ({n}), not {param}",
                    option="k",
                )

            def make(stamp: dict[str, object]) -> dict[str, np.ndarray]:
                ids, x = self._space(stamp)
                return {"ids": ids, "labels": kmeans_labels(x, param)}

        else:
            param = int(min_size) if min_size is not None else DEFAULT_MIN_SIZE
            if param < 2:
                raise ExploreError(f"min-size must be at least 2, not {param}", option="min_size")

            def make(stamp: dict[str, object]) -> dict[str, np.ndarray]:
                ids, g = self._graph(stamp)  # copies of one picture counted once
                return {"ids": ids, "labels": density_of_pictures(g, param, DENSITY_K)}

        found = self._result(f"clusters{CLUSTERS_VERSION}-{method}-{param}", stamp, make)
        return found["ids"], found["labels"], param

    def clusters(
        self, method: str = "density", *, k: int | None = None, min_size: int | None = None
    ) -> Clusters:
        """Groups of similar images, largest first, each with its representative."""
        self._check()
        with self._lock:
            stamp = self.stamp()
            ids, labels, param = self._labels(stamp, method, k, min_size)
            groups = members_by_cluster(_rows_of(ids, *self._vectors_of(stamp)), labels)
        rows = self.store.reads.paths_and_labels()
        out = []
        for number, members in enumerate(groups):
            counted = Counter(
                label for r in members for label in rows.get(int(ids[r]), ("", []))[1]
            )
            common = [
                name for name, c in counted.most_common(LABELS_SHOWN) if c * 4 >= len(members)
            ]
            out.append(Cluster(number, [_member(rows, int(ids[r])) for r in members], common))
        noise = [_member(rows, int(i)) for i in ids[labels < 0]]
        return Clusters(method, param, out, noise)

    def outliers(self, n: int = 20, *, k: int = DEFAULT_K) -> list[Outlier]:
        """The ``n`` images farthest from everything else, most outlying first."""
        self._check()
        with self._lock:
            stamp = self.stamp()
            ids, g = self._graph(stamp)

            def make(stamp: dict[str, object]) -> dict[str, np.ndarray]:
                found = outlier_scores(g, self._space(stamp)[1], k)
                return {
                    name: np.asarray(getattr(found, name))
                    for name in OutlierScores.__dataclass_fields__
                }

            # an eigendecomposition of the space's covariance per request was seconds at 1024-d
            kept = self._result(f"outliers{OUTLIERS_VERSION}-{int(k)}", stamp, make)
        scores = OutlierScores(
            **{
                name: kept[name] for name in ("score", "alone", "unlike", "kth", "nearest_distance")
            },
            median=float(kept["median"]),
            k=int(kept["k"]),
        )
        rows = self.store.reads.paths_and_labels()
        # ties (every score of a library too small for one): the farthest k-th neighbour first
        order = np.lexsort((-scores.kth, -scores.score))[: max(0, int(n))]
        members = [_member(rows, int(ids[r])) for r in order.tolist()]
        return [
            Outlier(
                rank + 1,
                member.id,
                member.path,
                float(scores.score[r]) if scores.scored else None,  # else the reason says why
                reason(scores, int(r)),
                member.sha256,
                member.size,
            )
            for rank, (r, member) in enumerate(zip(order.tolist(), members, strict=True))
        ]

    def library_map(self, projection: str = "pca") -> LibraryMap:
        """The 2-D map of the library, with density clusters (the Clusters page's default,
        same ids) and top labels for colour. Above MAP_WAITS_UP_TO images the first map of a
        generation does not wait for the clusters: they are computed in the background
        (``clusters_ready`` False, :meth:`map_colouring` has them once done)."""
        self._check()

        def make(stamp: dict[str, object]) -> dict[str, np.ndarray]:
            ids, x = self._vectors_of(stamp)
            return {"ids": ids, "xy": project(x, projection)}

        with self._lock:
            stamp = self.stamp()
            found = self._result(f"map-{projection}", stamp, make)
            if len(found["ids"]) <= MAP_WAITS_UP_TO:
                cluster_ids, cluster, _param = self._labels(stamp, "density", None, None)
                ready = True
            else:
                colouring = self._colouring_of(stamp)
                ready, cluster_ids, cluster = colouring.ready, colouring.ids, colouring.cluster
        if not np.array_equal(cluster_ids, found["ids"]):  # made while the library moved
            ready, cluster = False, np.full(len(found["ids"]), -1, np.int64)
        rows = self.store.reads.paths_and_labels(max_rank=1)
        names: dict[str, int] = {}
        top = np.array(
            [
                names.setdefault(rows[int(i)][1][0], len(names))
                if rows.get(int(i), ("", []))[1]
                else -1
                for i in found["ids"]
            ],
            np.int64,
        )
        generation = int(stamp["generation"])  # type: ignore[call-overload]
        return LibraryMap(
            found["ids"], found["xy"], cluster, top, list(names), projection, ready, generation
        )

    def map_colouring(self) -> MapColouring:
        """The map's cluster column now (the poll of a map drawn before its clusters): never
        waits for a computation, never reads vectors; the clusters of the current generation
        are computed in a background thread until they are kept."""
        self._check()
        return self._colouring_of(self.stamp())

    def _colouring_of(self, stamp: dict[str, object]) -> MapColouring:
        held = self._peek(f"clusters{CLUSTERS_VERSION}-density-{DEFAULT_MIN_SIZE}", stamp)
        generation, count = int(stamp["generation"]), int(stamp["vectors"])  # type: ignore[call-overload]
        if held is None:
            self._colour_later(stamp)
            none = np.full(count, -1, np.int64)
            return MapColouring(False, generation, count, none, np.zeros(0, np.int64))
        return MapColouring(True, generation, len(held["ids"]), held["labels"], held["ids"])

    def _colour_later(self, stamp: dict[str, object]) -> None:
        text = repr(sorted(stamp.items()))
        with self._cache_lock:
            if text in self._colouring:
                return
            self._colouring.add(text)

        def work() -> None:
            try:
                self.labels("density")  # of the generation then: kept once it holds
            except Exception:  # the map stays uncoloured; the Clusters page will say why
                log.exception("density clusters for the map failed")
            finally:
                with self._cache_lock:
                    self._colouring.discard(text)

        threading.Thread(target=work, name="imgsearch-map-clusters", daemon=True).start()


def _rows_of(wanted: np.ndarray, ids: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The rows of ``x`` (of ascending ``ids``) for the ids ``wanted``: ``x`` itself when
    they are its ids; a row of zeros for an id it lacks (removed while it was read)."""
    if np.array_equal(wanted, ids):
        return x
    at = np.minimum(np.searchsorted(ids, wanted), max(0, len(ids) - 1))
    rows = np.zeros((len(wanted), x.shape[1]), np.float32)
    known = (at < len(ids)) & (ids[at] == wanted) if len(ids) else np.zeros(len(wanted), bool)
    rows[known] = x[at[known]]
    return rows


def _member(
    rows: dict[int, tuple[str, list[str], str | None, int | None]], image_id: int
) -> Member:
    """The image ``image_id`` of ``rows`` (``paths_and_labels``); an id it lacks (removed
    while it was read) has no path, no version and no size."""
    path, _labels, sha256, size = rows.get(image_id, ("", [], None, None))
    return Member(image_id, path, sha256, size)
