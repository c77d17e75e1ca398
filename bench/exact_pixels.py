"""What marking same-pixels copies ``exact`` costs a search (``search.query.pixels``), measured
in the same run against the search without it (the sha256-only marking of before).

    python bench/exact_pixels.py [--data ../shared/data] [--rounds 3] [--queries 20]

Indexes ukbench_subset, near_duplicates and hymenoptera/val of ``--data`` into a temp library
(``imgsearch index``), then times ``SearchEngine.search_image(path, k=10)`` in process for four
kinds of query, each query run alternately with the check (``on``) and without it (``off``:
``MAX_PIXEL_DECODES = 0``), best of ``--rounds`` per query:

* ``library file``: a file of the library itself (exact by its bytes; its same-size look-alikes
  at copy score >= 0.95 are decoded);
* ``png re-save``: a library JPEG saved losslessly as PNG (the case the check is for);
* ``jpeg re-encode``: a library JPEG saved again at quality 90 (same size, a copy, other pixels:
  decoded for nothing, the worst case);
* ``unrelated``: a photo not in the library (no candidate: nothing decoded).

Prints per kind the median ms with and without, the ratio, the files decoded per query and the
queries with an exact hit.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # bench/http.py would shadow the http package
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]
    sys.path.insert(0, str(REPO))


def index(library: Path, models: Path, folders: list[Path]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMGSEARCH_")}
    env["PYTHONPATH"] = str(REPO)
    command = [sys.executable, "-c", "from cli.main import main; main()"]
    command += ["--library", str(library), "--model-path", str(models), "index", "--no-progress"]
    subprocess.run([*command, *map(str, folders)], check=True, env=env, stdout=subprocess.DEVNULL)


def make_queries(data: Path, out: Path, n: int) -> dict[str, list[Path]]:
    from PIL import Image

    ukbench = sorted((data / "ukbench_subset" / "images").glob("*.jpg"))
    near = sorted((data / "near_duplicates" / "images").iterdir())
    step = max(1, len(ukbench) // n)
    picked = ukbench[::step][:n]
    kinds: dict[str, list[Path]] = {"png re-save": [], "jpeg re-encode": []}
    for photo in picked:
        with Image.open(photo) as im:
            png, jpeg = out / f"{photo.stem}.png", out / f"{photo.stem}_q90.jpg"
            im.save(png)
            im.save(jpeg, quality=90)
        kinds["png re-save"].append(png)
        kinds["jpeg re-encode"].append(jpeg)
    kinds["library file"] = (picked + near)[: 2 * n]
    train = sorted((data / "hymenoptera" / "images" / "train" / "bees").glob("*.jpg"))
    kinds["unrelated"] = train[:n]
    return kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--models", type=Path, default=REPO.parent / "shared" / "models")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--queries", type=int, default=20)
    args = parser.parse_args()

    import search.query.engine as engine_module
    import search.query.pixels as pixels
    from search.query import SearchEngine
    from search.settings import Settings

    made: list[pixels.SamePixels] = []

    class Counted(pixels.SamePixels):
        def __init__(self, *a, **kw) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*a, **kw)
            made.append(self)

    engine_module.SamePixels = Counted  # type: ignore[misc]
    limit = pixels.MAX_PIXEL_DECODES
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folders = [
            args.data / "ukbench_subset" / "images",
            args.data / "near_duplicates" / "images",
            args.data / "hymenoptera" / "images" / "val",
        ]
        started = time.monotonic()
        index(root / "library", args.models, folders)
        print(f"indexed {len(folders)} folders in {time.monotonic() - started:.1f} s")
        (root / "queries").mkdir()
        kinds = make_queries(args.data, root / "queries", args.queries)
        settings = Settings(library=root / "library", model_path=(args.models,))
        with SearchEngine.open(settings) as engine:
            engine.search_image(kinds["unrelated"][0], k=10)  # load the model and the index
            print(f"load: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
            print(
                f"{'query':<16} {'n':>3} {'off ms':>8} {'on ms':>8} {'ratio':>6} "
                f"{'decoded':>8} {'exact':>6}"
            )
            for kind, queries in kinds.items():
                best = {"off": [], "on": []}
                decoded, exact = [], 0
                for query in queries:
                    times: dict[str, list[float]] = {"off": [], "on": []}
                    for _ in range(args.rounds):
                        for mode in ("off", "on"):
                            pixels.MAX_PIXEL_DECODES = limit if mode == "on" else 0
                            made.clear()
                            start = time.perf_counter()
                            hits = engine.search_image(query, k=10)
                            times[mode].append(time.perf_counter() - start)
                            if mode == "on":
                                count = made[0].decoded if made else 0
                                found = any(h.exact for h in hits)
                    for mode in times:
                        best[mode].append(min(times[mode]))
                    decoded.append(count)
                    exact += found
                off = statistics.median(best["off"]) * 1e3
                on = statistics.median(best["on"]) * 1e3
                print(
                    f"{kind:<16} {len(queries):>3} {off:8.1f} {on:8.1f} {on / off:6.2f} "
                    f"{statistics.mean(decoded):8.2f} {exact:>6}"
                )
            print(f"load: {os.getloadavg()[0]:.1f}")
    pixels.MAX_PIXEL_DECODES = limit


if __name__ == "__main__":
    main()
