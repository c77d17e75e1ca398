"""End-to-end ``imgsearch index`` throughput next to the embedding engine's own, same run,
and the cost of a library's first run that learns its whitening.

    python bench/index_learning.py [--data DIR] [--rounds 1] [--workers 0] [--batch-size 32]

Baseline: :class:`models.ImageAnalyzer` over the same files (decode pool + ONNX, no hashing,
no database, no FAISS). Measured: a real ``imgsearch index`` subprocess into a fresh library
(walk, diff, read + sha256, decode, embed, SQLite batches, FAISS saves) with the plain
descriptor (``--descriptor plain``: one vector per image) and with the default one (framed
photos get a second vector; from 500 images up the run also learns the library's whitening,
reported apart as a one-off cost), and with ``--descriptor whiten=off`` (frames, no learning).
Rounds alternate baseline and index runs so that load from other processes hits all alike; the
best round of each is compared. Prints img/s, the ratios (goal >= 0.8), and for the first run
with learning against the ``whiten=off`` run: wall time, peak RSS of the process and their
ratios (goals: learning run <= 2x the wall time, peak RSS <= 1 GB), and the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from indexer.scan import scan_collection  # noqa: E402
from models import ImageAnalyzer, OnnxModel, locate_model  # noqa: E402

SETS = ("hymenoptera", "ukbench_subset", "near_duplicates")


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def embed_only(
    model: OnnxModel, files: list[Path], workers: int, batch_size: int
) -> tuple[float, float]:
    """(img/s, img per CPU second) of the analyzer alone."""
    start, cpu = time.perf_counter(), time.process_time()
    with ImageAnalyzer(model, decode_workers=workers, batch_size=batch_size) as analyzer:
        results = list(analyzer.analyze_iter(files))
    took, cpu = time.perf_counter() - start, time.process_time() - cpu
    bad = sum(not hasattr(r, "embedding") for r in results)
    assert len(results) == len(files), "analyzer lost images"
    if bad:
        print(f"  (embed-only: {bad} files failed to decode)")
    return len(files) / took, len(files) / cpu


# The child writes its own peak RSS (VmHWM: of its image since exec; the ru_maxrss of a forked
# child would count this process's memory at the fork).
PEAK = (
    "import atexit, os; atexit.register(lambda: open(os.environ['PEAK_FILE'], 'w').write("
    "next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])); "
)


def index_run(
    roots: list[Path],
    models: Path,
    workers: int,
    batch_size: int,  # type: ignore[type-arg]
    descriptor: str,
) -> dict:
    with tempfile.TemporaryDirectory(prefix="imgsearch-bench-") as tmp:
        cmd = [
            sys.executable,
            "-c",
            PEAK + "from cli.main import main; main()",
            "--library",
            str(Path(tmp) / "library"),
            "--model-path",
            str(models),
            "index",
            "--json",
            "--no-progress",
            "--batch-size",
            str(batch_size),
            "--workers",
            str(workers),
            "--descriptor",
            descriptor,
            *map(str, roots),
        ]
        peak = Path(tmp) / "peak-kib"
        start = time.perf_counter()
        done = subprocess.run(
            cmd,
            cwd=REPO,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO), "PEAK_FILE": str(peak)},
        )
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"imgsearch index failed:\n{done.stderr}")
        summary = json.loads(done.stdout)
        summary["wall_seconds"] = wall
        summary["peak_rss_mb"] = int(peak.read_text()) / 1024
        return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--models", type=Path, default=REPO.parent / "shared" / "models")
    parser.add_argument("--model", default="mobilenet_v3_small_100")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--workers", type=int, default=0, help="0: as the CLI (cores, max 4)")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    workers = args.workers or max(1, min(4, os.cpu_count() or 2))

    roots = [args.data / name for name in SETS if (args.data / name).is_dir()]
    files = [f.path for root in roots for f in scan_collection(root).files]
    for path in files:  # warm the page cache so neither side pays the first read
        path.read_bytes()
    print(
        f"{len(files)} files from {', '.join(r.name for r in roots)}; workers {workers}, "
        f"batch {args.batch_size}; {load_average()}"
    )
    model = OnnxModel(locate_model(args.model, [args.models]))

    embed_rates: list[float] = []
    embed_cpu: list[float] = []
    index_rates: dict[str, list[float]] = {"plain": [], "whiten=off": [], "default": []}
    index_cpu: dict[str, list[float]] = {name: [] for name in index_rates}
    runs: dict[str, list[dict]] = {name: [] for name in index_rates}  # type: ignore[type-arg]
    learned: list[float] = []
    for round_no in range(1, args.rounds + 1):
        rate, per_cpu = embed_only(model, files, workers, args.batch_size)
        embed_rates.append(rate)
        embed_cpu.append(per_cpu)
        print(f"round {round_no}: embed-only      {rate:7.1f} img/s ({per_cpu:.1f} img per CPU s)")
        for descriptor in index_rates:
            summary = index_run(roots, args.models, workers, args.batch_size, descriptor)
            runs[descriptor].append(summary)
            learn = summary.get("learn_seconds", 0.0)
            seconds = summary["seconds"] - learn
            index_rates[descriptor].append(summary["processed"] / seconds)
            cpu = summary["cpu_seconds"] - summary.get("learn_cpu_seconds", 0.0)
            index_cpu[descriptor].append(summary["processed"] / max(1e-9, cpu))
            whole = summary["processed"] / summary["wall_seconds"]
            if learn:
                learned.append(learn)
            print(
                f"round {round_no}: index {descriptor:<10} {index_rates[descriptor][-1]:7.1f} "
                f"img/s (run {seconds:.2f} s; whole command incl. start-up, model load and "
                f"{learn:.1f} s learning the whitening {summary['wall_seconds']:.2f} s = "
                f"{whole:.1f} img/s; peak RSS {summary['peak_rss_mb']:.0f} MB; added "
                f"{summary['added']}, copies {summary['copied']}, failed {summary['failed']})"
            )
            if learn:
                print(f"         {summary['whitening']}")
    best_embed = max(embed_rates)
    for descriptor, rates in index_rates.items():
        ratio = max(rates) / best_embed
        print(
            f"best: embed-only {best_embed:.1f} img/s, index ({descriptor}) {max(rates):.1f} "
            f"img/s, ratio {ratio:.2f} (goal >= 0.80) {'OK' if ratio >= 0.8 else 'BELOW GOAL'}"
        )
    cost = max(index_rates["default"]) / max(index_rates["plain"])
    print(
        f"descriptor cost: default / plain indexing {cost:.2f}"
        + (
            f"; learning the whitening (once per library, again at 4x its size) "
            f"{min(learned):.1f} s"
            if learned
            else ""
        )
    )
    cpu_ratio = max(index_cpu["default"]) / max(embed_cpu)
    print(
        f"CPU cost: embed-only {max(embed_cpu):.1f}, index (default) "
        f"{max(index_cpu['default']):.1f} img per CPU second, ratio {cpu_ratio:.2f} (what the "
        "wall ratio tends to on an idle machine whose cores the pipeline saturates)"
    )
    first_run(runs["whiten=off"], runs["default"])
    print(load_average())


def first_run(off: list[dict], learning: list[dict]) -> None:  # type: ignore[type-arg]
    """The first run of a library that learns its whitening against the same run without
    learning (best wall time of each, the larger peak RSS of each)."""
    if not learning or not learning[0].get("learn_seconds"):
        print("first run with learning: no whitening was learned (fewer than 500 photos?)")
        return
    wall_off = min(s["wall_seconds"] for s in off)
    wall_on = min(s["wall_seconds"] for s in learning)
    rss_off = max(s["peak_rss_mb"] for s in off)
    rss_on = max(s["peak_rss_mb"] for s in learning)
    learn = min(s["learn_seconds"] for s in learning)
    cpu_off = min(s["cpu_seconds"] for s in off)
    cpu_on = min(s["cpu_seconds"] for s in learning)
    ratio = wall_on / wall_off
    print(
        f"first run with learning vs whiten=off: wall {wall_on:.1f} s vs {wall_off:.1f} s, "
        f"ratio {ratio:.2f} (goal <= 2.00) {'OK' if ratio <= 2.0 else 'ABOVE GOAL'}; of it "
        f"learning {learn:.1f} s; CPU of the runs {cpu_on:.1f} s vs {cpu_off:.1f} s, ratio "
        f"{cpu_on / cpu_off:.2f} (what the wall ratio tends to on an idle machine)"
    )
    print(
        f"peak RSS: {rss_on:.0f} MB vs {rss_off:.0f} MB, ratio {rss_on / rss_off:.2f} "
        f"(goal <= 1024 MB) {'OK' if rss_on <= 1024 else 'ABOVE GOAL'}"
    )


if __name__ == "__main__":
    main()
