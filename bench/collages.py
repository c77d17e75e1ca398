"""Collages as queries against a library of originals (collage cells, :mod:`models.collage`).

    python bench/collages.py [--sets photos-50,scenes-450]
                             [--configs 'plain;default,regions=off;default+tiles-only;default']

Each set is a hold-out set of ``bench/holdout.py`` (``POOL-N``, made under /tmp when missing)
whose edited copies are replaced by collages, made here (``/tmp/imgsearch-collages-...``,
never in the repository), one of each kind per original; the other pictures of a collage are
generated scenes (:func:`search.evaluation.sets.scenes.render_scene`, new ones: none is in the
library):

* ``grid3``: a 3x3 grid, the original in a random cell (``ImageOps.fit``), gutters of 1-8 px
  in white, black or grey;
* ``grid4``: a 4x4 grid, gutters of 2-6 px;
* ``strip``: three pictures in a row with 4-12 px gutters, cells of the original's aspect;
* ``side_by_side``: the original and a scene of its size butted together (no gutter);
* ``pasted``: the original at 45-70 % of a scene's width pasted into it anywhere;
* ``grid2_seamless``: a 2x2 grid without gutters (the hold-out sets' own collage has 6 px).

JPEG quality 70-92. The library holds the set's originals, distractors, other views and burst
shots; every collage is a query through the engine the API runs (``bench/edit_queries.py``'s
protocol and tables). ``+tiles-only`` after a configuration runs it with the collage cells
turned off (:meth:`models.views.ViewSet.regions` embeds the 2x2 tiles alone, as before the
cells): the baseline, in the same run. Also printed: how many of the hold-out set's own files
have cells: its photos (originals, distractors, views, burst shots) and each kind of edit.

The detector's thresholds were chosen on scratch collages made with other code (3x3 grids with
2 px white gutters, photos side by side and pasted into other photos); none of these kinds'
parameters were used to choose them.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from unittest import mock

import numpy as np
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.edit_queries import kind_of, library_files, print_tables, run_configs  # noqa: E402
from bench.holdout import derived_bench_args, derived_set, derived_sets  # noqa: E402
from models import collage_cells, load_image  # noqa: E402
from search.evaluation import load_truth  # noqa: E402
from search.evaluation.sets.scenes import render_scene  # noqa: E402

KINDS = ("grid3", "grid4", "strip", "side_by_side", "pasted", "grid2_seamless")
GUTTER_COLOURS = ((255, 255, 255), (0, 0, 0), (128, 128, 128))
TILES_ONLY = "+tiles-only"


def _grid(
    img: Image.Image, rng: np.random.Generator, side: int, gutters: tuple[int, int]
) -> Image.Image:
    cell = (max(48, img.width // side), max(48, img.height // side))
    gutter = int(rng.integers(gutters[0], gutters[1] + 1))
    colour = GUTTER_COLOURS[int(rng.integers(0, len(GUTTER_COLOURS)))]
    size = (side * cell[0] + (side + 1) * gutter, side * cell[1] + (side + 1) * gutter)
    out = Image.new("RGB", size, colour)
    where = int(rng.integers(0, side * side))
    for k in range(side * side):
        part = ImageOps.fit(img, cell) if k == where else render_scene(rng, cell)
        out.paste(
            part,
            (gutter + (k % side) * (cell[0] + gutter), gutter + (k // side) * (cell[1] + gutter)),
        )
    return out


def collage(img: Image.Image, kind: str, rng: np.random.Generator) -> Image.Image:
    if kind == "grid3":
        return _grid(img, rng, 3, (1, 8))
    if kind == "grid4":
        return _grid(img, rng, 4, (2, 6))
    if kind == "grid2_seamless":
        return _grid(img, rng, 2, (0, 0))
    if kind == "strip":
        cell = (max(64, img.width // 2), max(64, img.height // 2))
        gutter = int(rng.integers(4, 13))
        out = Image.new("RGB", (3 * cell[0] + 4 * gutter, cell[1] + 2 * gutter), (255, 255, 255))
        where = int(rng.integers(0, 3))
        for k in range(3):
            part = (
                img.resize(cell, Image.Resampling.BILINEAR)
                if k == where
                else render_scene(rng, cell)
            )
            out.paste(part, (gutter + k * (cell[0] + gutter), gutter))
        return out
    if kind == "side_by_side":
        out = Image.new("RGB", (2 * img.width, img.height))
        left = bool(rng.integers(0, 2))
        out.paste(img, (0 if left else img.width, 0))
        out.paste(render_scene(rng, img.size), (img.width if left else 0, 0))
        return out
    if kind == "pasted":
        scale = float(rng.uniform(1.4, 2.2))
        out = render_scene(rng, (int(img.width * scale), int(img.height * scale)))
        share = float(rng.uniform(0.45, 0.70))
        w = int(out.width * share)
        h = max(1, round(w * img.height / img.width))
        x, y = (
            int(rng.integers(0, out.width - w + 1)),
            int(rng.integers(0, max(1, out.height - h + 1))),
        )
        out.paste(img.resize((w, h), Image.Resampling.BILINEAR), (x, y))
        return out
    raise ValueError(kind)


def collage_set(holdout: Path, seed: int) -> Path:
    """The truth file of the collage set made from the hold-out set ``holdout`` (made when
    missing): one collage of each kind of each original instead of its edits."""
    out = Path(f"/tmp/imgsearch-collages-{holdout.parent.name}")
    return derived_set(holdout, out, "collages", KINDS, collage, 0xC011, seed, (70, 92))


def cell_counts(truth_path: Path, holdout: Path) -> str:
    """How many of the collages, and of the hold-out set's own files by kind, have cells (at
    the scale a query is decoded at)."""
    truth, base = load_truth(truth_path), load_truth(holdout)
    found: dict[str, list[int]] = {}
    files = [(truth.root, name, truth.edit_of(name) or "?") for name in truth.originals]
    for name in base.files:
        kind = kind_of(base, name) if base.edit_of(name) else "photos"
        files.append((base.root, name, f"hold-out {kind}"))
    for root, name, kind in files:
        image = load_image(root / name, draft_size=(224, 224), crop_fraction=0.875).image
        found.setdefault(kind, [0, 0])
        found[kind][0] += collage_cells(image) is not None
        found[kind][1] += 1
    return ", ".join(f"{kind} {hit}/{n}" for kind, (hit, n) in sorted(found.items()))


def main() -> None:
    args = derived_bench_args(
        __doc__, "photos-50,scenes-450", f"plain;default,regions=off;default{TILES_ONLY};default"
    )
    for spec, holdout, truth_path, every in derived_sets(args, collage_set):
        truth = load_truth(truth_path)
        print(f"{spec}: cells found: {cell_counts(truth_path, holdout)}", flush=True)
        outcomes = {}
        for config in args.configs.split(";"):
            plain = config.removesuffix(TILES_ONLY)
            off = mock.patch("models.views.collage_cells", return_value=None)
            with off if plain != config else contextlib.nullcontext():
                outcomes[config] = run_configs(spec, truth, [plain], args.model_path, every)[plain]
        print_tables(f"collages {spec}", outcomes, len(library_files(truth)[0]))


if __name__ == "__main__":
    main()
