"""Build the hard copy-detection dev set from ../shared/data photos (and optionally score it).

    python bench/copies.py [OUT] [--per-original 20] [--seed 0] [--originals 60] [--evaluate]

Originals: a seeded sample of hymenoptera ``train/`` photos (two thirds) and one photo per
UKBench object (one third). The set goes to OUT (default /tmp/imgsearch-copies-dev; never into
the repository). Prints the generation rate; with ``--evaluate`` also the plain-embedding
figures of the hard set next to the easy shared ``near_duplicates`` set measured in the same
run (ratio hard / easy), and the per-edit breakdown.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from search.evaluation import (  # noqa: E402
    load_truth,
    make_copies,
)

DEFAULT_OUT = Path("/tmp/imgsearch-copies-dev")


def pick_originals(data: Path, count: int, seed: int) -> list[Path]:
    """Two thirds hymenoptera train photos, one third UKBench (one photo per object)."""
    rng = np.random.default_rng([seed, 60])
    hym = sorted((data / "hymenoptera" / "images" / "train").rglob("*.jpg"))
    uk_truth = json.loads((data / "ukbench_subset" / "ground_truth.json").read_text())
    uk_dir = data / "ukbench_subset" / "images"
    uk = [uk_dir / sorted(files)[0] for files in uk_truth["groups"].values()]
    n_uk = min(len(uk), count // 3)
    n_hym = min(len(hym), count - n_uk)
    picked = [hym[i] for i in sorted(rng.choice(len(hym), n_hym, replace=False))]
    picked += [uk[i] for i in sorted(rng.choice(len(uk), n_uk, replace=False))]
    return picked


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--per-original", type=int, default=20)
    ap.add_argument("--originals", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--evaluate", action="store_true", help="score it with the plain embedding")
    ap.add_argument("--model-path", type=Path, default=REPO.parent / "shared" / "models")
    ap.add_argument("--plot", type=Path, help="PNG precision-recall plot of the hard set")
    args = ap.parse_args()

    sources = pick_originals(args.data, args.originals, args.seed)
    t0 = time.perf_counter()
    truth_path = make_copies(
        sources, args.out, per_original=args.per_original, seed=args.seed, overwrite=True
    )
    took = time.perf_counter() - t0
    truth = load_truth(truth_path)
    n_copies = len(truth.copy_queries)
    print(f"copy set: {truth_path}")
    print(
        f"  originals {len(sources)} ({len(truth.distractors)} distractors without copies), "
        f"copies {n_copies}, files {len(truth.files)}, duplicate pairs {truth.n_duplicate_pairs()}"
    )
    print(f"  generated in {took:.1f} s = {n_copies / took:.0f} copies/s")
    if not args.evaluate:
        return

    from search.evaluation import evaluate_folder, model_embedder

    embed = model_embedder(search_path=[args.model_path])
    easy = load_truth(args.data / "near_duplicates")
    t0 = time.perf_counter()
    base_ev = evaluate_folder(easy, embed)
    base = base_ev.metrics
    hard_ev = evaluate_folder(truth, embed, plot=args.plot)
    took = time.perf_counter() - t0
    hard = hard_ev.metrics
    print(
        f"\nplain embedding ({getattr(embed, 'model_name', '?')}), "
        f"{len(easy.files) + len(truth.files)} images in {took:.1f} s"
    )
    print(f"{'metric':<16}{'near_duplicates':>16}{'hard copies':>14}{'hard/easy':>11}")
    for key in hard:
        ratio = hard[key] / base[key] if base.get(key) else float("nan")
        print(f"{key:<16}{base.get(key, float('nan')):>16.4f}{hard[key]:>14.4f}{ratio:>11.2f}")
    print(f"P99 threshold: near_duplicates {base_ev.p99_threshold}, hard {hard_ev.p99_threshold}")
    print(f"\n{'edit':<16}{'n':>5}{'recall@1':>10}{'cos(orig)':>11}{'found@P99':>11}")
    for edit, row in sorted(hard_ev.per_edit.items(), key=lambda kv: kv[1]["recall@1"]):
        cos = row["mean_cosine"] if row["mean_cosine"] is not None else float("nan")
        print(
            f"{edit:<16}{row['n']:>5}{row['recall@1']:>10.3f}{cos:>11.3f}"
            f"{row['detected_at_p99']:>11.3f}"
        )


if __name__ == "__main__":
    main()
