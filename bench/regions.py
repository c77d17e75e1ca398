"""Regions of library photos: is the photo a region was cut from found, and first?

    python bench/regions.py [--library DIR] [--count 40] [--seed 7]

Indexes the shared photos into ``--library`` when it holds none (``imgsearch index
../shared/data``), draws ``--count`` of its photos, and searches five regions of each (the
middle 30 % and 50 % of each side, 70 %, the top-left quarter, a band on the right) through
the engine the API uses, k = 20. Printed per region: how often the photo itself is first, in
the first 20, flagged a copy, and the query's p50 / max ms - with the library files of the
query's bytes nominated to the key points (the default) and, as the baseline in the same run,
without (their nomination switched off in this process only).
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
REGIONS = {
    "middle 30 %": (0.35, 0.35, 0.65, 0.65),
    "middle 50 %": (0.25, 0.25, 0.75, 0.75),
    "middle 70 %": (0.15, 0.15, 0.85, 0.85),
    "top-left quarter": (0.0, 0.0, 0.5, 0.5),
    "right band": (0.6, 0.2, 1.0, 0.8),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", type=Path, default=Path("/tmp/imgsearch-bench-regions"))
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    if not (args.library / "imgsearch.sqlite3").exists():
        command = [sys.executable, "-m", "cli.main", "--library", str(args.library)]
        command += ["--model-path", str(SHARED / "models"), "index", str(SHARED / "data")]
        subprocess.run([*command, "--no-progress"], check=True, cwd=REPO, capture_output=True)
    from search.query import SearchEngine
    from search.query.local_check import LocalVerifier
    from search.settings import Settings

    settings = Settings(library=args.library, model_path=(SHARED / "models",))
    with SearchEngine.open(settings) as engine:
        ids = [int(i) for chunk, _ in engine.store.iter_vectors() for i in chunk]
        photos = [(i, f.path) for i in ids if (f := engine.records.image_file(i)) is not None]
        random.Random(args.seed).shuffle(photos)
        photos = photos[: args.count]
        print(f"{args.library}: {len(photos)} photos, k = 20")
        head = f"{'region':18s} {'nominated':>9s} {'first':>6s} {'in 20':>6s} {'flagged':>8s}"
        print(f"{head} ms p50 / max")
        for name, roi in REGIONS.items():
            for nominated in (False, True):
                _switch(LocalVerifier, nominated)
                first = within = flagged = 0
                took: list[float] = []
                for image_id, path in photos:
                    started = time.perf_counter()
                    hits = engine.search_image(path, roi=roi, k=20)
                    took.append((time.perf_counter() - started) * 1000)
                    ids = [hit.id for hit in hits]
                    first += bool(ids) and ids[0] == image_id
                    within += image_id in ids
                    flagged += any(hit.id == image_id and hit.duplicate for hit in hits)
                took.sort()
                n = len(photos)
                print(
                    f"{name:18s} {'yes' if nominated else 'no':>9s} {first / n:6.3f} "
                    f"{within / n:6.3f} {flagged / n:8.3f} {took[n // 2]:6.1f} / {took[-1]:.1f}"
                )


_ORIGINAL = {}


def _switch(verifier: type, nominated: bool) -> None:
    """The engine's LocalVerifier with the region's own photos nominated, or not (baseline)."""
    original = _ORIGINAL.setdefault("for_query", verifier.for_query)

    def without(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.pop("within", None)
        return original(self, *args[:7], **kwargs)

    verifier.for_query = original if nominated else without


if __name__ == "__main__":
    main()
