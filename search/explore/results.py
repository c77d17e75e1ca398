"""What the explore stage answers with: members, clusters, outliers, the 2-D map and its
cluster column."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Member:
    """An image of a result; ``sha256``: of its indexed content (the version of its
    thumbnail's URL), None when unknown."""

    id: int
    path: str
    sha256: str | None = None
    size: int | None = None  # bytes when indexed (a file of another size changed since)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "path": self.path}


@dataclass(frozen=True)
class Cluster:
    """A group of similar images. ``id`` is its 0-based position, largest first (the JSON
    and API id); people see :attr:`number`, 1-based ("Cluster 1" is id 0)."""

    id: int
    members: list[Member]  # nearest the centre first; members[0] is the representative
    labels: list[str]

    @property
    def number(self) -> int:
        """The cluster's number for people: ``id + 1``, in the CLI, its reports and the web."""
        return self.id + 1

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
    score: float | None  # None: a library too small for an outlier score (``reason`` says so)
    reason: str
    sha256: str | None = None  # of the indexed content, as :attr:`Member.sha256`
    size: int | None = None  # as :attr:`Member.size`

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "id": self.id,
            "path": self.path,
            "score": None if self.score is None else round(self.score, 3),
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
    generation: int = 0  # the library generation of ``ids`` (a poll of its clusters says its own)


@dataclass(frozen=True)
class MapColouring:
    """The map's cluster column as a poll finds it: ``ready`` (False: still computing, all
    -1), for library ``generation`` of ``count`` images (the map's own generation must match:
    else the library changed since the map was drawn)."""

    ready: bool
    generation: int
    count: int
    cluster: np.ndarray
    ids: np.ndarray  # the images of ``cluster``, in order (empty while not ready)


__all__ = ["Cluster", "Clusters", "LibraryMap", "MapColouring", "Member", "Outlier"]
