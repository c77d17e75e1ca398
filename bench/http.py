"""HTTP search latency of ``imgsearch serve``: sequential, concurrent, and during an index run.

    python -m bench.http [--sizes 10000,100000] [--requests 300] [--clients 8]
                         [--no-index-phase] [--no-attacks] [--upright-first]
                         [--work-dir DIR] [--keep] [--key-points first-visit|kept]
                         [--attacks-only] [--slow 300] [--hostile-rounds 2]

A library of all the shared photos (``../shared/data``: 509 files; whitening learned) is built
with ``imgsearch index`` in a scratch directory, then served by ``imgsearch serve`` (a separate
process, waitress, 127.0.0.1 only). Each query uploads a 500 px JPEG (``POST /api/v1/search``,
multipart, k=10) made at start from a seeded sample of the shared photos (shrunk to 500 px on
the longer side and re-encoded: a copy of a library photo, the common case of a search). For
each size a COPY of that library gets synthetic vectors (clustered around the real embeddings,
stored as ordinary image rows) up to the size; the user's libraries are never touched.

Printed per scenario: requests, errors, p50 / p90 / p99 / max latency, throughput, and
in-process baselines measured on the same library just before (the same queries, one process,
alternating per query): ``engine`` = ``SearchEngine.query_image`` as the server runs it (every
view of every query, or with ``--upright-first`` the served setting IMGSEARCH_UPRIGHT_FIRST=1:
turned views only when the upright ones find no sure copy; both are printed in the progress
lines), and the **floor** = decode + one view (the model once) + the index search of that one
row: no frames, no turned views, no re-scoring. ``p50/floor`` is the HTTP p50 over the floor's
p50 (goal <= 2); ``turned`` is the share of upright-first queries whose upright views left no
sure copy, so that their turned views were embedded too. The last phase runs the queries while
``imgsearch index`` adds a folder of new photos to the served library. Goal: sequential p50 <=
25 ms, p99 <= 60 ms, zero errors. The "load" column is the machine's 1-minute load average
after each phase: on a shared box, other people's jobs show up there, so each sequential phase
also prints CPU ms per query - the server process's per request, and the in-process floor's
and engine's - which the load inflates far less than wall time. First (unless
``--no-attacks``), hostile traffic (``bench/http_attacks.py``): searches while slow clients
hold 300 connections, and 8 memory-bomb uploads at once with the server's peak RSS.

Library images' key points (the key-point witness's, made from a candidate's file the first
time a query meets it) are kept in the library's ``key-points/`` folder. By default
(``--key-points first-visit``) that folder is emptied before the in-process baselines and
again before the server starts, so every phase meets each file for the first time, as in
rounds before the folder existed; ``--key-points kept`` leaves what earlier processes made
(the in-process phase runs the same uploads first): what a later process of the library meets.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: bench/http.py would shadow the http package
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bench import http_attacks
from bench.http_client import Server, cli, multipart, run_concurrent, run_sequential
from bench.http_library import (
    QUERY_SIDE,
    SHARED,
    Baseline,
    add_synthetic,
    in_process,
    index_kind,
    make_incoming,
    make_queries,
    vector_count,
)

GOAL_P50_MS, GOAL_P99_MS = 25.0, 60.0
GOAL_FLOOR_RATIO = 2.0


@dataclass
class Row:
    scenario: str
    vectors: int
    index: str
    mode: str
    latencies: np.ndarray
    errors: int
    wall_s: float
    base: Baseline | None
    load: float = field(default_factory=lambda: os.getloadavg()[0])  # machine load after it
    cpu_ms: float = float("nan")  # the server's CPU ms per request (sequential phases)

    def cells(self) -> list[str]:
        lat = self.latencies
        p = (lambda q: f"{np.percentile(lat, q):.1f}") if len(lat) else (lambda q: "-")
        b = self.base
        ratio = f"{np.percentile(lat, 50) / b.floor_p50:.2f}x" if b and len(lat) else "-"
        rate = f"{len(lat) / self.wall_s:.0f}" if self.wall_s > 0 and len(lat) else "-"
        return [
            self.scenario,
            f"{self.vectors:,}",
            self.index,
            self.mode,
            str(len(lat)),
            str(self.errors),
            p(50),
            p(90),
            p(99),
            f"{lat.max():.1f}" if len(lat) else "-",
            rate,
            f"{b.engine_p50:.1f} / {b.engine_p99:.1f}" if b else "-",
            f"{b.floor_p50:.1f} / {b.floor_p99:.1f}" if b else "-",
            ratio,
            f"{b.turned:.0%}" if b else "-",
            f"{self.load:.1f}",
        ]


HEADER = [
    "scenario",
    "vectors",
    "index",
    "mode",
    "n",
    "errors",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "max ms",
    "req/s",
    "engine p50/p99",
    "floor p50/p99",
    "p50/floor",
    "turned",
    "load",
]


def print_table(rows: Sequence[Row]) -> None:
    table = [HEADER, *(r.cells() for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    for n, line in enumerate(table):
        print(
            "  ".join(
                c.ljust(w) if i < 4 else c.rjust(w)
                for i, (c, w) in enumerate(zip(line, widths, strict=True))
            )
        )
        if n == 0:
            print("  ".join("-" * w for w in widths))


# -- the benchmark -----------------------------------------------------------------------------


def measure(
    rows: list[Row],
    scenario: str,
    library: Path,
    models: Path,
    bodies,
    photos,
    args: argparse.Namespace,
    vectors: int,
) -> None:
    forget_key_points(library, args.key_points)
    baseline = in_process(library, models, photos, args.upright_first)
    kind = index_kind(library, models)
    forget_key_points(library, args.key_points)
    server = Server(library, models, args.threads)
    try:
        run_sequential(server.port, bodies, 10)  # warm the connection path
        cpu0 = server.cpu_seconds()
        lat, err, wall = run_sequential(server.port, bodies, args.requests)
        row = Row(scenario, vectors, kind, "sequential", lat, err, wall, baseline)
        row.cpu_ms = 1000.0 * (server.cpu_seconds() - cpu0) / max(1, len(lat))
        rows.append(row)
        print_progress(rows)
        if args.clients > 0:
            lat, err, wall = run_concurrent(server.port, bodies, args.requests, args.clients)
            rows.append(
                Row(scenario, vectors, kind, f"{args.clients} clients", lat, err, wall, baseline)
            )
            print_progress(rows)
        if args.index_phase and scenario == args.last_scenario:
            for variant, mode in enumerate(("seq, indexing", f"{args.clients} cl, indexing")):
                incoming = make_incoming(args.work / f"incoming-{variant}", variant)
                indexer = cli(
                    library, models, "index", str(incoming), "--no-progress", background=True
                )
                time.sleep(3.0)  # past model loading: the run is writing batches
                if variant == 0:
                    lat, err, wall = run_sequential(server.port, bodies, args.requests, indexer)
                else:
                    lat, err, wall = run_concurrent(
                        server.port, bodies, args.requests, args.clients, indexer
                    )
                rows.append(Row(scenario, vectors, kind, mode, lat, err, wall, baseline))
                print_progress(rows)
                out = indexer.communicate(timeout=900)[0].strip()
                print(f"  the index run: {out.splitlines()[0] if out else '?'}")
    finally:
        server.stop()


def forget_key_points(library: Path, mode: str) -> None:
    """Empty ``library``'s kept key points unless ``mode`` is ``kept`` (module doc)."""
    if mode != "kept":
        shutil.rmtree(library / "key-points", ignore_errors=True)


def print_progress(rows: Sequence[Row]) -> None:
    row = rows[-1]
    lat = row.latencies
    if len(lat):
        b = row.base
        floor = (
            f" in-process: floor p50={b.floor_p50:.1f} p99={b.floor_p99:.1f} ms, engine with "
            f"every view p50={b.every[0]:.1f} p99={b.every[1]:.1f} ms, upright first "
            f"p50={b.upright[0]:.1f} p99={b.upright[1]:.1f} ms (turned views embedded "
            f"for {b.turned:.0%})"
            if b
            else ""
        )
        print(
            f"  {row.scenario} / {row.mode}: n={len(lat)} p50={np.percentile(lat, 50):.1f} ms "
            f"p99={np.percentile(lat, 99):.1f} ms errors={row.errors};{floor} "
            f"(load {row.load:.1f})",
            flush=True,
        )
        if b and np.isfinite(row.cpu_ms):
            print(
                f"    CPU ms per query (less sensitive to the load than wall time): server "
                f"{row.cpu_ms:.1f} per request; in-process floor {b.cpu[0]:.1f}, every view "
                f"{b.cpu[1]:.1f}, upright first {b.cpu[2]:.1f}; server / floor = "
                f"{row.cpu_ms / b.cpu[0]:.2f}",
                flush=True,
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="10000,100000", help="synthetic library sizes (vectors), comma-separated"
    )
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8, help="0: no concurrent phase")
    parser.add_argument("--threads", type=int, default=16, help="server threads (serve's)")
    parser.add_argument("--no-index-phase", dest="index_phase", action="store_false")
    parser.add_argument("--no-attacks", dest="attacks", action="store_false")
    parser.add_argument(
        "--upright-first",
        action="store_true",
        help="serve with IMGSEARCH_UPRIGHT_FIRST=1 (turned views only when in doubt)",
    )
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the scratch libraries")
    parser.add_argument(
        "--key-points",
        choices=("first-visit", "kept"),
        default="first-visit",
        help="empty the libraries' kept key points before each phase (default), or keep them",
    )
    parser.add_argument(
        "--attacks-only",
        action="store_true",
        help="only the hostile scenarios (slow clients, 8 hostile uploads, a burst)",
    )
    parser.add_argument("--burst", type=int, default=60, help="searches posted at once")
    parser.add_argument("--slow", type=int, default=300, help="slow connections held")
    parser.add_argument("--hostile-rounds", type=int, default=2)
    args = parser.parse_args(argv)
    if args.upright_first:
        os.environ["IMGSEARCH_UPRIGHT_FIRST"] = "1"  # the servers started below inherit it
    models, data = SHARED / "models", SHARED / "data"
    if not models.is_dir() or not data.is_dir():
        raise SystemExit(f"shared models/data not found under {SHARED} (set IMGSEARCH_SHARED)")
    args.work = Path(args.work_dir or tempfile.mkdtemp(prefix="imgsearch-bench-http-"))
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    args.last_scenario = f"synthetic {sizes[-1]:,}" if sizes else "shared photos"
    print(
        f"work dir: {args.work}; {os.cpu_count()} CPUs; {args.requests} requests per phase, "
        f"{args.clients} concurrent clients, server threads {args.threads}; key points: "
        f"{args.key_points}"
    )
    try:
        real = args.work / "real"
        started = time.perf_counter()
        if not (real / "imgsearch.sqlite3").exists():  # --work-dir: reuse an earlier build
            cli(real, models, "index", str(data), "--no-progress")
        photos, names = make_queries(data, args.requests)
        bodies = [multipart(b, name) for b, name in zip(photos, names, strict=True)]
        n_real = vector_count(real, models)
        took = time.perf_counter() - started
        print(
            f"indexed the shared photos: {n_real} vectors in {took:.1f} s; {len(photos)} "
            f"queries of {QUERY_SIDE} px (mean {np.mean([len(p) for p in photos]) / 1e3:.0f} KB)"
        )
        if args.attacks or args.attacks_only:
            server = Server(real, models, args.threads)  # bench/http_attacks.py
            try:
                http_attacks.run(
                    server.port,
                    server.process.pid,
                    photos[0],
                    args.slow,
                    args.hostile_rounds,
                    args.burst,
                )
            finally:
                server.stop()
        if args.attacks_only:
            return
        rows: list[Row] = []
        measure(rows, "shared photos", real, models, bodies, photos, args, n_real)
        copy = args.work / "synthetic"
        if not copy.exists():
            shutil.copytree(real, copy)
            shutil.rmtree(copy / "thumbnails", ignore_errors=True)
        for size in sizes:
            added, seconds = add_synthetic(copy, models, size)
            print(f"copy grown to {size:,} vectors (+{added:,} synthetic) in {seconds:.1f} s")
            vectors = vector_count(copy, models)
            measure(rows, f"synthetic {size:,}", copy, models, bodies, photos, args, vectors)
        print()
        print_table(rows)
        print()
        sequential = [r for r in rows if r.mode == "sequential"]
        for row in sequential:
            p50, p99 = np.percentile(row.latencies, 50), np.percentile(row.latencies, 99)
            verdict = (
                "MET" if p50 <= GOAL_P50_MS and p99 <= GOAL_P99_MS and not row.errors else "MISSED"
            )
            ratio = p50 / row.base.floor_p50 if row.base else float("nan")
            print(
                f"goal (sequential p50 <= {GOAL_P50_MS:.0f} ms, p99 <= {GOAL_P99_MS:.0f} ms, "
                f"0 errors) at {row.vectors:,} vectors: {verdict}; p50 / floor p50 = "
                f"{ratio:.2f} (goal <= {GOAL_FLOOR_RATIO:.0f}: "
                f"{'MET' if ratio <= GOAL_FLOOR_RATIO else 'MISSED'})"
            )
        print(f"errors in all phases: {sum(r.errors for r in rows)}")
    finally:
        if not args.keep and args.work_dir is None:
            shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()
