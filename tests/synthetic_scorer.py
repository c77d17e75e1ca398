"""A per-query scorer over synthetic vectors (no model, no library): an identity whitening, a
background of one spread (``z = cosine / spread``) and exact neighbours."""

from __future__ import annotations

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


def synthetic_scorer(
    library: np.ndarray,
    config: DescriptorConfig,
    spread: float,
    labels: list[list[tuple[str, float]]] | None = None,
    candidates: int = 10,
) -> QueryScorer:
    """A scorer of the stored rows ``library`` [n, dim] (image id = row number)."""
    dim = library.shape[1]
    identity = Whitening(np.zeros(dim, np.float32), np.eye(dim, dtype=np.float32), 1, 1)
    calibration = Calibration(0.0, spread, 0.0, spread)
    descriptor = Descriptor(config, identity, calibration=calibration)

    def neighbours(rows: np.ndarray, k: int) -> np.ndarray:
        return np.argsort(-(rows @ library.T), axis=1)[:, :k]

    def stored(ids):  # type: ignore[no-untyped-def]
        return {i: StoredImage(library[i], labels=labels[i] if labels else ()) for i in ids}

    return QueryScorer(descriptor, neighbours, stored, candidates=candidates)
