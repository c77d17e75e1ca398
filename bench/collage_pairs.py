"""Collages of two library photos as queries: is each of their pictures found and flagged?

    python bench/collage_pairs.py [--sets photos-120] [--layouts grid2,seamless,pair,grid3]
                                  [--count 40] [--indexed-edits 0]

The library holds a hold-out set's stored files (``bench/holdout.py``; originals, distractors,
other views, burst shots; with ``--indexed-edits N`` also N edits of each original, as a library
holding copies has); it is indexed with the default descriptor. The queries, made here under
/tmp (never in the repository): for each layout, ``--count`` collages of two originals drawn at
random, generated scenes (:func:`search.evaluation.sets.scenes.render_scene`: none is in the
library) in the other cells - ``grid2``: a 2x2 grid with 6-px white gutters (the hold-out sets'
collage); ``seamless``: a 2x2 grid without gutters; ``pair``: the two photos butted side by
side at one height; ``grid3``: a 3x3 grid with 2-px gutters. Each query runs through
:meth:`search.query.SearchEngine.search_image` (the code the API runs, k = 12). Printed per
layout: the collages with both, one and none of their two pictures flagged ``duplicate`` (a
stored image of the picture: its original or an edit of it), the flags of other pictures (of
the same object: neutral, else wrong), query p50 / p99 ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.edit_queries import library_files  # noqa: E402
from bench.holdout import check_sets, holdout_options, holdout_set, one_thread  # noqa: E402
from indexer.run import IndexOptions, index_collections  # noqa: E402
from search.evaluation import GroundTruth, load_truth  # noqa: E402
from search.evaluation.sets.scenes import render_scene  # noqa: E402
from search.library import Library  # noqa: E402
from search.query import SearchEngine  # noqa: E402
from search.settings import Settings  # noqa: E402

LAYOUTS = {"grid2": (2, 6), "seamless": (2, 0), "grid3": (3, 2), "pair": (0, 0)}
K = 12


def collage(photos: list[Image.Image], layout: str, rng: np.random.Generator) -> Image.Image:
    """The two ``photos`` in ``layout`` (module doc), scenes in the other cells."""
    if layout == "pair":
        height = 360
        parts = [p.resize((round(p.width * height / p.height), height)) for p in photos]
        out = Image.new("RGB", (parts[0].width + parts[1].width, height))
        out.paste(parts[0], (0, 0))
        out.paste(parts[1], (parts[0].width, 0))
        return out
    side, gutter = LAYOUTS[layout]
    tile = (320, 240) if side == 2 else (220, 165)
    cells = [*photos, *(render_scene(rng, tile) for _ in range(side * side - 2))]
    out = Image.new("RGB", (side * (tile[0] + gutter) - gutter, side * (tile[1] + gutter) - gutter))
    out.paste((255, 255, 255), (0, 0, *out.size))
    for k, n in enumerate(rng.permutation(side * side).tolist()):
        at = ((k % side) * (tile[0] + gutter), (k // side) * (tile[1] + gutter))
        out.paste(cells[n].convert("RGB").resize(tile), at)
    return out


def queries(
    truth: GroundTruth, layout: str, count: int, out: Path
) -> list[tuple[Path, tuple[str, str]]]:
    """``count`` collages of two originals each in ``layout``, saved under ``out``."""
    originals = sorted(set(truth.originals.values()))
    rng = np.random.default_rng([len(originals), count, sorted(LAYOUTS).index(layout)])
    made = []
    for n in range(count):
        a, b = (originals[i] for i in rng.choice(len(originals), 2, replace=False))
        photos = [Image.open(truth.root / name).convert("RGB") for name in (a, b)]
        path = out / f"{layout}{n:03d}.jpg"
        collage(photos, layout, rng).save(path, quality=90)
        made.append((path, (a, b)))
    return made


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sets", default="photos-120")
    ap.add_argument("--layouts", default=",".join(LAYOUTS))
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--indexed-edits", type=int, default=0)
    holdout_options(ap)
    args = ap.parse_args()
    layouts = args.layouts.split(",")
    if bad := [x for x in layouts if x not in LAYOUTS]:
        ap.error(f"--layouts: unknown {', '.join(bad)} (of {', '.join(LAYOUTS)})")
    if args.count < 1 or args.indexed_edits < 0:
        ap.error("--count must be at least 1, --indexed-edits at least 0")
    sets = check_sets(ap, args.sets)
    one_thread()
    for spec, (pool, size) in zip(args.sets.split(","), sets, strict=True):
        truth = load_truth(holdout_set(pool, size, args.seed, args.data))
        work = Path(tempfile.mkdtemp(prefix="imgsearch-collage-pairs-"))
        try:
            run(truth, spec, layouts, args, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)


def run(
    truth: GroundTruth, spec: str, layouts: list[str], args: argparse.Namespace, work: Path
) -> None:
    stored, _ = library_files(truth, args.indexed_edits)
    folder = work / "photos"
    folder.mkdir()
    for name in stored:
        os.link(truth.root / name, folder / Path(name).name)
    settings = Settings(library=work / "library", model_path=(args.model_path,), threads=1)
    with Library.open(settings, create=True) as lib:
        model = lib.load_model(settings.model, bind=True)
        index_collections(lib, model, IndexOptions(paths=[folder], progress=False))
    picture = {name: truth.originals.get(name, name) for name in stored}
    print(f"{spec}: library of {len(stored)} files, {args.count} collages a layout (k = {K})")
    print(f"{'layout':10s} {'both':>5s} {'one':>5s} {'none':>5s} {'neutral':>8s} {'wrong':>6s}")
    with SearchEngine.open(settings) as engine:
        name_of = {engine.records.image_id_for(folder / Path(n).name): n for n in stored}
        for layout in layouts:
            counts, ms = Counter[str](), []
            for path, pair in queries(truth, layout, args.count, work):
                t0 = time.perf_counter()
                hits = engine.search_image(path, k=K)
                ms.append(1000 * (time.perf_counter() - t0))
                found = set()
                for hit in hits:
                    name = name_of.get(hit.id, "")
                    if not hit.duplicate or not name:
                        continue
                    if picture[name] in pair:
                        found.add(picture[name])
                    elif any(truth.is_neutral(p, picture[name]) for p in pair):
                        counts["neutral"] += 1
                    else:
                        counts["wrong"] += 1
                counts[("none", "one", "both")[len(found)]] += 1
            p50, p99 = np.percentile(ms, [50, 99])
            print(
                f"{layout:10s} {counts['both']:5d} {counts['one']:5d} {counts['none']:5d} "
                f"{counts['neutral']:8d} {counts['wrong']:6d}   p50 {p50:.0f} ms, p99 {p99:.0f} ms"
            )


if __name__ == "__main__":
    main()
