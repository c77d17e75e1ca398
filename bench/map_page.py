"""The map page (/map) in headless Chromium with 100 k synthetic points: time to the first
full draw (goal <= 3 s), the fetch of the map's JSON columns, and redraws while zooming.

    python bench/map_page.py [--n 100000] [--runs 3]

The app is the real one (waitress, templates, ``static/map.js``, ``GET /api/v1/map``) over a
stand-in engine whose ``explore.library_map()`` returns n points in 200 blobs with density
clusters and top labels: this measures the page and the API's serialisation, not the PCA
(``bench/explore.py --only synthetic`` measures that).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

if __package__ in (None, ""):
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from search.explore import LibraryMap
from search.settings import Settings
from tests.browser import chromium
from web.app import create_app
from web.server import make_server

READY = "return document.getElementById('map').dataset.ready === 'true'"
FIGURES = (
    "const m = document.getElementById('map'), c = document.getElementById('map-canvas');"
    "return {first: +m.dataset.firstDrawMs, fetch: +m.dataset.fetchMs, draw: +c.dataset.drawMs,"
    " nav: performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd};"
)


def synthetic_map(n: int, seed: int = 0) -> LibraryMap:
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0.05, 0.95, (200, 2))
    blob = rng.integers(0, 200, n)
    xy = np.clip(centres[blob] + rng.normal(0, 0.02, (n, 2)), 0, 1)
    cluster = np.where(rng.random(n) < 0.15, -1, blob)
    names = [f"label_{i}" for i in range(1000)]
    label = np.minimum(rng.zipf(1.6, n) - 1, 999)
    return LibraryMap(np.arange(1, n + 1), xy, cluster, label, names, "pca")


class NoStore:
    """The stand-in's store: read-only, nothing opened (the app asks whether it may write)."""

    read_only = True


class StandIn:
    """What the web app asks of an engine for the map page, nothing more."""

    def __init__(self, found: LibraryMap) -> None:
        self.explore = SimpleNamespace(library_map=lambda projection="pca": found)
        self.admin = SimpleNamespace(stats=lambda: {"vectors": len(found.ids)})
        self.store = NoStore()

    def refresh(self) -> bool:
        return False

    def close(self) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    import urllib.request  # here: bench/http.py would shadow the stdlib's http before

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(library=Path(tmp) / "library")
        app = create_app(settings, StandIn(synthetic_map(args.n)))
        server = make_server(app, settings, port=0, threads=4)
        url = f"http://127.0.0.1:{server.effective_port}"
        threading.Thread(target=server.run, daemon=True).start()
        started = time.perf_counter()
        with urllib.request.urlopen(url + "/api/v1/map", timeout=120) as response:
            size = len(response.read())
        api_s = time.perf_counter() - started
        print(f"GET /api/v1/map, {args.n} points: {size / 2**20:.2f} MB JSON in {api_s:.2f} s")
        with chromium(Path(tmp) / "profile") as driver:
            for run in range(args.runs):
                driver.get(url + "/map")
                deadline = time.monotonic() + 60
                while not driver.execute_script(READY) and time.monotonic() < deadline:
                    time.sleep(0.02)
                f = driver.execute_script(FIGURES)
                print(
                    f"run {run + 1}: first full draw {f['first'] / 1000:.2f} s after navigation "
                    f"(goal <= 3 s; page ready {f['nav'] / 1000:.2f} s, map fetched+parsed "
                    f"{f['fetch'] / 1000:.2f} s, one draw pass {f['draw']:.0f} ms)"
                )
            draws = []
            for button in ["map-zoom-in"] * 4 + ["map-zoom-out"] * 4:
                driver.execute_script(f"document.getElementById('{button}').click()")
                time.sleep(0.15)
                draws.append(float(driver.execute_script(FIGURES)["draw"]))
            print(
                f"redraws while zooming: median {np.median(draws):.0f} ms, max {max(draws):.0f} ms"
            )
        server.close()
    print(f"load average at start {load:.1f}, now {os.getloadavg()[0]:.1f} (2 cores)")


if __name__ == "__main__":
    main()
