"""HTTP search latency of ``imgsearch serve``: sequential, concurrent, and during an index run.

    python -m bench.http [--sizes 10000,100000] [--requests 300] [--clients 8]
                         [--no-index-phase] [--no-attacks] [--upright-first]
                         [--work-dir DIR] [--keep]
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
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: bench/http.py would shadow the http package
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bench import http_attacks

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("IMGSEARCH_SHARED", REPO.parent / "shared")).resolve()
GOAL_P50_MS, GOAL_P99_MS = 25.0, 60.0
GOAL_FLOOR_RATIO = 2.0
SYNTHETIC_BATCH = 5000
QUERY_SIDE = 500  # px, the longer side of the uploaded JPEGs


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


# -- the CLI and the server ------------------------------------------------------------------


def cli(library: Path, models: Path, *args: str, background: bool = False):  # type: ignore[no-untyped-def]
    command = [
        sys.executable,
        "-u",
        "-c",
        "from cli.main import main; main()",
        "--library",
        str(library),
        "--model-path",
        str(models),
        *args,
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if background:
        return subprocess.Popen(
            command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"imgsearch {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


class Server:
    """``imgsearch serve --port 0`` in a subprocess (stopped by its own process id)."""

    def __init__(self, library: Path, models: Path, threads: int) -> None:
        self.process = cli(
            library, models, "serve", "--port", "0", "--threads", str(threads), background=True
        )
        deadline, lines = time.monotonic() + 180, []
        self.port = 0
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line and self.process.poll() is not None:
                break
            lines.append(line)
            match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
            if match:
                self.port = int(match.group(1))
                break
        if not self.port:
            self.stop()
            raise SystemExit("server did not start:\n" + "".join(lines))
        threading.Thread(target=self._drain, daemon=True).start()

    def cpu_seconds(self) -> float:
        """CPU seconds the server process has used so far (all threads; nan off Linux)."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _drain(self) -> None:
        for _line in self.process.stdout:  # keep the pipe from filling up
            pass

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# -- requests ----------------------------------------------------------------------------------


def multipart(photo: bytes, name: str, k: int = 10) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="k"\r\n\r\n{k}\r\n'.encode(),
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{name}"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode(),
        photo,
        f"\r\n--{boundary}--\r\n".encode(),
    ]
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Client:
    """One keep-alive connection to 127.0.0.1; every request timed, every failure counted."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def search(self, body: bytes, content_type: str) -> tuple[float, bool]:
        started = time.perf_counter()
        try:
            self.conn.request(
                "POST", "/api/v1/search", body=body, headers={"Content-Type": content_type}
            )
            response = self.conn.getresponse()
            data = response.read()
            ok = response.status == 200 and len(json.loads(data)["results"]) > 0
        except (OSError, http.client.HTTPException, ValueError, KeyError):
            ok = False
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        return (time.perf_counter() - started) * 1000.0, ok


Bodies = list[tuple[bytes, str]]
Timing = tuple[np.ndarray, int, float]


def run_sequential(
    port: int, bodies: Bodies, n: int, until: subprocess.Popen | None = None
) -> Timing:
    client, lat, errors = Client(port), [], 0
    started = time.perf_counter()
    for i in range(n):
        if until is not None and until.poll() is not None:
            break
        ms, ok = client.search(*bodies[i % len(bodies)])
        lat.append(ms)
        errors += not ok
    return np.asarray(lat), errors, time.perf_counter() - started


def run_concurrent(
    port: int, bodies: Bodies, n: int, clients: int, until: subprocess.Popen | None = None
) -> Timing:
    lat: list[float] = []
    errors = [0]
    lock = threading.Lock()
    counter = iter(range(n))

    def worker() -> None:
        client = Client(port)
        while True:
            with lock:
                i = next(counter, None)
            if i is None or (until is not None and until.poll() is not None):
                return
            ms, ok = client.search(*bodies[i % len(bodies)])
            with lock:
                lat.append(ms)
                errors[0] += not ok

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return np.asarray(lat), errors[0], time.perf_counter() - started


# -- libraries ---------------------------------------------------------------------------------


def settings_for(library: Path, models: Path):  # type: ignore[no-untyped-def]
    from search.settings import Settings

    return Settings(library=library, model_path=(models,))


def vector_count(library: Path, models: Path) -> int:
    from search.store import Store

    store = Store.open(settings_for(library, models).resolved_database_url)
    try:
        return store.vector_count()
    finally:
        store.close()


@dataclass
class Baseline:
    """In-process latencies (ms) on one library: the engine's query as served (``engine``),
    with every view (``every``) and upright views first (``upright``), the floor (module
    doc), and the share of upright-first queries that embedded their turned views."""

    engine_p50: float
    engine_p99: float
    floor_p50: float
    floor_p99: float
    turned: float
    every: tuple[float, float] = (0.0, 0.0)
    upright: tuple[float, float] = (0.0, 0.0)
    #: mean CPU ms per query of the process (all its threads): floor, every view, upright first
    cpu: tuple[float, float, float] = (float("nan"), float("nan"), float("nan"))


def in_process(
    library: Path, models: Path, photos: list[bytes], upright_first: bool = False
) -> Baseline:
    """The baselines, alternating per query so that all see the same load."""
    from dataclasses import replace

    from search.index import set_threads
    from search.query import SearchEngine
    from web import app

    set_threads(app.FAISS_THREADS_PER_REQUEST)  # as the server's request threads do
    if hasattr(app, "one_blas_thread"):  # (an older server did not)
        app.one_blas_thread()
    settings = settings_for(library, models)
    # the model in one thread, as the server runs it (web.app.serving_settings; a server of
    # before it ran every core): the floor is one query's own work, on either side
    settings = replace(settings, threads=settings.threads or 1)
    quick = replace(settings, upright_first=True) if hasattr(settings, "upright_first") else None
    with SearchEngine.open(settings) as engine:
        engine.query_image(photos[0], k=10)  # load the model and the index
        analyzer = engine.analyzer
        if quick is not None:  # the same model and index, the other setting
            engine.settings = quick
            engine.query_image(photos[0], k=10)
        every_ms, upright_ms, floor_ms, turned = [], [], [], 0
        cpu = [0.0, 0.0, 0.0]  # process CPU seconds: floor, every view, upright first
        for data in photos:
            started, cpu0 = time.perf_counter(), time.process_time()
            live = engine.library.searchable()
            analysis = analyzer.analyze(data)  # decode + one view, no frame search
            live.neighbours(live.descriptor.transform(analysis.embedding[None]), 10)
            floor_ms.append((time.perf_counter() - started) * 1000.0)
            cpu[0] += time.process_time() - cpu0
            engine.settings = settings
            started, cpu0 = time.perf_counter(), time.process_time()
            engine.query_image(data, k=10)
            every_ms.append((time.perf_counter() - started) * 1000.0)
            cpu[1] += time.process_time() - cpu0
            if quick is not None:
                engine.settings = quick
                started, cpu0 = time.perf_counter(), time.process_time()
                result = engine.query_image(data, k=10)
                upright_ms.append((time.perf_counter() - started) * 1000.0)
                cpu[2] += time.process_time() - cpu0
                turned += result.views > 2

    def p(values: list[float]) -> tuple[float, float]:
        if not values:
            return (float("nan"), float("nan"))
        return float(np.percentile(values, 50)), float(np.percentile(values, 99))

    served = p(upright_ms if upright_first else every_ms)
    per_query = tuple(1000.0 * c / len(photos) for c in cpu)
    return Baseline(
        *served,
        *p(floor_ms),
        turned / len(photos),
        every=p(every_ms),
        upright=p(upright_ms),
        cpu=per_query,  # type: ignore[arg-type]
    )


def make_queries(data: Path, count: int, seed: int = 3) -> tuple[list[bytes], list[str]]:
    """``count`` uploads: a seeded sample of the shared photos, each shrunk to QUERY_SIDE px
    on its longer side and saved as a JPEG (quality 90) in memory."""
    import io

    from PIL import Image, ImageOps

    files = sorted(
        p for p in data.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp")
    )
    rng = np.random.default_rng(seed)
    picked = [files[i] for i in rng.choice(len(files), min(count, len(files)), replace=False)]
    photos, names = [], []
    for path in picked:
        with Image.open(path) as im:
            rgb = ImageOps.exif_transpose(im).convert("RGB")
        rgb.thumbnail((QUERY_SIDE, QUERY_SIDE), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        rgb.save(out, "JPEG", quality=90)
        photos.append(out.getvalue())
        names.append(path.stem + ".jpg")
    return photos, names


def index_kind(library: Path, models: Path) -> str:
    from search.query import SearchEngine

    with SearchEngine.open(settings_for(library, models)) as engine:
        return str(engine.admin.stats()["index"]["kind"])


def add_synthetic(library: Path, models: Path, total: int, seed: int = 7) -> tuple[int, float]:
    """Grow a scratch COPY of a library to ``total`` vectors with synthetic image rows.

    Each synthetic vector is a real embedding of the library pushed off in a random direction
    (cosine ~0.6-0.9 to it), so queries have synthetic neighbours that the index and the exact
    re-scoring must wade through. Returns (vectors added, seconds incl. the index rebuild).
    """
    from search.library import Library
    from search.store import ChangeSet, ImageUpsert

    started = time.perf_counter()
    with Library.open(settings_for(library, models)) as lib:
        have = lib.store.vector_count()
        need = total - have
        if need <= 0:
            return 0, 0.0
        real = np.concatenate([v for _ids, v in lib.store.iter_vectors()])
        collection = lib.store.ensure_collection(library.parent / f"synthetic-{seed}")
        rng = np.random.default_rng([seed, have])
        for start in range(0, need, SYNTHETIC_BATCH):
            m = min(SYNTHETIC_BATCH, need - start)
            base = real[rng.integers(0, len(real), m)]
            noise = rng.standard_normal((m, real.shape[1]), dtype=np.float32)
            noise /= np.linalg.norm(noise, axis=1, keepdims=True)
            vectors = base + noise * rng.uniform(0.5, 1.3, (m, 1)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            upserts = [
                ImageUpsert(
                    collection,
                    f"s{have + start + i:07d}.jpg",
                    100_000,
                    0,
                    None,
                    width=640,
                    height=480,
                    format="JPEG",
                    vector=vectors[i],
                )
                for i in range(m)
            ]
            lib.store.apply(ChangeSet(upserts=upserts))
        lib.rebuild_index()
    return need, time.perf_counter() - started


def make_incoming(target: Path, variant: int) -> Path:
    """New photos for an index run during the last phase: hymenoptera/train three times over,
    mirrored or not, re-encoded at a quality of this variant's own and with one pixel changed
    per run, so that every file has new bytes and pixels and is decoded and embedded (no copy
    shortcut), also when --work-dir reuses a library."""
    from PIL import Image, ImageOps

    train = SHARED / "data" / "hymenoptera" / "images" / "train"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    salt = np.random.default_rng().integers(0, 256, 3)  # new pixels in every run (--work-dir)
    for n, source in enumerate(sorted(train.rglob("*.jpg"))):
        with Image.open(source) as im:
            rgb = im.convert("RGB")
        rgb.putpixel((0, 0), tuple(int(v) for v in salt))
        for k, (mirror, quality) in enumerate(((False, 91), (True, 85), (False, 72))):
            out = ImageOps.mirror(rgb) if mirror else rgb
            out.save(target / f"{n:04d}_{k}.jpg", quality=quality - variant)
    return target


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
    baseline = in_process(library, models, photos, args.upright_first)
    kind = index_kind(library, models)
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
    parser.add_argument("--threads", type=int, default=8, help="server threads")
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
        "--attacks-only",
        action="store_true",
        help="only the hostile scenarios (slow clients, 8 hostile uploads)",
    )
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
        f"{args.clients} concurrent clients, server threads {args.threads}"
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
                    server.port, server.process.pid, photos[0], args.slow, args.hostile_rounds
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
