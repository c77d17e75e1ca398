"""Benchmark dedup on synthetic vectors, and measure the default threshold on real photos.

    python bench/dedup.py [synthetic] [--sizes 10000,100000,1000000] [--dim 1024]
    python bench/dedup.py threshold [--data ../shared/data] [--models ../shared/models] [--model M]
    python bench/dedup.py keepers [--data ../shared/data] [--keeper-rules R]

``synthetic``: clustered unit vectors (a random centroid per cluster of ~100, each cluster
varying in its own 16-d subspace drawn from a pool of 256 directions, plus isotropic noise),
stored as float16 and generated in chunks; 5 % of the rows are then replaced by perturbed
copies of other rows (cosine 0.93-0.98 to their source) and 1 % by exact copies (same vector,
same sha256). For each size: wall time (neighbour provider build + grouping), peak RSS growth
over the run (sampled every 20 ms), recall of the planted near and exact pairs (same group),
false pairs (keeper and member from different planted families) - for our providers (exact
flat kNN, the default up to 5 k vectors, run at 10 k; cell-major IVF, the default above) and
baselines measured in the same run: the naive full n x n similarity matrix (10 k), faiss exact
IndexFlatIP kNN and faiss's own IndexIVFFlat per-query scan over the same cells (both timed on
a query sample and extrapolated to n, marked "est."; skipped at 1 M: float32 copies = 4 GiB).

``threshold``: embeds shared/data near_duplicates (+ UKBench subset and hymenoptera as hard
negatives: different photos of one object / one category) with the default model and prints
pair precision / recall per threshold - the figures behind DEFAULT_DEDUP_THRESHOLD.

``keepers``: in how many clusters of copy sets with known originals ``imgsearch dedup`` keeps
the original (:mod:`bench.dedup_keepers`).
"""

from __future__ import annotations

import argparse
import gc
import sys
import threading
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: put the repository first on the path
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import faiss
import numpy as np
import psutil

from search.dedup import (
    DEFAULT_DEDUP_THRESHOLD,
    FLAT_MAX,
    DedupImage,
    FlatNeighbours,
    IvfNeighbours,
    find_duplicates,
)

ROOT = Path(__file__).resolve().parent.parent
_KEEP_ALIVE: list[faiss.Index] = []


class PeakRss:
    """Peak resident memory above the level at start, sampled in a thread."""

    def __init__(self, interval: float = 0.02) -> None:
        self.proc, self.interval = psutil.Process(), interval

    def __enter__(self) -> PeakRss:
        gc.collect()
        self.base = self.peak = self.proc.memory_info().rss
        self.cpu0 = sum(self.proc.cpu_times()[:2])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)
        self.cpu = sum(self.proc.cpu_times()[:2]) - self.cpu0

    @property
    def mib(self) -> float:
        return (self.peak - self.base) / 2**20


def synthetic(n: int, dim: int, seed: int = 0):
    """float16 unit vectors [n, dim], their DedupImages, planted (src, dst) near and exact."""
    rng = np.random.default_rng(seed)
    n_clusters = max(2, n // 100)
    centres = rng.standard_normal((n_clusters, dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    pool = rng.standard_normal((256, dim), dtype=np.float32)
    pool /= np.linalg.norm(pool, axis=1, keepdims=True)
    subspace = rng.integers(0, 256, (n_clusters, 16))
    x = np.empty((n, dim), dtype=np.float16)
    for start in range(0, n, 16384):
        m = min(16384, n - start)
        c = rng.integers(0, n_clusters, m)
        z = np.zeros((m, 256), dtype=np.float32)  # 16 non-zero weights per row
        z[np.arange(m)[:, None], subspace[c]] = rng.standard_normal((m, 16), dtype=np.float32)
        v = centres[c] + 0.5 * (z @ pool)
        v += rng.standard_normal((m, dim), dtype=np.float32) * (0.6 / np.sqrt(dim))
        x[start : start + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    n_near, n_exact = n // 20, n // 100
    rows = rng.permutation(n)
    src = rows[: n_near + n_exact]
    dst = rows[n_near + n_exact : 2 * (n_near + n_exact)]
    near = np.stack([src[:n_near], dst[:n_near]], axis=1)
    exact = np.stack([src[n_near:], dst[n_near:]], axis=1)
    for start in range(0, n_near, 16384):
        s, d = near[start : start + 16384].T
        u = rng.standard_normal((s.size, dim), dtype=np.float32)
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        amount = rng.uniform(0.2, 0.38, (s.size, 1)).astype(np.float32)
        v = x[s].astype(np.float32) + amount * u
        x[d] = v / np.linalg.norm(v, axis=1, keepdims=True)
    x[exact[:, 1]] = x[exact[:, 0]]
    sha = np.arange(n)
    sha[exact[:, 1]] = exact[:, 0]
    sizes = rng.integers(50_000, 5_000_000, n)
    sides = rng.integers(0, 3, n)
    wh = ((640, 480), (1920, 1080), (4032, 3024))
    images = [
        DedupImage(i, f"/synthetic/{i:07d}.jpg", int(sizes[i]), *wh[sides[i]], f"{sha[i]:x}")
        for i in range(n)
    ]
    family = np.arange(n)
    family[near[:, 1]] = near[:, 0]
    family[exact[:, 1]] = exact[:, 0]
    return x, images, near, exact, family


def scores(result, near: np.ndarray, exact: np.ndarray, family: np.ndarray) -> dict:
    group = np.full(family.size, -1, dtype=np.int64)
    false = 0
    for g_no, g in enumerate(result.groups):
        ids = [im.id for im in g.images]
        group[ids] = g_no
        false += int((family[ids[1:]] != family[ids[0]]).sum())

    def same(pairs: np.ndarray) -> float:
        a, b = group[pairs[:, 0]], group[pairs[:, 1]]
        return float(np.mean((a >= 0) & (a == b))) if pairs.size else 1.0

    return {"near": same(near), "exact": same(exact), "false": false, "groups": len(result.groups)}


def run_dedup(label: str, make_provider, x, images, planted) -> tuple[dict, object]:
    with PeakRss() as rss:
        t0 = time.perf_counter()
        provider = make_provider()
        t1 = time.perf_counter()
        result = find_duplicates(images, x, neighbours=provider)
        t2 = time.perf_counter()
    row = {
        "method": label,
        "build": t1 - t0,
        "group": t2 - t1,
        "total": t2 - t0,
        "cpu": rss.cpu,
        "rss": rss.mib,
        **scores(result, *planted),
    }
    return row, provider


def sampled(label: str, index_factory, x, sample: int, k: int = 17) -> dict:
    """Time an exact/faiss-IVF kNN on ``sample`` queries and extrapolate to all n."""
    n = x.shape[0]
    with PeakRss() as rss:
        t0, c0 = time.perf_counter(), time.process_time()
        index = index_factory()
        t1, c1 = time.perf_counter(), time.process_time()
        rows = np.random.default_rng(1).choice(n, min(sample, n), replace=False)
        index.search(np.ascontiguousarray(x[rows], dtype=np.float32), k)
        t2, c2 = time.perf_counter(), time.process_time()
    scale = n / rows.size
    return {
        "method": label + (" (est.)" if scale > 1 else ""),
        "build": t1 - t0,
        "group": (t2 - t1) * scale,
        "total": t1 - t0 + (t2 - t1) * scale,
        "cpu": c1 - c0 + (c2 - c1) * scale,
        "rss": rss.mib,
        "near": None,
        "exact": None,
        "false": None,
        "groups": None,
    }


def faiss_flat(x: np.ndarray) -> faiss.Index:
    index = faiss.IndexFlatIP(x.shape[1])
    for start in range(0, x.shape[0], 65536):
        index.add(np.ascontiguousarray(x[start : start + 65536], dtype=np.float32))
    return index


def faiss_ivf(x: np.ndarray, ours: IvfNeighbours) -> faiss.Index:
    """faiss IndexIVFFlat over exactly our cells (same PCA + centroids), per-query scan."""
    centroids = faiss.IndexFlatIP(ours.quantizer.d)
    centroids.add(ours.quantizer.reconstruct_n(0, ours.nlist))
    quantizer = faiss.IndexPreTransform(faiss.NormalizationTransform(ours.quantizer.d), centroids)
    if ours.pca is not None:
        quantizer.prepend_transform(ours.pca)
    index = faiss.IndexIVFFlat(quantizer, x.shape[1], ours.nlist, faiss.METRIC_INNER_PRODUCT)
    index.is_trained = True
    for start in range(0, x.shape[0], 65536):
        index.add(np.ascontiguousarray(x[start : start + 65536], dtype=np.float32))
    index.nprobe = ours.nprobe
    _KEEP_ALIVE.extend([centroids, quantizer])  # the index does not own Python-made parts
    return index


def naive_matrix(x: np.ndarray, threshold: float) -> dict:
    with PeakRss() as rss:
        t0 = time.perf_counter()
        xf = x.astype(np.float32)
        sims = xf @ xf.T
        a, _ = np.nonzero(np.triu(sims, 1) >= threshold)
        t1 = time.perf_counter()
    del sims
    return {
        "method": f"naive n x n matrix ({a.size} pairs)",
        "build": 0.0,
        "group": t1 - t0,
        "total": t1 - t0,
        "cpu": rss.cpu,
        "rss": rss.mib,
        "near": None,
        "exact": None,
        "false": None,
        "groups": None,
    }


def bench_size(n: int, dim: int) -> list[dict]:
    t0 = time.perf_counter()
    x, images, near, exact, family = synthetic(n, dim)
    print(
        f"# n={n}: generated {x.nbytes / 2**20:.0f} MiB float16 in "
        f"{time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    planted = (near, exact, family)
    rows = []
    if n <= 10_000:
        row, provider = run_dedup(
            "flat provider (exact)", lambda: FlatNeighbours(x), x, images, planted
        )
        rows += [row, naive_matrix(x, DEFAULT_DEDUP_THRESHOLD)]
    kind = "default" if n > FLAT_MAX else "not default here"
    row, provider = run_dedup(
        f"ivf provider ({kind})", lambda: IvfNeighbours(x), x, images, planted
    )
    rows.append(row)
    if n <= 100_000:  # these baselines copy the data to float32: 4 GiB at 1 M, too much here
        rows.append(
            sampled("faiss IndexIVFFlat per-query scan", lambda: faiss_ivf(x, provider), x, 5000)
        )
        rows.append(
            sampled(
                "faiss IndexFlatIP exact kNN", lambda: faiss_flat(x), x, n if n <= 10_000 else 2000
            )
        )
    return rows


def bench_synthetic(sizes: list[int], dim: int) -> None:
    print(
        f"threshold {DEFAULT_DEDUP_THRESHOLD}, dim {dim}, faiss threads "
        f"{faiss.omp_get_max_threads()}, cpus {psutil.cpu_count()}"
    )
    columns = (
        ("n", 8, "d"),
        ("method", -42, "s"),
        ("build s", 8, ".1f"),
        ("group s", 8, ".1f"),
        ("total s", 8, ".1f"),
        ("cpu s", 7, ".1f"),
        ("peak MiB", 9, ".0f"),
        ("B/vec", 6, ".0f"),
        ("near rec", 8, ".4f"),
        ("exact rec", 9, ".4f"),
        ("false", 6, "d"),
        ("groups", 7, "d"),
    )

    def line(values: list) -> str:
        cells = []
        for (_, width, spec), v in zip(columns, values, strict=True):
            text = "-" if v is None else format(v, spec if spec != "s" else "")
            cells.append(text.ljust(-width) if width < 0 else text.rjust(width))
        return " ".join(cells)

    print(" ".join(h.ljust(-w) if w < 0 else h.rjust(w) for h, w, _ in columns))
    for n in sizes:
        for r in bench_size(n, dim):
            print(
                line(
                    [
                        n,
                        r["method"],
                        r["build"],
                        r["group"],
                        r["total"],
                        r["cpu"],
                        r["rss"],
                        r["rss"] * 2**20 / n,
                        r["near"],
                        r["exact"],
                        r["false"],
                        r["groups"],
                    ]
                ),
                flush=True,
            )
        gc.collect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "mode", nargs="?", choices=("synthetic", "threshold", "keepers"), default="synthetic"
    )
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--models", type=Path, default=ROOT.parent / "shared" / "models")
    parser.add_argument("--model", default=None, help="model name (threshold mode; default model)")
    parser.add_argument("--keeper-rules", default=None, help="keepers mode: dedup's rule order")
    args = parser.parse_args()
    if args.mode == "keepers":
        from bench.dedup_keepers import main as keepers

        keepers(args.data, args.models, args.keeper_rules)
    elif args.mode == "threshold":
        from bench.dedup_threshold import main as threshold

        threshold(args.data, args.models, args.model)
    else:
        bench_synthetic([int(s) for s in args.sizes.split(",") if s], args.dim)


if __name__ == "__main__":
    main()
