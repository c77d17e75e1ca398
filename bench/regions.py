"""Regions of library photos: is the photo a region was cut from found, and first?

    python bench/regions.py [--library DIR] [--count 40] [--seed 7]

Indexes the shared photos into ``--library`` when it holds none (``imgsearch index
../shared/data``), draws ``--count`` of its photos, and searches five regions of each (the
middle 30 %, 50 % and 70 % of each side, the top-left quarter, a band on the right) through
the engine the API uses, k = 20, the photo given three ways: its file, its pixels as a PNG (a
paste) and a JPEG re-save at 80 % of its size (quality 75). Printed per region and form: how
often the photo itself is first, in the first 20, flagged a copy, and the query's p50 / max ms
- with the region's photo nominated to the key points (its file's bytes, the whole picture's
layout: the default) and, as the baseline in the same run, without (switched off in this
process only).
"""

from __future__ import annotations

import argparse
import io
import random
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
REGIONS = {
    "middle 30 %": (0.35, 0.35, 0.65, 0.65),
    "middle 50 %": (0.25, 0.25, 0.75, 0.75),
    "middle 70 %": (0.15, 0.15, 0.85, 0.85),
    "top-left quarter": (0.0, 0.0, 0.5, 0.5),
    "right band": (0.6, 0.2, 1.0, 0.8),
}


def forms(path: Path) -> dict[str, Path | bytes]:
    """The photo as its file, as a PNG of its pixels (a paste) and as a smaller JPEG."""
    with Image.open(path) as image:
        image = image.convert("RGB")
        png, jpeg = io.BytesIO(), io.BytesIO()
        image.save(png, "PNG")
        w, h = image.size
        image.resize((max(1, w * 4 // 5), max(1, h * 4 // 5))).save(jpeg, "JPEG", quality=75)
    return {"file": path, "png": png.getvalue(), "jpeg 80 %": jpeg.getvalue()}


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
    from search.settings import Settings

    settings = Settings(library=args.library, model_path=(SHARED / "models",))
    with SearchEngine.open(settings) as engine:
        ids = [int(i) for chunk, _ in engine.store.iter_vectors() for i in chunk]
        photos = [(i, f.path) for i in ids if (f := engine.records.image_file(i)) is not None]
        random.Random(args.seed).shuffle(photos)
        queries = [(i, forms(path)) for i, path in photos[: args.count]]
        print(f"{args.library}: {len(queries)} photos, k = 20")
        head = f"{'region':18s} {'as':10s} {'nominated':>9s} {'first':>6s} {'in 20':>6s}"
        print(f"{head} {'flagged':>8s} ms p50 / max")
        for name, roi in REGIONS.items():
            for form in ("file", "png", "jpeg 80 %"):
                for nominated in (False, True):
                    _switch(nominated)
                    first = within = flagged = 0
                    took: list[float] = []
                    for image_id, made in queries:
                        started = time.perf_counter()
                        hits = engine.search_image(made[form], roi=roi, k=20)
                        took.append((time.perf_counter() - started) * 1000)
                        found = [hit.id for hit in hits]
                        first += bool(found) and found[0] == image_id
                        within += image_id in found
                        flagged += any(h.id == image_id and h.duplicate for h in hits)
                    took.sort()
                    n = len(queries)
                    print(
                        f"{name:18s} {form:10s} {'yes' if nominated else 'no':>9s} "
                        f"{first / n:6.3f} {within / n:6.3f} {flagged / n:8.3f} "
                        f"{took[n // 2]:6.1f} / {took[-1]:.1f}"
                    )


_ORIGINAL: dict[str, object] = {}


def _switch(nominated: bool) -> None:
    """The region's photo nominated (the engine as it is), or not (the baseline): the query's
    file ids and the whole picture's layout taken away in this process."""
    from models.views import ViewSet
    from search.query.local_check import LocalVerifier

    for_query = _ORIGINAL.setdefault("for_query", LocalVerifier.for_query)
    whole = _ORIGINAL.setdefault("whole_layout", ViewSet.__dict__["whole_layout"])

    def without(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.pop("within", None)
        return for_query(self, *args[:7], **kwargs)  # type: ignore[operator]

    LocalVerifier.for_query = for_query if nominated else without  # type: ignore[method-assign]
    ViewSet.whole_layout = whole if nominated else property(lambda _self: None)  # type: ignore[assignment]


if __name__ == "__main__":
    main()
