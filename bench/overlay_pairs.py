"""Pairs the key points confirm, before and after the two pictures are compared.

    python bench/overlay_pairs.py [--family holdout] [--sets photos-120] [--workers 2]

Over one copy set (``--family`` as ``bench/dedup_kinds.py``'s): every edited copy with its
original (copies), and every two files of one edit kind that show different pictures (not two
photos of one object): different photos that carry the same overlay - stickers, a watermark, a
halftone's screen - are such pairs. Each pair is matched by ORB + RANSAC
(:func:`search.descriptor.count_inliers`, the first file mirrored too) as it was before
(``pictures_agree`` taken to say yes) and as it is (the aligned pictures compared,
:mod:`search.descriptor.alignment`), in the same run. Printed per kind: the pairs, and how
many of them reach ``MIN_INLIERS`` before and after.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections import Counter
from collections.abc import Callable
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import search.descriptor.verify as verify  # noqa: E402
from bench.dedup_kinds import FAMILIES, family_truth  # noqa: E402
from bench.edit_queries import kind_of  # noqa: E402
from models import load_image  # noqa: E402
from search.descriptor import KEY_POINT_DRAFT, MIN_INLIERS, LocalFeatures  # noqa: E402
from search.evaluation import GroundTruth  # noqa: E402

_FEATURES: dict[str, LocalFeatures] = {}  # each worker's (forked) copy


def features(path: Path) -> LocalFeatures:
    """A file's key points, read as ``dedup --verify`` reads it."""
    return verify.local_features(load_image(path, draft_size=KEY_POINT_DRAFT).image)


def match(pair: tuple[str, str]) -> tuple[int, int]:
    """The pair's inliers without the pictures compared, and with them (the same when the
    first is under MIN_INLIERS: the comparison only ever refuses a transform)."""
    a, b = (_FEATURES[name] for name in pair)
    real: Callable[..., bool] = verify.pictures_agree
    verify.pictures_agree = lambda *args, **kwargs: True  # type: ignore[assignment]
    try:
        before = verify.count_inliers(a, b)
    finally:
        verify.pictures_agree = real  # type: ignore[assignment]
    return before, verify.count_inliers(a, b) if before >= MIN_INLIERS else before


def pairs_of(truth: GroundTruth) -> tuple[list[tuple[str, str]], dict[tuple[str, str], str]]:
    """Every (copy, original), and every two files of one kind showing different pictures;
    each pair's row label."""
    picture = {f: truth.originals.get(f, f) for f in truth.files}
    kind = {f: kind_of(truth, f) if f in truth.originals else "photo" for f in truth.files}
    label = {(copy, original): kind[copy] for copy, original in truth.originals.items()}
    by_kind: dict[str, list[str]] = {}
    for name in truth.files:
        by_kind.setdefault(kind[name], []).append(name)
    for name, members in by_kind.items():
        for a, b in itertools.combinations(members, 2):
            if picture[a] != picture[b] and not truth.is_neutral(picture[a], picture[b]):
                label[(a, b)] = f"different: {name}"
    return list(label), label


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--family", choices=sorted(FAMILIES), default="holdout")
    ap.add_argument("--sets", default="photos-120")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args()
    for spec in args.sets.split(","):
        truth = family_truth(ap, args.family, spec, args.seed, args.data)
        start = time.perf_counter()
        with Pool(args.workers) as workers:
            made = workers.map(features, [truth.root / f for f in truth.files], chunksize=8)
        _FEATURES.update(zip(truth.files, made, strict=True))
        pairs, label = pairs_of(truth)
        with Pool(args.workers) as workers:  # forked after _FEATURES is filled
            counts = workers.map(match, pairs, chunksize=64)
        total, before, after = Counter[str](), Counter[str](), Counter[str]()
        for pair, (was, now) in zip(pairs, counts, strict=True):
            total[label[pair]] += 1
            before[label[pair]] += was >= MIN_INLIERS
            after[label[pair]] += now >= MIN_INLIERS
        print(
            f"\n{args.family} {spec}: {len(truth.files)} files, {len(pairs)} pairs "
            f"({time.perf_counter() - start:.0f} s); pairs confirmed (>= {MIN_INLIERS} inliers)"
        )
        print(f"{'pairs of':28s} {'pairs':>7s} {'before':>7s} {'after':>7s}")
        for name in sorted(total, key=lambda n: (n.startswith("different"), n)):
            print(f"{name:28s} {total[name]:7d} {before[name]:7d} {after[name]:7d}")
        _FEATURES.clear()


if __name__ == "__main__":
    main()
