"""Building a FAISS back end: which kind, its training and its tuned search parameter.

Kinds (``search.index.kinds``): ``flat`` (exact), ``hnsw``, ``ivf-sq8`` and ``auto``: flat
below ``AUTO_THRESHOLD`` vectors, ``ivf-sq8`` from there on (1 byte per dimension, so 1 M x
1024-d fits in ~1.1 GB, while flat and HNSW need > 4 GB), its ``nprobe`` tuned on a sample of
``recall_sample`` stored vectors until recall@10 against exact search is >= 0.97 + margin,
then checked on a disjoint held-out sample (and raised until that one passes too, see
``search.index.tune.tune``; past the target, a recall that doubling ``nprobe`` no longer
raises is the 8-bit codes' ceiling, and tuning stops there instead of probing every list);
when no ``nprobe`` gets there, auto falls back to flat. The measured
(held-out) recall is kept in ``info`` and in the file header (``read_header``) for
``imgsearch stats``.

Why 10 000 (``python -m bench.search --sizes 5000,10000,20000,40000 --kinds flat,ivf-sq8,auto``
on the 2-core dev box, load ~6-7 from other jobs, 1024-d synthetic overlapping clusters, one
query per call): flat scans 4 KB per vector. While the matrix stays in cache it is almost free
(5 k = 20 MB: p50 1.1 ms); past that it is memory-bound: p50 40 / 53 / 70 ms (CPU 20 / 27 /
47 ms) at 10 k / 20 k / 40 k, ~0.55 ms per 1 000 even on a quiet box (57 ms at 100 k).
ivf-sq8 at 10 k / 20 k / 40 k: p50 0.22 / 0.46 / 0.64 ms, held-out recall@10 0.977 / 0.984 /
0.964 (nprobe 8 / 16 / 20 tuned on the sample), build 6 / 16 / 28 s. So from 10 k on flat alone
spends the 10 ms budget (several times over on a busy box) while ivf-sq8 keeps recall >= 0.95
at ~1/100 of the cost; below it flat is exact, ~1 ms and needs no training (IVF wants >= 39
training points per list).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from search.index.errors import IndexInputError
from search.index.faiss_lib import faiss
from search.index.hnsw import HNSWBackend
from search.index.kinds import Backend, FlatBackend, IVFSQ8Backend
from search.index.ondisk import IVFPQOnDiskBackend
from search.index.tune import iter_normalized, tune

log = logging.getLogger(__name__)

AUTO_THRESHOLD = 10_000  # measured, see the module docstring (bench/search.py)
#: the registry of back ends: a new kind is a Backend subclass added here
BACKENDS: dict[str, type[Backend]] = {
    b.kind: b for b in (FlatBackend, HNSWBackend, IVFSQ8Backend, IVFPQOnDiskBackend)
}
KINDS = tuple(BACKENDS)
ALL_KINDS = ("auto", *KINDS)


@dataclass(frozen=True)
class IndexConfig:
    """Tuning knobs; the defaults are the measured ones (see module docstring / bench)."""

    auto_threshold: int = AUTO_THRESHOLD
    auto_kind: str = "ivf-sq8"
    target_recall: float = 0.97  # on held-out stored vectors (see search.index.tune.tune)
    recall_margin: float = 0.01  # tuned to target + margin, verified to target + margin / 2
    recall_sample: int = 500
    recall_k: int = 10
    seed: int = 1234
    ivf_nlist: int | None = None  # default ~4*sqrt(n)
    ivf_train_per_list: int = 40
    ivf_niter: int = 10
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_max_deleted_fraction: float = 0.2
    pq_m: int = 0  # ivfpq-ondisk: bytes per vector (0: d/2, at most 64)
    ondisk_shard: int = 1_000_000  # ivfpq-ondisk: vectors per shard file while building


def set_threads(threads: int) -> None:
    """FAISS OpenMP threads for the whole process (``<= 0``: leave FAISS's default)."""
    if threads > 0:
        faiss.omp_set_num_threads(int(threads))


def build_backend(
    kind: str, ids: np.ndarray, x: np.ndarray, config: IndexConfig
) -> tuple[Backend, int, dict[str, object]]:
    """The back end for a requested kind: ``auto`` picks flat below the threshold, else the
    approximate kind, falling back to flat when its recall target is not met."""
    started = time.perf_counter()
    target = kind
    if kind == "auto":
        target = "flat" if len(ids) < config.auto_threshold else config.auto_kind
    try:
        backend, param, info = make_backend(target, ids, x, config)
    except ValueError as exc:
        raise IndexInputError(f"cannot build a {target} index: {exc}") from exc
    if kind == "auto" and target != "flat" and not info["recall_target_met"]:
        log.warning(
            "auto index: %s recall %.3f < target; using exact flat", target, info["recall_at_k"]
        )
        fallback = f"{target} recall {info['recall_at_k']:.3f} below target"
        backend, param, info = make_backend("flat", ids, x, config)
        info["fallback"] = fallback
    info["build_seconds"] = round(time.perf_counter() - started, 3)
    return backend, param, info


def make_backend(
    kind: str, ids: np.ndarray, x: np.ndarray, config: IndexConfig
) -> tuple[Backend, int, dict[str, object]]:
    """A filled back end of ``kind`` with its tuned search parameter and build facts."""
    n = len(x)
    backend = BACKENDS[kind].create(x, config)
    for start, block in iter_normalized(x):
        backend.add(ids[start : start + len(block)], block)
    info: dict[str, object] = {
        "recall_k": config.recall_k,
        "recall_at_k": 1.0,
        "recall_target_met": True,
        "trained_on": n,
    }
    param = 0
    if kind != "flat" and n > 1:
        start = 2 * config.recall_k if kind == "hnsw" else 1  # efSearch < 2k is rarely useful
        target = backend.target_recall or config.target_recall
        param, recall, trace, tuned = tune(
            backend,
            ids,
            x,
            target=target,
            margin=config.recall_margin,
            sample=config.recall_sample,
            k=config.recall_k,
            seed=config.seed,
            start=start,
        )
        info.update(
            recall_at_k=round(recall, 4),
            recall_tuning=round(tuned, 4),
            recall_sample=min(n // 2 or 1, config.recall_sample),
            recall_trace=trace,
            recall_target_met=recall >= target,
        )
    return backend, param, info


def load_backend(
    kind: str, raw: faiss.Index, extra: dict[str, bytes], config: IndexConfig, path: Path
) -> Backend:
    """Wrap an index read from the file at ``path`` in the back end its header names."""
    if kind not in BACKENDS:
        raise ValueError(f"unknown kind {kind!r}")
    if kind == IVFPQOnDiskBackend.kind:
        return IVFPQOnDiskBackend.open_at(raw, extra, config, path)
    return BACKENDS[kind].from_file(raw, extra, config)


def read_flags(kind: str) -> int:
    """FAISS IO flags for the FAISS section of a file of ``kind``."""
    backend = BACKENDS.get(kind)
    return backend.read_flags if backend is not None else 0
