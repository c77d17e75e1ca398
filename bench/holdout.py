"""Build the independent hold-out copy sets (and optionally score them with the plain embedding).

    python bench/holdout.py [--pools photos,scenes] [--sizes 30,50] [--seed 0] [--evaluate]

Each pool (``photos``: hymenoptera val + UKBench's later views; ``scenes``: generated) is made
at each size (originals; 10 edits each, a third as many distractors): the smaller gives a
library under 500 images, the larger one over 500. Sets go to
``/tmp/imgsearch-holdout-POOL-N-seedS`` (never into the repository). Shares neither photos nor
edit code with the dev set of ``bench/copies.py`` (see :mod:`search.evaluation.sets.holdout`).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from search.evaluation import load_truth, make_holdout  # noqa: E402

PER_ORIGINAL = 10


def holdout_set(pool: str, originals: int, seed: int, data: Path) -> Path:
    """The truth file of one hold-out set (made when missing)."""
    out = Path(f"/tmp/imgsearch-holdout-{pool}-{originals}-seed{seed}")
    truth = out / "ground_truth.json"
    if not truth.is_file():
        shutil.rmtree(out, ignore_errors=True)
        print(f"making the hold-out set {out}")
        make_holdout(
            pool,
            out,
            data=data,
            originals=originals,
            per_original=PER_ORIGINAL,
            distractors=max(1, originals // 3),
            seed=seed,
        )
    return truth


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--pools", default="photos,scenes")
    ap.add_argument("--sizes", default="30,50")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--evaluate", action="store_true", help="score with the plain embedding")
    ap.add_argument("--model-path", type=Path, default=REPO.parent / "shared" / "models")
    args = ap.parse_args()
    for pool in args.pools.split(","):
        for size in [int(s) for s in args.sizes.split(",")]:
            t0 = time.perf_counter()
            path = holdout_set(pool, size, args.seed, args.data)
            truth = load_truth(path)
            print(
                f"{pool} x {size}: {len(truth.files)} files, {len(truth.copy_queries)} copies, "
                f"{len(set(truth.related.values()))} related groups, "
                f"{time.perf_counter() - t0:.1f} s"
            )
            if args.evaluate:
                from search.evaluation import evaluate_folder, model_embedder

                ev = evaluate_folder(truth, model_embedder(search_path=[args.model_path]))
                print("  plain: " + ", ".join(f"{k} {v:.3f}" for k, v in ev.metrics.items()))


if __name__ == "__main__":
    main()
