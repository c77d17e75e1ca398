"""Figures of the explore stage (clusters, outliers, map), through real libraries and at scale.

    python bench/explore.py [--data ../shared/data] [--models ../shared/models] [--only PART]

Parts (``--only``, comma-separated; default all):

- ``ukbench``: ``imgsearch clusters --json`` (density, and k-means with k = 14) on
  ukbench_subset: adjusted Rand index against the 14 groups of four (each distractor its own
  group, noise points each alone) and how many of the 10 distractors are left as noise.
- ``hymenoptera``: ants/bees purity of k-means k = 2 and of density (clustered images only,
  and the share left as noise); then 20 generated foreign images (documents, noise, flat
  colour, screenshots of text) are indexed into the same library and ``imgsearch outliers``
  ranks all: AUROC of the score and how many of the top 20 are planted.
- ``shared``: ``imgsearch clusters --json`` (density) on one library of all of ../shared/data
  (509 photos), against the previous rule (no cap on a group's size) on the same k-NN graph:
  group sizes, the largest group's share of the library, unclustered images, and how pure
  the groups of ants and bees are (ants or bees, by folder).
- ``synthetic``: 100 k clustered 1024-d unit vectors through the real ``Explorer`` (a stand-in
  store); density clusters, k-means, outliers and the PCA map each in a fresh process (what
  the first request of a generation costs), then all four in one process (sharing the
  vectors, their PCA and the k-NN graph, as a running server does): wall seconds, peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

if __package__ in (None, ""):
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

REPO = Path(__file__).resolve().parent.parent
ENTRY = [sys.executable, "-c", "from cli.main import main; main()"]


def imgsearch(library: Path, models: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMGSEARCH_")}
    env["PYTHONPATH"] = str(REPO)
    cmd = [*ENTRY, "--library", str(library), "--model-path", str(models), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode:
        raise SystemExit(f"imgsearch {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def adjusted_rand(truth: list[int], found: list[int]) -> float:
    """Adjusted Rand index of two labelings (Hubert & Arabie)."""
    t = np.unique(truth, return_inverse=True)[1]
    f = np.unique(found, return_inverse=True)[1]
    table = np.zeros((t.max() + 1, f.max() + 1))
    np.add.at(table, (t, f), 1)

    def pairs(x: np.ndarray) -> float:
        return float((x * (x - 1) / 2).sum())

    index, a, b = pairs(table), pairs(table.sum(1)), pairs(table.sum(0))
    n = pairs(np.array([len(t)]))
    expected = a * b / n
    return (index - expected) / ((a + b) / 2 - expected)


def cluster_of(result: dict) -> dict[str, int]:
    """path -> cluster (noise: a negative number of its own)."""
    out = {}
    for c in result["clusters"]:
        for m in c["members"]:
            out[m["path"]] = c["id"]
    for i, m in enumerate(result["noise"]):
        out[m["path"]] = -1 - i
    return out


def bench_ukbench(data: Path, models: Path, work: Path) -> None:
    library = work / "ukbench"
    imgsearch(library, models, "index", str(data / "ukbench_subset"), "--no-progress")
    for args in (["--method", "density"], ["--method", "kmeans", "--k", "14"]):
        result = json.loads(imgsearch(library, models, "clusters", "--json", *args))
        found = cluster_of(result)
        names = sorted(found)
        truth = []
        for i, path in enumerate(names):
            number = int(Path(path).name[7:12])
            truth.append(number // 4 if number < 56 else 1000 + i)
        ari = adjusted_rand(truth, [found[p] for p in names])
        noise = sum(1 for p in names if found[p] < 0 and int(Path(p).name[7:12]) >= 56)
        wrong = sum(1 for p in names if found[p] < 0 and int(Path(p).name[7:12]) < 56)
        print(
            f"ukbench {args[1]:8s}: {len(result['clusters'])} clusters, ARI {ari:.3f}, "
            f"distractors left as noise {noise}/10, group images left as noise {wrong}/56"
        )


def purity(result: dict, label_of: dict[str, str]) -> tuple[float, int, int]:
    right = total = 0
    for c in result["clusters"]:
        names = [label_of[m["path"]] for m in c["members"] if m["path"] in label_of]
        if names:
            right += max(names.count("ants"), names.count("bees"))
            total += len(names)
    noise = sum(1 for m in result["noise"] if m["path"] in label_of)
    return right / max(total, 1), total, noise


def bench_hymenoptera(data: Path, models: Path, work: Path) -> None:
    from search.evaluation import write_foreign

    root = data / "hymenoptera"
    truth = json.loads((root / "ground_truth.json").read_text())
    base = root / "images" if (root / "images").is_dir() else root
    label_of = {str((base / it["path"]).resolve()): it["label"] for it in truth["items"]}
    library = work / "hym"
    imgsearch(library, models, "index", str(root), "--no-progress")
    for args in (["--method", "kmeans", "--k", "2"], ["--method", "density"]):
        result = json.loads(imgsearch(library, models, "clusters", "--json", *args))
        p, total, noise = purity(result, label_of)
        print(
            f"hymenoptera {args[1]:8s}: {len(result['clusters'])} clusters, purity {p:.3f} "
            f"over {total} clustered images, {noise} left as noise"
        )
    planted = {str(p.resolve()) for p in write_foreign(work / "foreign", 20, seed=0)}
    imgsearch(library, models, "index", str(work / "foreign"), "--no-progress")
    ranked = json.loads(imgsearch(library, models, "outliers", "-n", "100000", "--json"))
    rows = ranked["outliers"]
    scores = np.array([r["score"] for r in rows])
    is_planted = np.array([str(Path(r["path"]).resolve()) in planted for r in rows])
    pos, neg = scores[is_planted], scores[~is_planted]
    auroc = float(((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])).mean())
    top = int(is_planted[:20].sum())
    print(
        f"outliers (398 photos + {len(pos)} planted): AUROC {auroc:.3f}, planted in the top 20: "
        f"{top}/20; lowest planted rank {int(np.flatnonzero(is_planted).max()) + 1}"
    )


def bench_shared(data: Path, models: Path, work: Path) -> None:
    from search.explore import density_labels
    from search.explore.clusters import MAX_SHARE, _renumbered
    from search.explore.service import DENSITY_K
    from search.query import SearchEngine
    from search.settings import Settings

    library = work / "shared"
    imgsearch(library, models, "index", str(data), "--no-progress", "--descriptor", "whiten=off")
    result = json.loads(imgsearch(library, models, "clusters", "--json"))
    engine = SearchEngine.open(Settings(library=library, model_path=str(models)))
    try:
        ids, graph = engine.explore.graph()
        path_of = {int(m["id"]): m["path"] for c in result["clusters"] for m in c["members"]}
        path_of.update({int(m["id"]): m["path"] for m in result["noise"]})
    finally:
        engine.close()
    paths = set(path_of.values())
    nb, dist = graph.neighbours[:, :DENSITY_K], graph.distances[:, :DENSITY_K]
    before = _renumbered(density_labels(nb, dist, 4, 3)[0])
    groups = {
        "before (no cap)": [
            [path_of[int(ids[r])] for r in np.flatnonzero(before == c)]
            for c in range(int(before.max()) + 1)
        ],
        f"now (at most {MAX_SHARE:.0%})": [
            [m["path"] for m in c["members"]] for c in result["clusters"]
        ],
    }
    for name, found in groups.items():
        sizes = [len(g) for g in found]
        insects = [g for g in found if all("/hymenoptera/" in p for p in g)]
        kinds = [[Path(p).parent.name for p in g] for g in insects]
        pure = sum(max(k.count("ants"), k.count("bees")) for k in kinds)
        print(
            f"shared {name:16s}: {len(sizes)} groups {sizes}, largest {sizes[0] / len(paths):.0%} "
            f"of {len(paths)}, {len(paths) - sum(sizes)} unclustered; ants/bees groups "
            f"{len(insects)}, purity {pure / max(1, sum(map(len, kinds))):.3f}"
        )


def synthetic_vectors(n: int, dim: int = 1024, seed: int = 0) -> np.ndarray:
    """Clustered unit vectors: 500 centres, each cluster in its own 16-d subspace + noise."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((500, dim)).astype(np.float32)
    out = np.empty((n, dim), np.float32)
    for start in range(0, n, 10_000):
        m = min(10_000, n - start)
        which = rng.integers(0, 500, m)
        basis = rng.standard_normal((16, dim)).astype(np.float32)
        out[start : start + m] = (
            centres[which]
            + 0.6 * rng.standard_normal((m, 16)).astype(np.float32) @ basis
            + 0.3 * rng.standard_normal((m, dim)).astype(np.float32)
        )
    return out / np.linalg.norm(out, axis=1, keepdims=True)


class SyntheticStore:
    """Just what :class:`search.explore.Explorer` reads from a store, over given vectors."""

    library_id = "synthetic"

    def __init__(self, x: np.ndarray) -> None:
        self.x = x
        self.reads = SimpleNamespace(paths_and_labels=lambda max_rank=3: {})

    def model_stamp(self) -> SimpleNamespace:
        return SimpleNamespace(name="synthetic", dimension=self.x.shape[1])

    def generation(self) -> int:
        return 1

    def vector_count(self) -> int:
        return len(self.x)

    def iter_vectors(self, chunk: int = 20_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for start in range(0, len(self.x), chunk):
            rows = self.x[start : start + chunk]
            yield np.arange(start, start + len(rows), dtype=np.int64) + 1, rows


def one_synthetic(task: str, n: int) -> None:
    """One task through the real Explorer (a fresh process, an empty cache: what the first
    request of a generation costs); ``all``: every task in turn, sharing what a generation
    shares (the vectors, their PCA, the k-NN graph)."""
    from search.explore import Explorer

    x = synthetic_vectors(n)
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        explorer = Explorer(SyntheticStore(x), Path(tmp))  # type: ignore[arg-type]
        del x
        start = time.perf_counter()
        for part in ("density", "kmeans", "outliers", "map") if task == "all" else (task,):
            began = time.perf_counter()
            if part == "map":
                explorer.library_map()  # above 20 000 images: before the clusters
            elif part == "outliers":
                explorer.outliers(20)
            else:
                _, labels, _ = explorer.labels(part)
                noise = int((labels < 0).sum())
                print(f"    {part}: {labels.max() + 1} clusters, {noise} noise", flush=True)
            figures[part] = round(time.perf_counter() - began, 1)
        seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"task": task, "seconds": seconds, "peak_mb": peak, "parts": figures}))


def bench_synthetic(n: int) -> None:
    load = os.getloadavg()[0]
    for task in ("density", "kmeans", "outliers", "map", "all"):
        out = subprocess.run(
            [sys.executable, __file__, "--one", task, "--n", str(n)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        figures = json.loads(out.strip().splitlines()[-1])
        extra = " ".join(line.strip() for line in out.strip().splitlines()[:-1])
        parts = f" {figures['parts']}" if task == "all" else ""
        print(
            f"synthetic {n} x 1024 {task:8s}: {figures['seconds']:6.1f} s, peak RSS "
            f"{figures['peak_mb']:.0f} MB (vectors alone: {n * 4096 / 2**20:.0f} MB){parts} "
            f"{extra}",
            flush=True,
        )
    print(f"load average at start {load:.1f}, now {os.getloadavg()[0]:.1f} (2 cores)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--models", type=Path, default=REPO.parent / "shared" / "models")
    parser.add_argument("--only", default="ukbench,hymenoptera,shared,synthetic")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one_synthetic(args.one, args.n)
        return
    parts = args.only.split(",")
    print(f"load average {os.getloadavg()[0]:.1f} (2 cores)")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if "ukbench" in parts:
            bench_ukbench(args.data.resolve(), args.models.resolve(), work)
        if "hymenoptera" in parts:
            bench_hymenoptera(args.data.resolve(), args.models.resolve(), work)
        if "shared" in parts:
            bench_shared(args.data.resolve(), args.models.resolve(), work)
    if "synthetic" in parts:
        bench_synthetic(args.n)


if __name__ == "__main__":
    main()
