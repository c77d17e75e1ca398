"""The libraries and in-process baselines of ``bench/http.py``: scratch copies grown with
synthetic vectors, the uploaded queries, new photos for the index phase, and the floor."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("IMGSEARCH_SHARED", REPO.parent / "shared")).resolve()
SYNTHETIC_BATCH = 5000
QUERY_SIDE = 500  # px, the longer side of the uploaded JPEGs


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
        index = engine.admin.stats()["index"]
    knob = next((f" {name} {index[name]}" for name in ("nprobe", "efSearch") if name in index), "")
    return f"{index['kind']}{knob}"  # the tuned parameter: what a query pays for


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
