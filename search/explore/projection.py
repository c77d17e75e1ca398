"""A 2-D map of the library: PCA of the unit vectors (default) or UMAP (``umap-learn``, when
installed), scaled into [0, 1] x [0, 1] for drawing."""

from __future__ import annotations

import numpy as np

from search.explore.errors import ExploreError
from search.explore.graph import pca_project

PROJECTIONS = ("pca", "umap")


def umap_available() -> bool:
    """Is ``umap-learn`` importable?"""
    try:
        import umap  # noqa: F401
    except ImportError:
        return False
    return True


def project(x: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """float32 ``[n, 2]`` coordinates of unit rows ``x`` in [0, 1] (robustly scaled: the
    0.5th-99.5th percentiles span the square; stragglers are clipped to its edge)."""
    if method not in PROJECTIONS:
        raise ExploreError(f"unknown projection {method!r}; choose one of {PROJECTIONS}")
    n = len(x)
    if n == 0:
        return np.zeros((0, 2), np.float32)
    if method == "umap":
        if not umap_available():
            raise ExploreError("the umap projection needs umap-learn: pip install umap-learn")
        import umap

        xy = umap.UMAP(n_components=2, metric="cosine", random_state=seed).fit_transform(x)
    else:
        xy = _pca2(x)
    lo = np.percentile(xy, 0.5, axis=0)
    hi = np.percentile(xy, 99.5, axis=0)
    scale = np.maximum(hi - lo, 1e-9)
    return np.clip((xy - lo) / scale, 0.0, 1.0).astype(np.float32)


def _pca2(x: np.ndarray, sample: int = 20_000, seed: int = 0) -> np.ndarray:
    """The two leading principal components, learned from up to ``sample`` rows (O(d^2)
    memory; a 100 000 x 1024 library: 5x less work than all rows, the same axes)."""
    if len(x) < 2:
        return np.zeros((len(x), 2), np.float32)
    return pca_project(x, 2, sample, seed)
