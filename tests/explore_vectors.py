"""Vectors for the explore tests: separated groups and scattered points, like a library."""

from __future__ import annotations

import numpy as np


def blobs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Six tight groups of 12 unit vectors in 64-d (their centres in one region) plus 12
    scattered ones (label -1) far from them all."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal(64) + 0.7 * rng.standard_normal((6, 64))  # near each other
    x = np.concatenate(
        [c + 0.4 * rng.standard_normal((12, 64)) for c in centres] + [rng.standard_normal((12, 64))]
    ).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, np.concatenate([np.repeat(np.arange(6), 12), np.full(12, -1)])
