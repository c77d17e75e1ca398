"""Vectors for the FAISS cache's tests (``tests/test_index*.py``): clustered unit vectors like
embeddings, sparse ids, exact answers, stamps."""

from __future__ import annotations

import numpy as np
import pytest

from search.index import IndexConfig, IndexStamp, VectorIndex

DIM = 32
KINDS = ["flat", "hnsw", "ivf-sq8"]
FAST = IndexConfig(recall_sample=200, ivf_niter=8, hnsw_m=16, hnsw_ef_construction=40)


def clustered(n: int, seed: int = 0, dim: int = DIM, clusters: int = 40) -> np.ndarray:
    """Unit vectors around random centroids with low-dimensional spread (like embeddings)."""
    rng = np.random.default_rng(seed)
    centroids = rng.standard_normal((clusters, dim))
    basis = rng.standard_normal((clusters, 6, dim)) * 0.25
    which = rng.integers(0, clusters, n)
    x = centroids[which] + np.einsum("nk,nkd->nd", rng.standard_normal((n, 6)), basis[which])
    x += 0.05 * rng.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def make_ids(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.int64) * 13 + 10**9  # sparse, large: ids are not positions


def exact(x: np.ndarray, ids: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    order = np.argsort(-(q @ x.T), axis=1, kind="stable")[:, :k]
    return ids[order]


def stamp_for(index: VectorIndex, **changes: object) -> IndexStamp:
    values = dict(
        library_id="lib-1",
        generation=3,
        count=index.ntotal,
        model_name="m",
        model_sha256="ab" * 32,
        dimension=index.dimension,
    )
    values.update(changes)
    return IndexStamp(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    x = clustered(2000)
    return make_ids(len(x)), x
