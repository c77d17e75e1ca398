"""Pixelated copies as queries against a library of originals (the ``unblock`` option).

    python bench/pixelated.py [--sets photos-50,scenes-450] [--blocks 6,7,9,14,16]
                              [--configs 'plain;default,unblock=off;default'] [--seed 0]

Each set is a hold-out set of ``bench/holdout.py`` (``POOL-N``, made under /tmp when missing)
whose edited copies are replaced by pixelated ones, made here (``/tmp/imgsearch-pixelated-...``,
never in the repository), five of each original, one of each kind:

* ``mosaic``: each block the mean of its pixels (the usual mosaic filter);
* ``sampled``: each block one pixel of it (nearest-neighbour down and up again);
* ``blown_up``: a thumbnail of 40-72 px enlarged 4-8x with nearest-neighbour;
* ``mosaic_crop``: a crop of 55-80 % of the area, then a mosaic;
* ``mosaic_part``: a mosaic over one rectangle of 25-50 % of the picture (a face or a plate
  hidden; no grid over the whole picture: the control).

Block sizes are drawn from ``--blocks`` (px of the original), JPEG quality from 60-92. The
library holds the set's originals, distractors, other views and burst shots; every copy is a
query through the engine the API runs (``bench/edit_queries.py``'s protocol and tables: R@1
strict / neutral, recall at 99 % precision, the ``duplicate`` flag, per kind).

The detector's thresholds (:mod:`models.mosaic`) were chosen on two scratch sets made with
other code and other parameters (blocks 8/10/12 at JPEG 90; 5/8/11/15/18 at 85); the default
``--blocks`` and the quality range here are neither. Also printed: how many of the hold-out
set's own files (originals, distractors, views, burst shots and its ten kinds of edited
copies: collages, small JPEGs, noise, borders ...) the detector calls pixelated - none should
be.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.edit_queries import library_files, print_tables, run_configs  # noqa: E402
from bench.holdout import derived_set, holdout_set  # noqa: E402
from models import load_image, mosaic_grid  # noqa: E402
from search.evaluation import load_truth  # noqa: E402
from search.index import set_threads  # noqa: E402

KINDS = ("mosaic", "sampled", "blown_up", "mosaic_crop", "mosaic_part")


def _mosaic(img: Image.Image, block: int, sample: bool = False) -> Image.Image:
    down = Image.Resampling.NEAREST if sample else Image.Resampling.BOX
    size = (max(1, img.width // block), max(1, img.height // block))
    return img.resize(size, down).resize(img.size, Image.Resampling.NEAREST)


def _crop(img: Image.Image, rng: np.random.Generator, lo: float, hi: float) -> tuple[int, ...]:
    share = float(np.sqrt(rng.uniform(lo, hi)))
    w, h = int(img.width * share), int(img.height * share)
    x, y = int(rng.integers(0, img.width - w + 1)), int(rng.integers(0, img.height - h + 1))
    return x, y, x + w, y + h


def pixelate(
    img: Image.Image, kind: str, rng: np.random.Generator, blocks: list[int]
) -> Image.Image:
    block = int(rng.choice(blocks))
    if kind == "mosaic":
        return _mosaic(img, block)
    if kind == "sampled":
        return _mosaic(img, block, sample=True)
    if kind == "blown_up":
        side, factor = int(rng.integers(40, 73)), int(rng.integers(4, 9))
        thumb = img.copy()
        thumb.thumbnail((side, side), Image.Resampling.BOX)
        return thumb.resize((thumb.width * factor, thumb.height * factor), Image.Resampling.NEAREST)
    if kind == "mosaic_crop":
        return _mosaic(img.crop(_crop(img, rng, 0.55, 0.80)), block)
    if kind == "mosaic_part":
        box = _crop(img, rng, 0.25, 0.50)
        out = img.copy()
        out.paste(_mosaic(img.crop(box), block), box[:2])
        return out
    raise ValueError(kind)


def pixelated_set(holdout: Path, blocks: list[int], seed: int) -> Path:
    """The truth file of the pixelated set made from the hold-out set ``holdout`` (made when
    missing): five pixelated copies of each original instead of its edits."""
    out = Path(f"/tmp/imgsearch-pixelated-{holdout.parent.name}-b{'_'.join(map(str, blocks))}")

    def make(img: Image.Image, kind: str, rng: np.random.Generator) -> Image.Image:
        return pixelate(img, kind, rng, blocks)

    return derived_set(holdout, out, "pixelated", KINDS, make, 0x91C5, seed, (60, 92))


def detector_counts(truth_path: Path, holdout: Path) -> str:
    """How many of the pixelated copies, and of the other files, the detector calls
    pixelated (at the decode scale a query is analysed at)."""
    truth, base = load_truth(truth_path), load_truth(holdout)
    found: dict[str, list[int]] = {}
    others = list(base.files)  # its originals, distractors, views, bursts and edited copies
    for root, names, label in ((truth.root, list(truth.originals), None), (base.root, others, "")):
        for name in names:
            image = load_image(root / name, draft_size=(224, 224), crop_fraction=0.875).image
            kind = label if label is not None else truth.edit_of(name) or "?"
            found.setdefault(kind or "other files", [0, 0])
            found[kind or "other files"][0] += mosaic_grid(image) is not None
            found[kind or "other files"][1] += 1
    return ", ".join(f"{kind} {hit}/{n}" for kind, (hit, n) in sorted(found.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sets", default="photos-50,scenes-450")
    ap.add_argument("--blocks", default="6,7,9,14,16")
    ap.add_argument("--configs", default="plain;default,unblock=off;default")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--every", type=int, default=0, help="query one copy in n (0: by size)")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--model-path", type=Path, default=ROOT.parent / "shared" / "models")
    args = ap.parse_args()
    blocks = [int(b) for b in args.blocks.split(",")]
    set_threads(1)  # as a server runs a query
    threadpool_limits(limits=1, user_api="blas")
    for spec in args.sets.split(","):
        pool, size = spec.rsplit("-", 1)
        holdout = holdout_set(pool, int(size), args.seed, args.data)
        truth_path = pixelated_set(holdout, blocks, args.seed)
        truth = load_truth(truth_path)
        print(f"{spec}: detector: {detector_counts(truth_path, holdout)}", flush=True)
        every = args.every or (1 if int(size) <= 200 else 2)
        outcomes = run_configs(spec, truth, args.configs.split(";"), args.model_path, every)
        print_tables(f"pixelated {spec}", outcomes, len(library_files(truth)[0]))


if __name__ == "__main__":
    main()
