"""A per-query scorer over synthetic vectors (no model, no library): an identity whitening (or
the plain space), a background of one spread (``z = cosine / spread``) and exact neighbours;
and the vectors: set by hand, random, or at a cosine to another."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from search.descriptor import (
    Calibration,
    Descriptor,
    DescriptorConfig,
    QueryScorer,
    StoredImage,
    Whitening,
)


def unit_vector(dim: int, *parts: tuple[int, float]) -> np.ndarray:
    """A unit vector of ``dim`` axes with ``(axis, value)`` parts before normalising."""
    v = np.zeros(dim, np.float32)
    for axis, value in parts:
        v[axis] = value
    return v / np.linalg.norm(v)


def random_units(rng: np.random.Generator, n: int, dim: int = 256) -> np.ndarray:
    """``n`` random unit vectors [n, dim] (cosines of sd ``1 / sqrt(dim)`` between them)."""
    x = rng.normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def near_unit(rng: np.random.Generator, row: np.ndarray, cosine: float) -> np.ndarray:
    """A random unit vector at ``cosine`` to the unit vector ``row``."""
    other = random_units(rng, 1, len(row))[0]
    other -= (other @ row) * row
    out = cosine * row + np.sqrt(1 - cosine**2) * other / np.linalg.norm(other)
    return out.astype(np.float32)


def synthetic_scorer(
    library: np.ndarray,
    config: DescriptorConfig,
    spread: float,
    labels: list[list[tuple[str, float]]] | None = None,
    candidates: int = 10,
    whitened: bool = True,
    uniform: Collection[int] = (),
    sd: float | None = None,
) -> QueryScorer:
    """A scorer of the stored rows ``library`` [n, dim] (image id = row number), in an
    identity-whitened space or, with ``whitened`` off, the plain one; the images ``uniform``
    are almost one flat tone (:attr:`StoredImage.uniform`); ``sd``: the duplicate z's spread
    when it is not the robust z's (``spread``)."""
    dim = library.shape[1]
    identity = Whitening(np.zeros(dim, np.float32), np.eye(dim, dtype=np.float32), 1, 1)
    calibration = Calibration(0.0, spread, 0.0, sd or spread)
    descriptor = Descriptor(config, identity if whitened else None, calibration=calibration)

    def neighbours(rows: np.ndarray, k: int) -> np.ndarray:
        return np.argsort(-(rows @ library.T), axis=1)[:, :k]

    def stored(ids):  # type: ignore[no-untyped-def]
        return {
            i: StoredImage(library[i], labels=labels[i] if labels else (), uniform=i in uniform)
            for i in ids
        }

    return QueryScorer(descriptor, neighbours, stored, candidates=candidates)
