"""Edits the issue's hold-out names that the hold-out sets lack, queried through the engine.

    python bench/named_edits.py [--sets photos-50,scenes-50] [--configs 'plain;default']

Issue 16's own hold-out (kept outside the project) has tiny rescales, greyscale, colour shifts
and "moderate rotations with black corners" among its kinds; ``bench/holdout.py``'s sets
have none of them as such. Here the originals of a hold-out set (``POOL-N``; made under /tmp
when missing) form the library (with their other views and burst shots, as in
``bench/edit_queries.py``), and each original is edited once per kind below by this script's
own code (seed 0) and uploaded as a query through :meth:`search.query.SearchEngine.search_image`
(k = 5), one fresh library per descriptor configuration:

* ``tiny32`` / ``tiny48`` / ``tiny64``: shrunk to that longer side, JPEG 75;
* ``grey``: greyscale; ``grey_crop``: greyscale of the middle 75 % of each side;
* ``hue60`` / ``hue150``: hue turned by +-60 / 150 degrees;
* ``in_place10`` / ``in_place20``: turned +-10 / 20 degrees without growing the canvas (its
  corners black);
* ``jpeg8``: JPEG quality 8 at full size; ``jpeg8_small``: shrunk to 120 px, then JPEG 8.

Every query is saved as JPEG 90. Printed per configuration and kind: recall@1 strict and
same-object neutral (as ``bench/edit_queries.py``), the ``duplicate`` flag's recall on the
original, and query latency p50 / max (ms, in process, one thread; the first queries read
the candidates' files cold).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.edit_queries import library_files  # noqa: E402
from bench.holdout import holdout_set  # noqa: E402
from indexer.run import IndexOptions, index_collections  # noqa: E402
from search.evaluation import load_truth  # noqa: E402
from search.index import set_threads  # noqa: E402
from search.library import Library  # noqa: E402
from search.query import SearchEngine  # noqa: E402
from search.settings import Settings  # noqa: E402

Rng = np.random.Generator


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _tiny(image: Image.Image, side: int) -> Image.Image:
    scale = side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return _jpeg(image.resize(size, Image.Resampling.BILINEAR), 75)


def _hue(image: Image.Image, degrees: float) -> Image.Image:
    h, s, v = image.convert("HSV").split()
    h = h.point(lambda x: (x + int(degrees * 255 / 360)) % 256)
    return Image.merge("HSV", (h, s, v)).convert("RGB")


def _either(rng: Rng, degrees: float) -> float:
    return degrees if rng.random() < 0.5 else -degrees


def _grey(image: Image.Image) -> Image.Image:
    return ImageOps.grayscale(image).convert("RGB")


def _middle(image: Image.Image) -> Image.Image:
    w, h = image.size
    return image.crop((w // 8, h // 8, w * 7 // 8, h * 7 // 8))


KINDS: dict[str, Callable[[Image.Image, Rng], Image.Image]] = {
    "tiny32": lambda im, rng: _tiny(im, 32),
    "tiny48": lambda im, rng: _tiny(im, 48),
    "tiny64": lambda im, rng: _tiny(im, 64),
    "grey": lambda im, rng: _grey(im),
    "grey_crop": lambda im, rng: _grey(_middle(im)),
    "hue60": lambda im, rng: _hue(im, _either(rng, 60)),
    "hue150": lambda im, rng: _hue(im, 150),
    "in_place10": lambda im, rng: im.rotate(_either(rng, 10), Image.Resampling.BICUBIC),
    "in_place20": lambda im, rng: im.rotate(_either(rng, 20), Image.Resampling.BICUBIC),
    "jpeg8": lambda im, rng: _jpeg(im, 8),
    "jpeg8_small": lambda im, rng: _jpeg(_tiny(im, 120), 8),
}


def make_queries(root: Path, originals: list[str], out: Path) -> None:
    """One edit per kind of every original, saved under ``out`` (kept between runs)."""
    if out.exists():
        return
    out.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in originals:
        with Image.open(root / name) as im:
            photo = im.convert("RGB")
        for kind, edit in KINDS.items():
            edit(photo, rng).save(out / f"{Path(name).stem}__{kind}.jpg", quality=90)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", default="photos-50,scenes-50")
    ap.add_argument("--configs", default="plain;default")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--model-path", type=Path, default=ROOT.parent / "shared" / "models")
    ap.add_argument("--work", type=Path, default=Path("/tmp/imgsearch-named-edits"))
    args = ap.parse_args()
    set_threads(1)
    for name in args.sets.split(","):
        pool, size = name.rsplit("-", 1)
        root = holdout_set(pool, int(size), 0, args.data).parent
        truth = load_truth(root)
        stored, _ = library_files(truth)
        originals = sorted(set(truth.originals.values()))
        queries = args.work / f"queries-{name}"
        make_queries(root, originals, queries)
        folder = args.work / f"photos-{name}"
        if not folder.exists():
            folder.mkdir(parents=True)
            for f in stored:
                os.link(root / f, folder / Path(f).name)
        print(f"\n{name}: library of {len(stored)} files, {len(originals)} queries per kind")
        print(f"{'configuration':14s} {'kind':11s} {'R@1 strict':>10s} {'neutral':>8s}", end="")
        print(f" {'dup R':>6s} {'p50 ms':>7s} {'max ms':>7s}")
        for config in args.configs.split(";"):
            library = args.work / f"library-{name}-{config.replace(',', '_').replace('=', '-')}"
            settings = Settings(
                library=library, model_path=(args.model_path,), descriptor=config, threads=1
            )
            if not library.exists():
                with Library.open(settings, create=True) as lib:
                    model = lib.load_model(settings.model, bind=True)
                    index_collections(lib, model, IndexOptions(paths=[folder], progress=False))
            rows: dict[str, list[tuple[bool, bool, bool, float]]] = {}
            with SearchEngine.open(settings) as engine:
                name_of = {engine.records.image_id_for(folder / Path(f).name): f for f in stored}
                for query in sorted(queries.glob("*.jpg")):
                    stem, kind = query.stem.split("__")
                    original = f"{stem}.jpg"
                    started = time.perf_counter()
                    hits = engine.search_image(query, k=5)
                    ms = 1000 * (time.perf_counter() - started)
                    names = [name_of.get(h.id, "") for h in hits]
                    rest = [n for n in names if n == original or not truth.is_neutral(original, n)]
                    flagged = any(
                        h.duplicate and n == original for h, n in zip(hits, names, strict=True)
                    )
                    rows.setdefault(kind, []).append(
                        (names[:1] == [original], rest[:1] == [original], flagged, ms)
                    )
            for kind in KINDS:
                v = np.array(rows[kind], np.float64)
                print(
                    f"{config:14s} {kind:11s} {v[:, 0].mean():10.3f} {v[:, 1].mean():8.3f} "
                    f"{v[:, 2].mean():6.3f} {np.median(v[:, 3]):7.1f} {v[:, 3].max():7.1f}"
                )


if __name__ == "__main__":
    main()
