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
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from search.descriptor import DescriptorConfig, DescriptorError  # noqa: E402
from search.evaluation import HOLDOUT_POOLS, load_truth, make_holdout  # noqa: E402
from search.index import set_threads  # noqa: E402

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


def holdout_options(ap: argparse.ArgumentParser) -> None:
    """A hold-out bench's ``--seed``, ``--data`` and ``--model-path`` (../shared by default)."""
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--model-path", type=Path, default=REPO.parent / "shared" / "models")


def check_sets(ap: argparse.ArgumentParser, sets: str) -> list[tuple[str, int]]:
    """``(pool, size)`` of each POOL-N of ``sets`` (comma-separated), or ``ap``'s error."""
    out = []
    for spec in sets.split(","):
        pool, _, size = spec.rpartition("-")
        if pool not in HOLDOUT_POOLS or not size.isdigit() or int(size) < 1:
            ap.error(f"--sets: {spec!r} is not POOL-N (POOL one of {', '.join(HOLDOUT_POOLS)})")
        out.append((pool, int(size)))
    return out


def one_thread() -> None:
    """The model, FAISS and BLAS in one thread each, as a server runs a query."""
    set_threads(1)
    threadpool_limits(limits=1, user_api="blas")


def derived_bench_args(doc: str | None, sets: str, configs: str) -> argparse.Namespace:
    """The command line of a bench over sets derived from the hold-out sets
    (``bench/collages.py``, ``bench/overlays.py``): ``--sets``, ``--configs``, ``--seed``,
    ``--every``, ``--data``, ``--model-path``; the model, FAISS and BLAS then run in one thread,
    as a server runs a query."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sets", default=sets)
    ap.add_argument("--configs", default=configs)
    ap.add_argument("--every", type=int, default=0, help="query one copy in n (0: by size)")
    holdout_options(ap)
    args = ap.parse_args()
    check_sets(ap, args.sets)
    if args.every < 0:
        ap.error("--every: 0 (by size) or a positive number")
    for config in args.configs.split(";"):  # a bench's own "+suffix" after a configuration
        try:
            DescriptorConfig.parse(config.partition("+")[0])
        except DescriptorError as error:
            ap.error(f"--configs: {error}")
    one_thread()
    return args


def derived_sets(
    args: argparse.Namespace, make: Callable[[Path, int], Path]
) -> Iterator[tuple[str, Path, Path, int]]:
    """``(spec, hold-out truth, derived truth, every)`` for each of ``args.sets``: the
    hold-out set (made when missing), the set ``make(holdout, seed)`` derives from it, and
    which share of its copies to query (all up to 200 originals, else one in three)."""
    for spec in args.sets.split(","):
        pool, size = spec.rsplit("-", 1)
        holdout = holdout_set(pool, int(size), args.seed, args.data)
        every = args.every or (1 if int(size) <= 200 else 3)
        yield spec, holdout, make(holdout, args.seed), every


def derived_set(
    holdout: Path,
    out: Path,
    name: str,
    kinds: Sequence[str],
    make: Callable[[Image.Image, str, np.random.Generator], Image.Image],
    salt: int,
    seed: int,
    quality: tuple[int, int],
) -> Path:
    """The truth file of a set made from the hold-out set ``holdout`` in ``out`` (made when
    missing): its originals, distractors and related files (hard links), and instead of its
    edits one copy of each of ``kinds`` per original, ``make(original, kind, rng)`` saved as
    JPEG at a quality drawn from ``quality`` (inclusive); ``name`` prefixes the set's name."""
    base = json.loads(holdout.read_text())
    truth = out / "ground_truth.json"
    if truth.is_file():
        return truth
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    keep = list(base["distractors"])
    clusters, edits = {}, {}
    for n, (stem, members) in enumerate(sorted(base["clusters"].items())):
        original = members[0]
        keep.append(original)
        rng = np.random.default_rng([seed, n, salt])
        img = Image.open(holdout.parent / original).convert("RGB")
        clusters[stem] = [original]
        for kind in kinds:
            copy = f"{stem}__{kind}.jpg"
            made = make(img, kind, rng)  # then the quality: the draws in the sets' order
            made.save(out / copy, "JPEG", quality=int(rng.integers(quality[0], quality[1] + 1)))
            clusters[stem].append(copy)
            edits[copy] = {"edits": [kind], "params": {}}
    for file in keep:
        os.link(holdout.parent / file, out / file)
    base.update(name=f"{name}-{base['name']}", clusters=clusters, edits=edits)
    truth.write_text(json.dumps(base, indent=1) + "\n", encoding="utf-8")
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
