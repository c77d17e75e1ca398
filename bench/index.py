"""Whole-process ``imgsearch index`` against the machine's limit, measured in the same run.

    python bench/index.py [--data ../shared/data] [--rounds 3] [--big 40]

The limit is ``bench/limit.py``: decode (Pillow JPEG draft to 224, 2 threads) + the same ONNX
model in batches of 32 with spinning threads off, and nothing else. Both run as whole
processes, timed from here (wall from spawn to exit; CPU = the child's user + system time from
``wait4``), on two sets: the 398 hymenoptera photos (web size) and ``--big`` 12 MP JPEGs made
in a temp folder from them. ``imgsearch index`` indexes into a fresh library with
``--descriptor whiten=off`` (the default descriptor - frames, labels, turned views - less the
whitening, which a library learns once from 100 photos up: ``bench/index_learning.py``
measures that first run) and ``-v``, whose log says when the first file went to the decoders
(start-up); the same command then runs again over the unchanged library (the re-run's
wall and CPU are printed). Rounds alternate limit and index
so that load from other processes hits both alike; the best round of each is compared.
Goals: CPU <= 1.2x the limit's, speed (limit wall / index wall) >= 0.8, start-up <= 0.5 s.

``--baseline-threads`` also runs ``IMGSEARCH_DECODE_PROCESSES=0 imgsearch index`` each round
(decode threads in one process, not worker processes: :mod:`indexer.processes`).

``--descriptor default`` measures the first run of a new library as a user gets it (it learns
the whitening from 100 photos up). ``--baseline-workers 2`` also runs ``imgsearch index
--workers 2`` each round (two decoders from the start: the fixed count before the paced
decode pool, :class:`models.DecodePool`) and prints default / fixed CPU and wall.

    python bench/index.py --executor dask-local [--cluster-workers 2] [--rounds 3]
    python bench/index.py --executor dask://HOST:PORT

compares ``imgsearch index`` run locally with the same command sent to a Dask cluster
(``dask-local``: a ``LocalCluster`` of ``--cluster-workers`` processes of one thread each,
started here; both with ``--descriptor whiten=off`` so that neither learns a whitening) on the
hymenoptera photos, rounds alternating: throughput ratio (cluster / local) and the overhead per
image (extra wall, and extra CPU of client + workers, per image).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parent.parent
# bench/http.py would shadow the standard library's http for Dask (and its worker processes)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]
LIMIT = REPO / "bench" / "limit.py"
MODEL_FILE = "mobilenet_v3_small_100_224.onnx"
STARTED = re.compile(
    r"first file goes to the decoders ([0-9.]+) s after the process started "
    r"\(([0-9.]+) s CPU, ([0-9.]+) s of it on this thread\)"
)


@dataclass
class Run:
    wall: float
    cpu: float
    rss_mb: float
    images: int
    startup: float | None = None  # wall seconds from the process start to the first decode
    startup_cpu: float | None = None  # and the process's CPU seconds by then
    startup_main: float | None = None  # of which the main thread's (the critical path)
    run_wall: float = 0.0  # without start-up: the limit's decode loop, index's own run
    run_cpu: float = 0.0
    summary: dict | None = None  # type: ignore[type-arg]
    rerun: Run | None = None  # the same command again over the unchanged library


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def run_process(cmd: list[str], env: dict[str, str] | None = None) -> tuple[Run, str, str]:
    """Run ``cmd`` as a whole process: wall from spawn to exit, its CPU (its children's that
    it waited for included: index's worker processes) and peak RSS."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        child = subprocess.Popen(
            cmd,
            cwd=REPO,
            stdout=out,
            stderr=err,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        )
        _pid, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed:\n{stderr[-3000:]}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, 0), stdout, stderr


def limit_run(models: Path, folders: list[Path]) -> Run:
    run, stdout, _err = run_process(
        [sys.executable, str(LIMIT), str(models / MODEL_FILE), *map(str, folders)]
    )
    figures = json.loads(stdout)
    run.images, run.run_wall, run.run_cpu = (
        figures["images"],
        figures["run_seconds"],
        figures["run_cpu_seconds"],
    )
    return run


def imgsearch_command() -> list[str]:
    """The installed console script when there is one (what a user runs), else the module."""
    script = Path(sys.executable).with_name("imgsearch")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from cli.main import main; main()"]


def index_run(
    models: Path,
    folders: list[Path],
    descriptor: str = "whiten=off",
    extra: list[str] | None = None,
    rerun: bool = False,
    env: dict[str, str] | None = None,
) -> Run:
    with tempfile.TemporaryDirectory(prefix="imgsearch-bench-") as tmp:
        cmd = [
            *imgsearch_command(),
            "-v",
            "--library",
            str(Path(tmp) / "library"),
            "--model-path",
            str(models),
            "index",
            "--json",
            "--no-progress",
            "--descriptor",
            descriptor,
            *(extra or []),
            *map(str, folders),
        ]
        run, stdout, stderr = run_process(cmd, env)
        if rerun:
            run.rerun, _out, _err = run_process(cmd, env)
    run.summary = json.loads(stdout)
    run.images = run.summary["processed"]
    run.run_wall, run.run_cpu = run.summary["seconds"], run.summary["cpu_seconds"]
    found = STARTED.search(stderr)
    if found:
        run.startup, run.startup_cpu, run.startup_main = map(float, found.groups())
    return run


def worker_cpu(client: object) -> float:
    """CPU seconds used so far by the cluster's worker processes (all of them)."""

    def cpu() -> float:
        times = os.times()
        return times.user + times.system

    return sum(client.run(cpu).values())  # type: ignore[attr-defined]


def cluster_bench(args: argparse.Namespace, folders: list[Path]) -> None:
    """Local ``imgsearch index`` vs the same on a Dask cluster, best of ``--rounds``."""
    from distributed import Client, LocalCluster

    cluster = None
    if args.executor == "dask-local":
        cluster = LocalCluster(
            n_workers=args.cluster_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        address = cluster.scheduler_address
    else:
        address = "tcp://" + args.executor.removeprefix("dask://").removeprefix("tcp://")
    client = Client(address)
    extra = ["--executor", "dask://" + address.removeprefix("tcp://")]
    print(f"cluster {address}: {sum(client.nthreads().values())} worker threads; {load_average()}")
    local: list[Run] = []
    remote: list[tuple[Run, float]] = []
    try:
        for round_no in range(1, args.rounds + 1):
            mine = index_run(args.models, folders, "whiten=off")
            before = worker_cpu(client)
            theirs = index_run(args.models, folders, "whiten=off", extra)
            workers = worker_cpu(client) - before
            local.append(mine)
            remote.append((theirs, workers))
            print(
                f"round {round_no}: local {mine.wall:.2f} s wall, {mine.cpu:.2f} s CPU; "
                f"cluster {theirs.wall:.2f} s wall, client {theirs.cpu:.2f} s CPU + workers "
                f"{workers:.2f} s CPU ({mine.images} images); {load_average()}"
            )
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    best_local = min(local, key=lambda r: r.wall)
    best_remote, workers = min(remote, key=lambda r: r[0].wall)
    images = best_local.images
    ratio = best_local.wall / best_remote.wall
    in_run = best_local.run_wall / best_remote.run_wall
    extra_wall = (best_remote.wall - best_local.wall) / images * 1000
    extra_cpu = (best_remote.cpu + workers - best_local.cpu) / images * 1000
    print(
        f"best: local {best_local.wall:.2f} s ({images / best_local.wall:.0f} img/s), cluster "
        f"{best_remote.wall:.2f} s ({images / best_remote.wall:.0f} img/s): throughput ratio "
        f"cluster / local {ratio:.2f} (in-run {in_run:.2f}); overhead per image "
        f"{extra_wall:+.2f} ms wall, {extra_cpu:+.2f} ms CPU (client + workers vs local)"
    )


def make_big(sources: list[Path], count: int, directory: Path) -> list[Path]:
    """``count`` 4000x3000 JPEGs (quality 90) upscaled from ``sources``."""
    out = []
    for i in range(count):
        with Image.open(sources[(i * 7) % len(sources)]) as im:
            big = im.convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC)
        path = directory / f"big_{i:03d}.jpg"
        big.save(path, quality=90)
        out.append(path)
    return out


def baseline_name(args: argparse.Namespace) -> str:
    said = [f"--workers {args.baseline_workers}"] if args.baseline_workers else []
    return " ".join(said + (["IMGSEARCH_DECODE_PROCESSES=0"] if args.baseline_threads else []))


def compare(name: str, limits: list[Run], indexes: list[Run]) -> None:
    lim_cpu, idx_cpu = min(r.cpu for r in limits), min(r.cpu for r in indexes)
    lim_wall, idx_wall = min(r.wall for r in limits), min(r.wall for r in indexes)
    images = indexes[0].images
    cpu_ratio, speed = idx_cpu / lim_cpu, lim_wall / idx_wall
    in_cpu = min(r.run_cpu for r in indexes) / min(r.run_cpu for r in limits)
    in_speed = min(r.run_wall for r in limits) / min(r.run_wall for r in indexes)
    startups = [r.startup for r in indexes if r.startup is not None]
    startup_cpu = min((r.startup_cpu for r in indexes if r.startup_cpu is not None), default=0)
    startup_main = min((r.startup_main for r in indexes if r.startup_main is not None), default=0)
    print(
        f"best {name}: limit {lim_wall:.2f} s wall, {lim_cpu:.2f} s CPU "
        f"({images / lim_wall:.0f} img/s); imgsearch index {idx_wall:.2f} s wall, "
        f"{idx_cpu:.2f} s CPU ({images / idx_wall:.0f} img/s)"
    )
    print(
        f"  CPU ratio {cpu_ratio:.2f} (goal <= 1.20) {'OK' if cpu_ratio <= 1.2 else 'ABOVE'}; "
        f"speed ratio {speed:.2f} (goal >= 0.80) {'OK' if speed >= 0.8 else 'BELOW'}"
        + (
            f"; start-up to the first decode {min(startups):.2f} s (goal <= 0.50 s) "
            f"{'OK' if min(startups) <= 0.5 else 'ABOVE'}, by then {startup_cpu:.2f} s CPU, "
            f"{startup_main:.2f} s on the main thread (what an idle machine waits)"
            if startups
            else ""
        )
    )
    print(
        f"  without start-up (the limit's decode loop, the index run itself): CPU ratio "
        f"{in_cpu:.2f}, speed ratio {in_speed:.2f}"
    )
    reruns = [r.rerun for r in indexes if r.rerun is not None]
    if reruns:
        print(
            f"  re-run over the unchanged library: {min(r.wall for r in reruns):.2f} s wall, "
            f"{min(r.cpu for r in reruns):.2f} s CPU (best)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--models", type=Path, default=REPO.parent / "shared" / "models")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--big", type=int, default=40, help="number of 12 MP JPEGs (0: none)")
    parser.add_argument(
        "--descriptor",
        default="whiten=off",
        help="imgsearch index --descriptor (default: whiten=off, nothing learned)",
    )
    parser.add_argument(
        "--executor", default=None, help="dask-local or dask://HOST:PORT: local vs cluster"
    )
    parser.add_argument("--cluster-workers", type=int, default=2)
    parser.add_argument(
        "--baseline-workers",
        type=int,
        default=0,
        help="also run `imgsearch index --workers N` each round (N decoders from the start, "
        "as before the paced decode pool) and print default / fixed",
    )
    parser.add_argument(
        "--baseline-threads",
        action="store_true",
        help="also run `imgsearch index` with IMGSEARCH_DECODE_PROCESSES=0 each round (decode "
        "threads in one process, as before the worker processes) and print default / threads",
    )
    args = parser.parse_args()
    web = args.data / "hymenoptera"
    if args.executor:
        for path in (p for p in web.rglob("*") if p.is_file()):
            path.read_bytes()
        cluster_bench(args, [web])
        print(load_average())
        return
    photos = sum(1 for p in web.rglob("*") if p.is_file() and p.suffix != ".json")
    sets = {f"hymenoptera ({photos} photos)": [web]}
    tmp = Path(tempfile.mkdtemp(prefix="imgsearch-bench-big-"))
    try:
        if args.big:
            make_big(sorted(web.rglob("*.jpg")), args.big, tmp)
            sets[f"{args.big} x 12 MP JPEG"] = [tmp]
        for folders in sets.values():  # warm the page cache so neither side pays a first read
            for path in (p for f in folders for p in f.rglob("*") if p.is_file()):
                path.read_bytes()
        # An installed imgsearch runs from byte code (pip compiles site-packages; an editable
        # install writes it on first use) - unless PYTHONDONTWRITEBYTECODE is set, as on this
        # project's machines: then every run would compile ~60 modules again (~0.2 s CPU).
        for package in ("cli", "indexer", "models", "search", "web", "migrations"):
            compileall.compile_dir(REPO / package, quiet=1)
        print(f"{load_average()}; {args.rounds} rounds; --descriptor {args.descriptor}")
        results: dict[str, tuple[list[Run], list[Run], list[Run]]] = {s: ([], [], []) for s in sets}
        fixed = ["--workers", str(args.baseline_workers)]
        for round_no in range(1, args.rounds + 1):
            for name, folders in sets.items():
                limit = limit_run(args.models, folders)
                index = index_run(args.models, folders, args.descriptor, rerun=True)
                results[name][0].append(limit)
                results[name][1].append(index)
                if args.baseline_workers or args.baseline_threads:
                    base = index_run(
                        args.models,
                        folders,
                        args.descriptor,
                        fixed if args.baseline_workers else None,
                        env={"IMGSEARCH_DECODE_PROCESSES": "0"} if args.baseline_threads else None,
                    )
                    results[name][2].append(base)
                    print(
                        f"round {round_no} {name}: baseline {baseline_name(args)} "
                        f"{base.wall:.2f} s / {base.cpu:.2f} s CPU"
                    )
                print(
                    f"round {round_no} {name}: limit {limit.wall:.2f} s / {limit.cpu:.2f} s "
                    f"CPU ({limit.images} images); index {index.wall:.2f} s / {index.cpu:.2f} "
                    f"s CPU (in-run {index.summary['seconds']:.2f} s / "  # type: ignore[index]
                    f"{index.summary['cpu_seconds']:.2f} s CPU; first decode after "  # type: ignore[index]
                    f"{index.startup} s, {index.startup_cpu} s CPU, main thread "
                    f"{index.startup_main} s; "
                    f"{index.images} images); re-run over the unchanged library "
                    f"{index.rerun.wall:.2f} s / {index.rerun.cpu:.2f} s CPU; "  # type: ignore[union-attr]
                    f"{load_average()}"
                )
        for name, (limits, indexes, bases) in results.items():
            compare(name, limits, indexes)
            if bases:
                print(
                    f"  default against {baseline_name(args)} (best of each): "
                    f"CPU {min(r.cpu for r in indexes):.2f} / {min(r.cpu for r in bases):.2f} s "
                    f"= {min(r.cpu for r in indexes) / min(r.cpu for r in bases):.2f}, wall "
                    f"{min(r.wall for r in indexes):.2f} / {min(r.wall for r in bases):.2f} s = "
                    f"{min(r.wall for r in indexes) / min(r.wall for r in bases):.2f}"
                )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(load_average())


if __name__ == "__main__":
    main()
