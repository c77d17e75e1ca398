"""A picture's ORB key points as :mod:`search.descriptor.verify` makes and matches them
(:class:`LocalFeatures`; their ratio-test matches: :func:`matches`), and their arrays for a
file (:func:`features_to_arrays`, :func:`features_from_arrays`: the library's key-point cache,
:class:`search.library.KeyPointCache`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

Planes = tuple[np.ndarray, np.ndarray | None]  # ORB points [K, 2], descriptors [K, 32]
DESCRIPTOR_BYTES = 32  # an ORB descriptor
RATIO = 0.8  # Lowe's ratio test


class _MadeOnFirstUse:
    """A dataclass field whose value may be set as a function of no arguments: the function
    is called when the field is first read, and its result kept (dataclasses call a
    descriptor field's ``__set__`` from ``__init__`` and its ``__get__`` on every read)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._slot = f"_{name}"

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None:
            return None  # the field's default
        value = obj.__dict__[self._slot]
        if callable(value):
            value = obj.__dict__[self._slot] = value()
        return value

    def __set__(self, obj: object, value: Any) -> None:
        obj.__dict__[self._slot] = value


@dataclass
class LocalFeatures:
    """ORB key points of one image: ``(points [K, 2], descriptors [K, 32] | None)`` for the
    image as is and mirrored left-right (None when not extracted: only the first image of a
    pair is matched mirrored); ``smoothed``: those of a noisy picture smoothed (None for a
    picture of less noise than :data:`NOISY`); ``dense``: a query's denser upright key points
    of the same picture (:func:`search.descriptor.dense_features`; None for features kept by
    the many). Each may be given as a function that makes it when first read
    (:func:`local_features` with ``lazy``). ``picture``: the grey levels they were found in,
    reduced (:func:`search.descriptor.alignment.alignment_picture`), and ``size``: that
    picture's (width, height) before, which the key points' coordinates are in - what
    :func:`search.descriptor.alignment.pictures_agree` lays over another image's."""

    upright: Planes
    mirrored: Planes | None = _MadeOnFirstUse()  # type: ignore[assignment]
    smoothed: LocalFeatures | None = _MadeOnFirstUse()  # type: ignore[assignment]
    dense: LocalFeatures | None = _MadeOnFirstUse()  # type: ignore[assignment]
    picture: np.ndarray | None = None
    size: tuple[int, int] = (0, 0)

    @property
    def count(self) -> int:
        return len(self.upright[0])

    def aligned(self, mirrored: bool = False) -> tuple[np.ndarray, tuple[int, int]] | None:
        """(``picture``, ``size``) of the upright planes, or of the ``mirrored`` ones;
        None without a picture."""
        if self.picture is None:
            return None
        return (self.picture[:, ::-1] if mirrored else self.picture), self.size


def features_to_arrays(features: LocalFeatures) -> dict[str, np.ndarray]:
    """The arrays of an image's features: upright, mirrored when made (not when still to be
    made on first use), smoothed (and its mirrored) when made; their picture when kept."""
    out: dict[str, np.ndarray] = {}
    if features.picture is not None:
        out["picture"] = np.asarray(features.picture, np.uint8)
        out["size"] = np.asarray(features.size, np.int32)
    layers = [("", features)]
    if (smoothed := _made(features, "smoothed")) is not None:
        layers.append(("smoothed_", smoothed))
    for prefix, layer in layers:
        out.update(_planes_to_arrays(prefix, layer.upright))
        if (mirrored := _made(layer, "mirrored")) is not None:
            out.update(_planes_to_arrays(f"{prefix}mirrored_", mirrored))
    return out


def features_from_arrays(arrays: Mapping[str, np.ndarray]) -> LocalFeatures:
    """:func:`features_to_arrays` read back; ValueError when they are not such arrays."""

    picture, size = _picture_from_arrays(arrays) if "picture" in arrays else (None, (0, 0))

    def layer(prefix: str) -> LocalFeatures:
        mirrored = None
        if f"{prefix}mirrored_points" in arrays:
            mirrored = _planes_from_arrays(f"{prefix}mirrored_", arrays)
        planes = _planes_from_arrays(prefix, arrays)
        return LocalFeatures(planes, mirrored, picture=picture, size=size)

    smoothed = layer("smoothed_") if "smoothed_points" in arrays else None
    found = layer("")
    found.smoothed = smoothed
    return found


def upright_only(features: LocalFeatures) -> LocalFeatures:
    """``features`` without their mirrored planes (smoothed ones kept, unmirrored): how a
    library image is matched second, whoever made its features."""
    smoothed = _made(features, "smoothed")
    picture = {"picture": features.picture, "size": features.size}
    if smoothed is not None:
        smoothed = LocalFeatures(smoothed.upright, None, **picture)
    return LocalFeatures(features.upright, None, smoothed, **picture)


def has_mirrored(features: LocalFeatures) -> bool:
    """Whether ``features`` hold their mirrored planes (their smoothed ones' too, if any)."""
    smoothed = _made(features, "smoothed")
    layers = [features] if smoothed is None else [features, smoothed]
    return all(_made(layer, "mirrored") is not None for layer in layers)


def _made(features: LocalFeatures, name: str) -> Any:
    """A :class:`_MadeOnFirstUse` field's value, None while it is still to be made."""
    value = vars(features).get(f"_{name}")
    return None if callable(value) else value


def _planes_to_arrays(prefix: str, planes: Planes) -> dict[str, np.ndarray]:
    points, descriptors = planes
    out = {f"{prefix}points": np.asarray(points, np.float32)}
    if descriptors is not None:  # none: ORB found no key point
        out[f"{prefix}descriptors"] = np.asarray(descriptors, np.uint8)
    return out


def _picture_from_arrays(arrays: Mapping[str, Any]) -> tuple[np.ndarray, tuple[int, int]]:
    picture, size = np.asarray(arrays["picture"]), np.asarray(arrays.get("size", ()))
    if picture.dtype != np.uint8 or picture.ndim != 2 or min(picture.shape) < 1:
        raise ValueError("a key-point picture is not [H, W] uint8")
    if size.shape != (2,) or (size < 1).any():
        raise ValueError("a key-point picture's size is not (width, height)")
    return picture, (int(size[0]), int(size[1]))


def _planes_from_arrays(prefix: str, arrays: Mapping[str, Any]) -> Planes:
    points = np.asarray(arrays[f"{prefix}points"])
    if points.dtype != np.float32 or points.ndim != 2 or points.shape[1] != 2:
        raise ValueError("key points are not [K, 2] float32")
    descriptors = arrays.get(f"{prefix}descriptors")
    if descriptors is not None:
        descriptors = np.asarray(descriptors)
        if descriptors.dtype != np.uint8 or descriptors.shape != (len(points), DESCRIPTOR_BYTES):
            raise ValueError("key-point descriptors are not [K, 32] uint8")
    elif len(points):
        raise ValueError("key points without descriptors")
    return points, descriptors


def matches(da: np.ndarray, db: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lowe's ratio-test matches of the binary descriptors ``da`` to ``db``, one per point of
    ``db`` (the closest; on a tie the first of ``da``), in the order each point of ``db`` was
    first matched: ``(rows of da, rows of db)``. The two nearest neighbours by Hamming
    distance come from FAISS's binary flat index (exact, as OpenCV's brute-force matcher's,
    4x faster and no Python object per match), in one OpenMP thread: ~0.4 ms either way on an
    idle machine, but on a busy one OpenMP's waiting threads made the grey-band checks 6x
    slower (a quarter of a query's checks ran past their 1 s budget with two other busy
    processes on 2 cores; bench/README.md, "Key points in one thread")."""
    import faiss

    index = faiss.IndexBinaryFlat(db.shape[1] * 8)
    index.add(np.ascontiguousarray(db, np.uint8))
    threads = faiss.omp_get_max_threads()  # the calling thread's setting: restored
    faiss.omp_set_num_threads(1)
    try:
        distance, nearest = index.search(np.ascontiguousarray(da, np.uint8), 2)
    finally:
        faiss.omp_set_num_threads(threads)
    ok = (nearest[:, 1] >= 0) & (distance[:, 0] < RATIO * distance[:, 1])
    rows = np.flatnonzero(ok)
    if not len(rows):
        return rows, rows
    to, near = nearest[rows, 0], distance[rows, 0]
    by_target = np.lexsort((rows, near, to))  # each point of db: its closest match first
    firsts = np.r_[True, to[by_target][1:] != to[by_target][:-1]]
    chosen = by_target[firsts]  # ordered by point of db
    _, first_seen = np.unique(to, return_index=True)  # where each point of db was first met
    chosen = chosen[np.argsort(first_seen, kind="stable")]
    return rows[chosen], to[chosen]


def noise_level(grey: np.ndarray) -> float:
    """The standard deviation of a picture's pixel noise in grey levels (Immerkaer's estimate:
    the mean absolute response to a kernel that cancels smooth shading and straight edges).
    Texture reads as noise too (hymenoptera photos at 512 px: median 1.9, 5 % above 6)."""
    if min(grey.shape) < 3:
        return 0.0
    g = grey.astype(np.int16)  # the kernel's sums stay within +-2040
    rows = g[:-2] + g[2:] - 2 * g[1:-1]
    both = rows[:, :-2] + rows[:, 2:] - 2 * rows[:, 1:-1]
    return float(np.sqrt(np.pi / 2) * np.abs(both).sum(dtype=np.int64) / (6 * both.size))
