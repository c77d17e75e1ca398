"""What ``verify=on`` costs a query: sure copies (must pay nothing) and grey-zone queries.

    python -m bench.local_check [--work-dir DIR] [--requests 300] [--hard 60]

A library of all the shared photos (``../shared/data``: 509 files, whitening learned) is built
with ``imgsearch index`` (reused from ``--work-dir``), and a twin of it gets ``verify=on``
(the same files, vectors and index; only the recorded descriptor differs). Two kinds of
queries, in memory: ``--requests`` sure copies (``bench/http.py``'s uploads: a seeded sample
of the photos shrunk to 500 px and re-encoded) and ``--hard`` heavy crops (a quarter of a
seeded sample, enlarged to 500 px: no sure copy, the grey zone). Each query runs on both
engines, alternating which goes first, in one process, so both see the same load; printed
per kind: p50 / p99 ms of each, the ratio of the p50s, the share of queries that ran the
local check, files read and pairs checked per such query, how many originals were raised to
duplicates, and whether OpenCV was imported during the sure-copy phase (it runs first).
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # run as a script: bench/http.py would shadow the http package
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]
    sys.path.insert(0, str(ROOT))

from bench.http_library import make_queries  # noqa: E402
from search.query import SearchEngine  # noqa: E402
from search.settings import Settings  # noqa: E402

SHARED = Path(os.environ.get("IMGSEARCH_SHARED", ROOT.parent / "shared"))


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def heavy_crops(data: Path, count: int, seed: int = 5) -> tuple[list[bytes], list[str]]:
    """A quarter of ``count`` seeded photos (10-60 % x 15-70 %), enlarged to 500 px."""
    from PIL import Image, ImageOps

    files = sorted(p for p in data.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    rng = np.random.default_rng(seed)
    out, names = [], []
    for i in rng.choice(len(files), min(count, len(files)), replace=False):
        with Image.open(files[i]) as im:
            rgb = ImageOps.exif_transpose(im).convert("RGB")
        w, h = rgb.size
        crop = rgb.crop((int(w * 0.1), int(h * 0.15), int(w * 0.6), int(h * 0.7)))
        crop = crop.resize((500, max(1, round(500 * crop.height / crop.width))))
        buf = io.BytesIO()
        crop.save(buf, "JPEG", quality=85)
        out.append(buf.getvalue())
        names.append(files[i].name)
    return out, names


def run_kind(
    label: str, engines: dict[str, SearchEngine], queries: list[bytes], names: list[str]
) -> None:
    ms: dict[str, list[float]] = {k: [] for k in engines}
    on = engines["verify=on"]
    before = replace(on.local.stats)
    raised = 0
    for n, data in enumerate(queries):
        order = list(engines) if n % 2 == 0 else list(engines)[::-1]
        for key in order:
            started = time.perf_counter()
            hits = engines[key].query_image(data, k=10).hits
            ms[key].append(1000 * (time.perf_counter() - started))
            if key == "verify=on":
                raised += any(h.duplicate and Path(h.path).name == names[n] for h in hits)
    after = on.local.stats
    checked = after.queries - before.queries
    p = {k: (np.percentile(v, 50), np.percentile(v, 99)) for k, v in ms.items()}
    cells = "; ".join(f"{k} p50 {a:.1f} / p99 {b:.1f} ms" for k, (a, b) in p.items())
    ratio = p["verify=on"][0] / p["default"][0]
    print(f"{label} ({len(queries)}): {cells}; p50 ratio on/off {ratio:.2f}; {load()}")
    reads = after.files_read - before.files_read
    pairs = after.checked - before.checked
    print(
        f"  local check ran for {checked} of {len(queries)} queries"
        + (
            f"; per such query {reads / checked:.2f} files read, {pairs / checked:.2f} pairs "
            f"checked, {1000 * (after.seconds - before.seconds) / checked:.1f} ms checking"
            if checked
            else ""
        )
        + f"; own original a duplicate with verify=on in {raised} of {len(queries)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--hard", type=int, default=60)
    args = parser.parse_args()
    models, data = SHARED / "models", SHARED / "data"
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="imgsearch-bench-verify-"))
    real, twin = work / "real", work / "verify"
    if not (real / "imgsearch.sqlite3").exists():
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "from cli.main import main; main()", "--library", str(real),
             "--model-path", str(models), "index", str(data), "--no-progress"],
            check=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        print(f"indexed the shared photos in {time.perf_counter() - t0:.1f} s")
    if twin.exists():
        shutil.rmtree(twin)
    shutil.copytree(real, twin)
    settings = {
        "default": Settings(library=real, model_path=(models,), threads=1),
        "verify=on": Settings(library=twin, model_path=(models,), threads=1),
    }
    engines = {k: SearchEngine.open(s) for k, s in settings.items()}
    try:
        twin_lib = engines["verify=on"].library
        twin_lib.set_descriptor(replace(twin_lib.descriptor_config(), verify=True))
        sure, sure_names = make_queries(data, args.requests)
        hard, hard_names = heavy_crops(data, args.hard)
        for engine in engines.values():
            engine.query_image(sure[0], k=10)  # load the model and the index
        print(f"{len(sure)} sure copies, {len(hard)} heavy crops; {load()}")
        run_kind("sure copies", engines, sure, sure_names)
        print(f"  OpenCV imported during the sure copies: {'cv2' in sys.modules}")
        run_kind("heavy crops (grey zone)", engines, hard, hard_names)
        run_kind("heavy crops again (features cached)", engines, hard, hard_names)
    finally:
        for engine in engines.values():
            engine.close()
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
