"""Learned whitening of embeddings, taught by the library's own photos and their edits.

The plain embedding spends much of its similarity on *how* a photo looks (grey, tiny, text on
top, a hue shift) rather than *which* photo it is. Learned whitening (Radenovic et al., "Fine-
tuning CNN image retrieval with no human annotation", TPAMI 2018) removes that: from pairs
(photo, edited photo) it estimates the covariance ``Cs`` of the edit differences and whitens
it (``Cs^-1/2``: directions edits move are shrunk), then rotates to the principal axes of the
whitened library. Cosine in that space is the copy score. ``shrink`` regularises ``Cs``
towards a multiple of the identity (a few thousand pairs cannot estimate 1024 x 1024 values).

Self-supervised: :func:`learn_from_images` makes the pairs from a seeded sample of library
images with :func:`search.descriptor.augment`; no labels and nothing outside the library are
used. Libraries learn it from :data:`MIN_IMAGES` photos up; whitening learned from few photos
overfits them (measured on near_duplicates, 45 photos), so below :data:`FULL_IMAGES` the edit
covariance is shrunk towards the identity by sample size (:func:`shrink_for`: the fewer the
photos, the nearer the plain space).

The transform is data: :meth:`Whitening.to_bytes` / :meth:`Whitening.from_bytes` store it
(in the library database); :attr:`Whitening.fingerprint` stamps what was built with it.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from PIL import Image

from search.descriptor.errors import WhiteningError

MIN_IMAGES = 100  # below this a library keeps the plain embedding
FULL_IMAGES = 500  # from here the whitening is learned at full strength (DEFAULT_SHRINK)
MIN_PAIRS = 200
DEFAULT_SHRINK = 0.2
DEFAULT_SAMPLE = 1000  # library images edited for learning (4 edits each by default)
DEFAULT_EDITS_PER_IMAGE = 4
_FORMAT = "imgsearch-whitening-1"


@dataclass(frozen=True)
class Whitening:
    """``x -> normalise(projection @ (x - mean))``; ``projection`` is [D', D]."""

    mean: np.ndarray
    projection: np.ndarray
    pairs: int = 0  # how many (photo, edit) pairs it was learned from
    images: int = 0  # how many library vectors gave the mean and the axes

    @property
    def input_dimension(self) -> int:
        return int(self.projection.shape[1])

    @property
    def dimension(self) -> int:
        return int(self.projection.shape[0])

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """Whiten ``vectors`` (``[..., D]``) and L2-normalise the result (float32)."""
        x = np.asarray(vectors, dtype=np.float32)
        if x.shape[-1] != self.input_dimension:
            raise WhiteningError(
                f"vectors have {x.shape[-1]} values, the whitening expects {self.input_dimension}"
            )
        y = (x - self.mean) @ self.projection.T
        norms = np.linalg.norm(y, axis=-1, keepdims=True)
        return (y / np.maximum(norms, 1e-12)).astype(np.float32)

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(
            buf,
            format=np.array(_FORMAT),
            mean=self.mean.astype(np.float32),
            projection=self.projection.astype(np.float32),
            counts=np.array([self.pairs, self.images], np.int64),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Whitening:
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                if str(z["format"]) != _FORMAT:
                    raise WhiteningError(f"unknown whitening format {str(z['format'])!r}")
                mean, projection, counts = z["mean"], z["projection"], z["counts"]
        except (OSError, ValueError, KeyError, EOFError) as exc:
            raise WhiteningError(f"stored whitening is unreadable: {exc}") from exc
        if projection.ndim != 2 or mean.shape != (projection.shape[1],):
            raise WhiteningError("stored whitening has inconsistent shapes")
        if not (np.isfinite(mean).all() and np.isfinite(projection).all()):
            raise WhiteningError("stored whitening is not finite")
        return cls(mean, projection, int(counts[0]), int(counts[1]))

    @cached_property
    def fingerprint(self) -> str:
        """Short content hash: what an index built with this transform is stamped with (made
        once: a sha256 of its 0.5 MB cost ~0.4 ms, and every query asks, for its video frames)."""
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(self.mean, dtype=np.float32).tobytes())
        h.update(np.ascontiguousarray(self.projection, dtype=np.float32).tobytes())
        return h.hexdigest()[:16]


class EditCovariance:
    """The covariance of (photo - edit) embedding differences, accumulated a batch at a time,
    so that a learning run never holds more than :attr:`FLUSH` differences and one ``[D, D]``
    float64 sum, however many pairs it learns from."""

    FLUSH = 1024  # differences buffered before they are added in one product

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self._sum = np.zeros((dimension, dimension), dtype=np.float64)
        self._buffer: list[np.ndarray] = []
        self._buffered = 0
        self.pairs = 0

    def add(self, anchors: np.ndarray, positives: np.ndarray) -> None:
        """Add matching rows of ``anchors`` / ``positives`` (a photo and an edit of it)."""
        a = np.asarray(anchors, dtype=np.float64)
        p = np.asarray(positives, dtype=np.float64)
        if a.shape != p.shape or a.ndim != 2 or a.shape[1] != self.dimension:
            raise WhiteningError(
                f"anchors {a.shape} and positives {p.shape} must match, {self.dimension} wide"
            )
        if not (np.isfinite(a).all() and np.isfinite(p).all()):
            raise WhiteningError("vectors must be finite")
        self._buffer.append(a - p)
        self._buffered += len(a)
        self.pairs += len(a)
        if self._buffered >= self.FLUSH:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            diff = np.concatenate(self._buffer)
            self._sum += diff.T @ diff
            self._buffer, self._buffered = [], 0

    def matrix(self) -> np.ndarray:
        """The mean outer product of the differences added so far (``[D, D]`` float64)."""
        self._flush()
        return self._sum / max(1, self.pairs)


def learn_whitening(
    anchors: np.ndarray,
    positives: np.ndarray,
    background: np.ndarray,
    *,
    shrink: float = DEFAULT_SHRINK,
    dimension: int | None = None,
) -> Whitening:
    """Learn the whitening from matching rows of ``anchors`` / ``positives`` (a photo and an
    edit of it) and the library's vectors ``background`` (mean and principal axes)."""
    a = np.asarray(anchors)
    if a.ndim != 2 or np.shape(positives) != a.shape:
        raise WhiteningError(f"anchors {a.shape} and positives {np.shape(positives)} must match")
    edits = EditCovariance(a.shape[1])
    edits.add(anchors, positives)
    return whitening_from_edits(edits, background, shrink=shrink, dimension=dimension)


def whitening_from_edits(
    edits: EditCovariance,
    background: np.ndarray,
    *,
    shrink: float = DEFAULT_SHRINK,
    dimension: int | None = None,
) -> Whitening:
    """The whitening of the accumulated edit covariance ``edits``, rotated to the principal
    axes of the library's vectors ``background``."""
    x = np.asarray(background, dtype=np.float64)
    d = edits.dimension
    if x.ndim != 2 or x.shape[1] != d:
        raise WhiteningError(f"background vectors {x.shape} do not match pairs (, {d})")
    if edits.pairs < MIN_PAIRS:
        raise WhiteningError(
            f"{edits.pairs} pairs are too few to learn a whitening (>= {MIN_PAIRS})"
        )
    if len(x) < 2:
        raise WhiteningError("need at least 2 background vectors")
    if not np.isfinite(x).all():
        raise WhiteningError("vectors must be finite")
    if not 0.0 <= shrink <= 1.0:
        raise WhiteningError("shrink must be in [0, 1]")
    cs = edits.matrix()
    cs = (1 - shrink) * cs + shrink * np.trace(cs) / d * np.eye(d)
    white = _whitener(cs, shrink)
    mean = x.mean(axis=0)
    y = (x - mean) @ white.T
    axes = _principal_axes(y, dimension or d)
    projection = axes.T @ white
    return Whitening(mean.astype(np.float32), projection.astype(np.float32), edits.pairs, len(x))


def _whitener(cs: np.ndarray, shrink: float) -> np.ndarray:
    """A matrix ``W`` with ``W cs W^T = I``. Any one gives the same whitening: the principal
    axes that follow absorb the rotation between two of them. The inverse Cholesky factor
    (a tenth of an eigendecomposition's cost) when the shrinkage keeps ``cs`` well
    conditioned, else the inverse square root with its smallest eigenvalues raised."""
    if shrink >= 1e-3:
        try:
            return np.linalg.inv(np.linalg.cholesky(cs))
        except np.linalg.LinAlgError:
            pass
    values, vectors = np.linalg.eigh(cs)
    values = np.maximum(values, values.max() * 1e-6)
    return (vectors * values**-0.5) @ vectors.T


def _principal_axes(y: np.ndarray, count: int) -> np.ndarray:
    """The ``count`` leading principal axes (``[D, count]``) of the centred rows ``y``; from
    the ``N x N`` Gram matrix when there are fewer rows than dimensions and ``count`` is
    within its rank (the same axes: ``y^T u / sqrt(N value)``), else from ``y^T y``."""
    n, d = y.shape
    if count < n - 1 < d:
        values, vectors = np.linalg.eigh(y @ y.T / n)
        order = np.argsort(-values)[:count]
        if values[order[-1]] > values[order[0]] * 1e-9:
            return y.T @ vectors[:, order] / np.sqrt(values[order] * n)
    values, vectors = np.linalg.eigh(y.T @ y / n)
    return vectors[:, np.argsort(-values)[:count]]


def shrink_for(images: int) -> float:
    """Shrinkage of the edit covariance towards the identity for a library of ``images``:
    :data:`DEFAULT_SHRINK` from :data:`FULL_IMAGES` up, rising linearly towards 1 (no
    whitening) as the library shrinks to none."""
    short = min(1.0, max(0.0, (FULL_IMAGES - images) / FULL_IMAGES))
    return DEFAULT_SHRINK + (1.0 - DEFAULT_SHRINK) * short


Embed = Callable[[Sequence[Image.Image]], np.ndarray]


def training_pairs(
    images: Sequence[Image.Image],
    embed: Embed,
    *,
    edits_per_image: int = DEFAULT_EDITS_PER_IMAGE,
    seed: int = 0,
    batch: int = 32,
) -> tuple[np.ndarray, np.ndarray]:
    """``(anchors, positives)``: each photo's embedding next to that of ``edits_per_image``
    random edits of it (:func:`search.descriptor.augmentations.augment`, seeded per photo)."""
    from search.descriptor.augmentations import augment

    anchors, positives = [], []
    for start in range(0, len(images), batch):
        chunk = images[start : start + batch]
        views: list[Image.Image] = []
        for k, img in enumerate(chunk):
            rng = np.random.default_rng([seed, start + k])
            views.append(img)
            views += [augment(img, rng) for _ in range(edits_per_image)]
        e = embed(views)
        step = edits_per_image + 1
        for k in range(len(chunk)):
            anchors += [e[k * step]] * edits_per_image
            positives += list(e[k * step + 1 : (k + 1) * step])
    return np.array(anchors, np.float32), np.array(positives, np.float32)


def sample_indices(count: int, sample: int, seed: int = 0) -> np.ndarray:
    """A seeded, sorted sample of ``min(count, sample)`` indices of ``range(count)``."""
    rng = np.random.default_rng([seed, 0x3A1])
    if count <= sample:
        return np.arange(count)
    return np.sort(rng.choice(count, sample, replace=False))


def learn_from_images(
    images: Sequence[Image.Image],
    embed: Embed,
    background: np.ndarray,
    *,
    edits_per_image: int = DEFAULT_EDITS_PER_IMAGE,
    seed: int = 0,
    shrink: float | None = None,
) -> Whitening:
    """Learn a library's whitening from decoded sample photos and all its vectors.

    ``images`` are RGB photos of the library (a sample, see :func:`sample_indices`),
    ``embed`` the library model's batch embedding, ``background`` every library vector (or a
    large sample). Raises :class:`WhiteningError` when the library is below :data:`MIN_IMAGES`.
    """
    if len(background) < MIN_IMAGES:
        raise WhiteningError(
            f"a library of {len(background)} images keeps the plain embedding "
            f"(whitening is learned from {MIN_IMAGES} images up)"
        )
    anchors, positives = training_pairs(images, embed, edits_per_image=edits_per_image, seed=seed)
    if shrink is None:
        shrink = shrink_for(len(background))
    return learn_whitening(anchors, positives, background, shrink=shrink)
