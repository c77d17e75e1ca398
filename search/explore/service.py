"""The explore stage over one library: clusters, outliers and the map of its stored vectors
(the model's embeddings; no image is read again), cached per index generation."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from search.explore.cache import ResultCache
from search.explore.clusters import (
    DEFAULT_MIN_SIZE,
    METHODS,
    default_k,
    density_grouping,
    kmeans_labels,
    members_by_cluster,
)
from search.explore.errors import ExploreError
from search.explore.graph import EXACT_MAX, Graph, knn_graph, reduced, unit_rows
from search.explore.outliers import DEFAULT_K, OutlierScores, outlier_scores, reason
from search.explore.projection import project
from search.store import LibraryStore

log = logging.getLogger(__name__)

GRAPH_K = 30  # neighbours kept per image: outliers read up to this one, density the first 15
DENSITY_K = 15
LABELS_SHOWN = 3
MAP_WAITS_UP_TO = 20_000
"""Larger libraries get their first map without cluster colours (computed meanwhile)."""


@dataclass(frozen=True)
class Member:
    """An image of a result."""

    id: int
    path: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "path": self.path}


@dataclass(frozen=True)
class Cluster:
    id: int
    members: list[Member]  # nearest the centre first; members[0] is the representative
    labels: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "size": len(self.members),
            "representative": self.members[0].to_dict(),
            "labels": self.labels,
            "members": [m.to_dict() for m in self.members],
        }


@dataclass(frozen=True)
class Clusters:
    method: str
    parameter: int  # k of k-means, min size of density
    clusters: list[Cluster]
    noise: list[Member]

    def to_dict(self) -> dict[str, Any]:
        key = "k" if self.method == "kmeans" else "min_size"
        return {
            "method": self.method,
            key: self.parameter,
            "clusters": [c.to_dict() for c in self.clusters],
            "noise": [m.to_dict() for m in self.noise],
        }


@dataclass(frozen=True)
class Outlier:
    rank: int
    id: int
    path: str
    score: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "id": self.id,
            "path": self.path,
            "score": round(self.score, 3),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class LibraryMap:
    """Every image as a point: ids, x/y in [0, 1], density cluster (-1 = noise), top label
    (index into ``label_names``, -1 = none)."""

    ids: np.ndarray
    xy: np.ndarray
    cluster: np.ndarray
    label: np.ndarray
    label_names: list[str]
    projection: str
    clusters_ready: bool = True  # False: ``cluster`` is all -1 while they are computed


class Explorer:
    """Clusters, outliers and the map of one library (thread-safe; results cached)."""

    def __init__(self, store: LibraryStore, library: Path) -> None:
        self.store = store
        self.cache = ResultCache(library)
        self._lock = threading.RLock()  # one computation at a time (memory)
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

    def _cached(self, key: str, make: Any) -> dict[str, np.ndarray]:
        with self._lock:
            stamp = self.stamp()
            found = self._peek(key, stamp)
            if found is None:
                found = make(stamp)
                with self._cache_lock:
                    self.cache.put(key, stamp, found)
            return found

    def vectors(self, stamp: dict[str, object]) -> tuple[np.ndarray, np.ndarray]:
        """Ids and unit vectors of the library (kept in memory for one stamp)."""
        text = repr(sorted(stamp.items()))
        if self._vectors is None or self._vectors[0] != text:
            parts = list(self.store.iter_vectors())
            model = self.store.model_stamp()
            width = model.dimension if model else 1
            ids = np.concatenate([np.zeros(0, np.int64)] + [p[0] for p in parts])
            x = np.concatenate([np.zeros((0, width), np.float32)] + [p[1] for p in parts])
            del parts
            x = x.astype(np.float32, copy=False)
            for start in range(0, len(x), 16_384):  # unit rows in place: no second copy
                x[start : start + 16_384] = unit_rows(x[start : start + 16_384])
            self._vectors = (text, ids, x)
        return self._vectors[1], self._vectors[2]

    def _space(self, stamp: dict[str, object]) -> tuple[np.ndarray, np.ndarray]:
        """Ids and the vectors clusters are made in (PCA-reduced above EXACT_MAX images)."""
        ids, x = self.vectors(stamp)
        if len(x) <= EXACT_MAX:
            return ids, x
        text = repr(sorted(stamp.items()))
        if self._reduced is None or self._reduced[0] != text:  # k-means, graph and outliers
            self._reduced = (text, reduced(x))
        return ids, self._reduced[1]

    def graph(self) -> tuple[np.ndarray, Graph]:
        """Ids and the library's k-NN graph (rows of ``ids``)."""

        def make(stamp: dict[str, object]) -> dict[str, np.ndarray]:
            ids, x = self._space(stamp)
            g = knn_graph(x, GRAPH_K)
            return {"ids": ids, "neighbours": g.neighbours, "distances": g.distances}

        found = self._cached(f"graph-{GRAPH_K}", make)
        return found["ids"], Graph(found["neighbours"], found["distances"])

    def labels(self, method: str = "density", *, k: int | None = None, min_size: int | None = None):
        """Ids, cluster labels per id (-1 = noise) and the parameter used."""
        if method not in METHODS:
            raise ExploreError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
        if method == "kmeans":
            n = self.store.vector_count()
            param = int(k) if k is not None else default_k(n)
            if n and not 1 <= param <= n:
                raise ExploreError(
                    f"k must be between 1 and the number of images ({n}), not {param}"
                )

            def make(stamp: dict[str, object]) -> dict[str, np.ndarray]:
                ids, x = self._space(stamp)
                return {"ids": ids, "labels": kmeans_labels(x, param)}

        else:
            param = int(min_size) if min_size is not None else DEFAULT_MIN_SIZE
            if param < 2:
                raise ExploreError(f"min-size must be at least 2, not {param}")

            def make(stamp: dict[str, object]) -> dict[str, np.ndarray]:
                ids, g = self.graph()
                return {
                    "ids": ids,
                    "labels": density_grouping(
                        Graph(g.neighbours[:, :DENSITY_K], g.distances[:, :DENSITY_K]), param
                    ),
                }

        found = self._cached(f"clusters-{method}-{param}", make)
        return found["ids"], found["labels"], param

    def clusters(
        self, method: str = "density", *, k: int | None = None, min_size: int | None = None
    ) -> Clusters:
        """Groups of similar images, largest first, each with its representative."""
        ids, labels, param = self.labels(method, k=k, min_size=min_size)
        _, x = self.vectors(self.stamp())
        rows = self.store.reads.paths_and_labels()
        out = []
        for number, members in enumerate(members_by_cluster(x, labels)):
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
        ids, g = self.graph()

        def make(stamp: dict[str, object]) -> dict[str, np.ndarray]:
            found = outlier_scores(g, self._space(stamp)[1], k)
            return {
                name: np.asarray(getattr(found, name))
                for name in OutlierScores.__dataclass_fields__
            }

        # an eigendecomposition of the space's covariance per request was seconds at 1024-d
        kept = self._cached(f"outliers-{int(k)}", make)
        scores = OutlierScores(
            **{
                name: kept[name] for name in ("score", "alone", "unlike", "kth", "nearest_distance")
            },
            median=float(kept["median"]),
            k=int(kept["k"]),
        )
        rows = self.store.reads.paths_and_labels()
        order = np.argsort(-scores.score, kind="stable")[: max(0, int(n))]
        return [
            Outlier(
                rank + 1,
                int(ids[r]),
                _member(rows, int(ids[r])).path,
                float(scores.score[r]),
                reason(scores, int(r)),
            )
            for rank, r in enumerate(order.tolist())
        ]

    def library_map(self, projection: str = "pca") -> LibraryMap:
        """The 2-D map of the library, with density clusters (the Clusters page's default,
        same ids) and top labels for colour. Above MAP_WAITS_UP_TO images the first map of a
        generation does not wait for the clusters: they are computed in the background
        (``clusters_ready`` False, :meth:`map_clusters` has them once done)."""

        def make(stamp: dict[str, object]) -> dict[str, np.ndarray]:
            ids, x = self.vectors(stamp)
            return {"ids": ids, "xy": project(x, projection)}

        found = self._cached(f"map-{projection}", make)
        ready, cluster = self.map_clusters(found["ids"], wait=len(found["ids"]) <= MAP_WAITS_UP_TO)
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
        return LibraryMap(found["ids"], found["xy"], cluster, top, list(names), projection, ready)

    def map_clusters(self, ids: np.ndarray, *, wait: bool = False) -> tuple[bool, np.ndarray]:
        """The map's cluster column for the rows ``ids``: ``(True, labels)`` when the density
        clusters of this generation are known (or ``wait``), else ``(False, all -1)`` and
        they are computed in a background thread."""
        stamp = self.stamp()
        held = self._peek(f"clusters-density-{DEFAULT_MIN_SIZE}", stamp)
        if held is None and wait:
            found_ids, labels, _ = self.labels("density")
            held = {"ids": found_ids, "labels": labels}
        if held is None:
            self._colour_later(stamp)
            return False, np.full(len(ids), -1, np.int64)
        if not np.array_equal(held["ids"], ids):  # another generation meanwhile
            return False, np.full(len(ids), -1, np.int64)
        return True, held["labels"]

    def _colour_later(self, stamp: dict[str, object]) -> None:
        text = repr(sorted(stamp.items()))
        with self._cache_lock:
            if text in self._colouring:
                return
            self._colouring.add(text)

        def work() -> None:
            try:
                self.labels("density")
            except Exception:  # the map stays uncoloured; the Clusters page will say why
                log.exception("density clusters for the map failed")
            finally:
                with self._cache_lock:
                    self._colouring.discard(text)

        threading.Thread(target=work, name="imgsearch-map-clusters", daemon=True).start()


def _member(rows: dict[int, tuple[str, list[str]]], image_id: int) -> Member:
    return Member(image_id, rows.get(image_id, ("", []))[0])
