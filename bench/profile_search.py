"""Where the time of one served search goes: ``POST /api/v1/search`` through the Flask app
(the code ``imgsearch serve`` runs, without the socket) under cProfile, grouped by area.

    python bench/profile_search.py LIBRARY [--requests 200] [--top 25] [--upright-first]

LIBRARY is an existing library (e.g. ``imgsearch index ../shared/data`` into it). The uploads
are the 500 px JPEGs of ``bench/http.py``. Printed: wall ms per request, then the CPU share
of each area (the self time of every function, summed by the file it lives in), then the
functions with the largest cumulative time. Run it under the same load as other benches.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # bench/http.py would shadow the http package
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]
    sys.path.insert(0, str(REPO))

AREAS = [  # (area, substrings of a function's file or built-in's name), first match wins
    ("onnx model (views)", ("onnxruntime", "models/onnx_model.py")),
    ("sqlite / sqlalchemy reads", ("sqlite3", "sqlalchemy", "search/store/")),
    (
        "decode + resize (Pillow)",
        ("PIL/", "ImagingDecoder", "ImagingCore", "models/load.py", "models/decode_memory.py"),
    ),
    ("frame search", ("models/frame.py",)),
    ("views, analyzer", ("models/views.py", "models/analyzer.py")),
    ("faiss search", ("faiss", "search/index/")),
    ("hashes (sha256 of the upload)", ("hashlib", "openssl")),
    ("scoring (descriptor, numpy)", ("search/descriptor/", "numpy")),
    ("engine, guard", ("search/query/", "search/library/")),
    ("multipart, flask, werkzeug", ("werkzeug", "flask", "multipart")),
    ("web (params, guard, json)", ("web/", "json")),
]


def area_of(filename: str) -> str:
    for area, keys in AREAS:
        if any(k in filename for k in keys):
            return area
    return "other (builtins, hashlib...)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("library", type=Path)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="cumulative", help="pstats order: cumulative, tottime")
    parser.add_argument("--models", type=Path, default=REPO.parent / "shared" / "models")
    parser.add_argument("--upright-first", action="store_true", help="Settings.upright_first")
    args = parser.parse_args()

    from bench.http import make_queries, multipart
    from search.settings import Settings
    from web.app import create_app

    photos, names = make_queries(REPO.parent / "shared" / "data", args.requests)
    bodies = [multipart(p, n) for p, n in zip(photos, names, strict=True)]
    settings = Settings(
        library=args.library, model_path=(args.models,), upright_first=args.upright_first
    )
    app = create_app(settings)
    client = app.test_client()

    def post(body: bytes, ctype: str) -> None:
        response = client.post(
            "/api/v1/search",
            data=body,
            headers={"Content-Type": ctype, "Host": "127.0.0.1"},
        )
        assert response.status_code == 200, response.get_data(as_text=True)[:300]

    for body, ctype in bodies[:5]:  # model, index, first reads
        post(body, ctype)
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    for body, ctype in bodies:
        post(body, ctype)
    profile.disable()
    wall = (time.perf_counter() - started) * 1000.0 / len(bodies)
    stats = pstats.Stats(profile)
    total = sum(v[2] for v in stats.stats.values())  # self time  # type: ignore[attr-defined]
    by_area: dict[str, float] = {}
    for (filename, _line, name), v in stats.stats.items():  # type: ignore[attr-defined]
        area = area_of(filename if filename != "~" else name)
        by_area[area] = by_area.get(area, 0.0) + v[2]
    print(
        f"{len(bodies)} requests, {wall:.1f} ms wall per request under cProfile "
        f"(load {os.getloadavg()[0]:.1f}); self time per request by area:"
    )
    for area, seconds in sorted(by_area.items(), key=lambda kv: -kv[1]):
        print(f"  {area:32s} {seconds * 1000 / len(bodies):7.2f} ms  {seconds / total:6.1%}")
    print()
    stats.sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
