"""The ``ivfpq-ondisk`` kind at millions of vectors, as a library beyond RAM would use it.

    python -m bench.search --kinds ivfpq-ondisk --sizes 1000000,10000000 --dim 128 [--nlist N]

(``bench/search.py`` hands the ``ivfpq-ondisk`` kind to :func:`bench_ondisk`.) Per size:

* the synthetic clustered vectors of ``bench/search.py`` (``Clusters``, fixed seed) are
  generated in shards of 262 144 rows straight into a float32 file on disk (the "store": never
  whole in RAM), plus fresh queries;
* exact top-10 of the queries by streaming that file through ``exact_topk``;
* build: ``VectorIndex.build`` over the memory-mapped file (trained on a sample, filled in
  shard files, merged into the ``.ivfdata`` file at save), timed, with the building process's
  peak RSS; saved like the library's cache;
* serving: a fresh process loads the index file (the ``.ivfdata`` memory-mapped), then answers
  the queries one at a time as the engine does: 50 candidates from the index, re-scored exactly
  with their vectors read from the store file (``pread``, as SQLite reads), top 10. Printed:
  p50/p99 of that, recall@10 against exact, the serving process's RSS after load and at the
  end (the goal: <= 1.5 GB, p99 <= 50 ms, recall@10 >= 0.9 at 10 M x 128-d, the whitened
  library's searched dimension).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SHARD = 262_144
CANDIDATES = 50  # the engine's candidates per view (search.descriptor.rerank)


def _rss_mb(field: str = "VmRSS") -> float:
    """This process's RSS (``VmHWM``: its peak since it started) in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def make_store(gen: object, n: int, dim: int, path: Path) -> None:
    """``n`` unit float32 rows into ``path`` (a .npy), generated shard by shard."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, dim))
    for start in range(0, n, SHARD):
        m = min(SHARD, n - start)
        block, _ = gen.draw(m, stream=10 + start // SHARD)  # type: ignore[attr-defined]
        out[start : start + m] = block.astype(np.float32)
        out.flush()
    del out


def bench_ondisk(n: int, args: object, clusters: type) -> None:
    """Generate, compute the truth, build, then serve from a fresh process; print figures."""
    from search.index import IndexConfig, IndexStamp, VectorIndex, exact_topk

    dim, nq = args.dim, args.queries  # type: ignore[attr-defined]
    tmp = Path(tempfile.mkdtemp(prefix="imgsearch-ondisk-", dir=args.tmp_dir))  # type: ignore[attr-defined]
    try:
        t0 = time.perf_counter()
        gen = clusters(n, dim, args.seed)  # type: ignore[attr-defined]
        store = tmp / "store.npy"
        make_store(gen, n, dim, store)
        queries = gen.draw(nq, stream=1)[0].astype(np.float32)
        generated = time.perf_counter() - t0
        x = np.load(store, mmap_mode="r")
        t = time.perf_counter()
        _s, truth_rows = exact_topk(queries, x, 10)
        truth_s = time.perf_counter() - t
        ids = np.arange(n, dtype=np.int64) * 7 + 3  # ids are not positions
        np.save(tmp / "queries.npy", queries)
        np.save(tmp / "truth.npy", ids[truth_rows])
        print(
            f"\n# ivfpq-ondisk n={n:,} d={dim}: store of {n * dim * 4 / 2**30:.2f} GB "
            f"written in {generated:.0f} s, exact top-10 of {nq} queries streamed in "
            f"{truth_s:.0f} s; load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        config = IndexConfig(
            ivf_nlist=args.nlist or None,  # type: ignore[attr-defined]
            recall_sample=args.recall_sample,  # type: ignore[attr-defined]
            pq_m=args.pq_bytes,  # type: ignore[attr-defined]
        )
        t = time.perf_counter()
        index = VectorIndex.build(ids, x, "ivfpq-ondisk", config=config)
        built = time.perf_counter() - t
        stamp = IndexStamp("bench", 1, index.ntotal, "synthetic", "", dim, "")
        t = time.perf_counter()
        index.save(tmp / "index.faiss", stamp)
        saved = time.perf_counter() - t
        info = index.info
        del index, x
        peak = _rss_mb("VmHWM")
        files = {p.name: p.stat().st_size for p in tmp.iterdir() if p.name.startswith("index")}
        print(
            f"build {built:.0f} s + save (merge into .ivfdata) {saved:.0f} s; nlist "
            f"{info['nlist']}, nprobe {info['nprobe']} (held-out recall after re-scoring "
            f"{info['recall_at_k']}), {info['pq_bytes']} B codes; files "
            + ", ".join(f"{k} {v / 2**20:.0f} MB" for k, v in sorted(files.items()))
            + f"; builder peak RSS {peak:.0f} MB (includes the store's mapped pages)",
            flush=True,
        )
        out = subprocess.run(
            [sys.executable, "-m", "bench.ondisk", str(tmp), str(n), str(dim)],
            cwd=Path(__file__).resolve().parent.parent,
            capture_output=True,
            text=True,
            check=True,
        )
        served = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"served: p50 {served['p50_ms']:.2f} ms, p99 {served['p99_ms']:.2f} ms "
            f"({CANDIDATES} candidates + exact re-scoring from the store file), recall@10 "
            f"{served['recall_at_10']:.4f} ({4 * CANDIDATES} candidates: "
            f"{served['recall_at_10_200']:.4f}); RSS {served['rss_loaded_mb']:.0f} MB loaded, "
            f"{served['rss_end_mb']:.0f} MB after {served['queries']} queries (peak "
            f"{served['peak_mb']:.0f} MB); load {served['load_seconds']:.1f} s; "
            f"load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def serve(tmp: Path, n: int, dim: int) -> dict[str, float]:
    """In a fresh process: load, answer every query (candidates + exact re-scoring)."""
    from search.index import IndexStamp, VectorIndex, set_threads

    set_threads(1)  # the server's setting: one core per request
    queries, truth = np.load(tmp / "queries.npy"), np.load(tmp / "truth.npy")
    t = time.perf_counter()
    index = VectorIndex.load(
        tmp / "index.faiss", IndexStamp("bench", 1, n, "synthetic", "", dim, "")
    )
    load_s = time.perf_counter() - t
    loaded = _rss_mb()
    fd = os.open(tmp / "store.npy", os.O_RDONLY)
    with open(tmp / "store.npy", "rb") as f:
        np.lib.format.read_magic(f)
        np.lib.format.read_array_header_1_0(f)
        offset = f.tell()
    row = dim * 4
    times, found = [], []
    for q in queries:
        t = time.perf_counter()
        _, cand = index.search(q, CANDIDATES)
        cand = cand[0][cand[0] >= 0]
        rows = (cand - 3) // 7
        vectors = np.stack(
            [np.frombuffer(os.pread(fd, row, offset + int(r) * row), np.float32) for r in rows]
        )
        order = np.argsort(-(vectors @ q), kind="stable")[:10]
        found.append(cand[order])
        times.append((time.perf_counter() - t) * 1000)
    deeper = []  # recall if the engine re-scored 4x more candidates (not timed)
    for q in queries:
        _, cand = index.search(q, 4 * CANDIDATES)
        cand = cand[0][cand[0] >= 0]
        rows = (cand - 3) // 7
        vectors = np.stack(
            [np.frombuffer(os.pread(fd, row, offset + int(r) * row), np.float32) for r in rows]
        )
        deeper.append(cand[np.argsort(-(vectors @ q), kind="stable")[:10]])
    os.close(fd)
    hits = [len(np.intersect1d(f, t)) for f, t in zip(found, truth, strict=True)]
    deep = [len(np.intersect1d(f, t)) for f, t in zip(deeper, truth, strict=True)]
    return {
        "p50_ms": float(np.percentile(times, 50)),
        "p99_ms": float(np.percentile(times, 99)),
        "recall_at_10": float(np.mean(hits)) / 10,
        "recall_at_10_200": float(np.mean(deep)) / 10,
        "rss_loaded_mb": loaded,
        "rss_end_mb": _rss_mb(),
        "peak_mb": _rss_mb("VmHWM"),
        "queries": len(times),
        "load_seconds": load_s,
    }


if __name__ == "__main__":
    print(json.dumps(serve(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))))
