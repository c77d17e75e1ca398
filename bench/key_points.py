"""The key-point check's matching: FAISS's binary index against OpenCV's brute-force matcher.

    python bench/key_points.py [--pairs 300] [--set DIR]

Key points (ORB, as the check extracts them) of a hold-out copy set's files (``bench/holdout.py``;
default ``/tmp/imgsearch-holdout-photos-30-seed0``, made when missing): each edited copy with
its original (copies) and as many random pairs (mostly not). Every pair is counted with
:func:`search.descriptor.count_inliers` (both directions, mirrored; RANSAC) and
:func:`search.descriptor.key_points_match` twice in one run, alternating: with the project's
matches (:func:`search.descriptor.key_point_features.matches`: FAISS) and with OpenCV's
``knnMatch`` and a dict (what the check used before). Printed: ms per pair of each, the ratio,
and how many pairs got a different inlier count or decision (must be 0).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.holdout import holdout_set  # noqa: E402
from models import load_image  # noqa: E402
from search.descriptor import verify  # noqa: E402
from search.descriptor.key_point_features import RATIO  # noqa: E402


def opencv_matches(da: np.ndarray, db: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ratio-test matches by OpenCV's knnMatch, one per point of db (the baseline)."""
    cv2 = verify.opencv()
    best: dict[int, object] = {}
    for pair in cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(da, db, k=2):
        if len(pair) == 2 and pair[0].distance < RATIO * pair[1].distance:
            m = pair[0]
            if m.trainIdx not in best or m.distance < best[m.trainIdx].distance:  # type: ignore[attr-defined]
                best[m.trainIdx] = m
    found = list(best.values())
    return (
        np.array([m.queryIdx for m in found], np.int64),  # type: ignore[attr-defined]
        np.array([m.trainIdx for m in found], np.int64),  # type: ignore[attr-defined]
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=300)
    ap.add_argument("--set", type=Path, default=None, help="a copy set (ground_truth.json)")
    args = ap.parse_args()
    truth = (
        args.set / "ground_truth.json"
        if args.set
        else holdout_set("photos", 30, 0, ROOT.parent / "shared" / "data")
    )
    folder = truth.parent
    edits = sorted(json.loads(truth.read_text())["edits"])[: args.pairs // 2]
    files = sorted({*edits, *(e.split("__")[0] + ".jpg" for e in edits)})
    features = {}
    for name in files:
        image = load_image((folder / name).read_bytes(), draft_size=verify.KEY_POINT_DRAFT).image
        features[name] = (
            verify.local_features(image),
            verify.local_features(image, mirrored=False),
        )
    rng = random.Random(0)
    pairs = [(e, e.split("__")[0] + ".jpg") for e in edits]
    pairs += [(rng.choice(edits), rng.choice(files)) for _ in range(args.pairs - len(pairs))]
    ours = verify.matches
    seconds = {"faiss": 0.0, "opencv": 0.0}
    counts: dict[str, list[tuple[int, bool]]] = {"faiss": [], "opencv": []}
    for n, (a, b) in enumerate(pairs):
        for name in ("faiss", "opencv") if n % 2 else ("opencv", "faiss"):
            verify.matches = ours if name == "faiss" else opencv_matches  # type: ignore[assignment]
            first, second = features[a][0], features[b][1]
            started = time.perf_counter()
            found = verify.count_inliers(first, second), verify.key_points_match(first, second)
            seconds[name] += time.perf_counter() - started
            counts[name].append(found)
    verify.matches = ours  # type: ignore[assignment]
    differ = sum(x != y for x, y in zip(counts["faiss"], counts["opencv"], strict=True))
    copies = sum(c >= verify.MIN_INLIERS for c, _ in counts["faiss"])
    ms = {k: 1000 * v / len(pairs) for k, v in seconds.items()}
    print(f"{len(pairs)} pairs of {folder.name} ({copies} with >= {verify.MIN_INLIERS} inliers)")
    print(f"  OpenCV knnMatch: {ms['opencv']:.2f} ms per pair (count_inliers + key_points_match)")
    ratio = ms["opencv"] / ms["faiss"]
    print(f"  FAISS binary:    {ms['faiss']:.2f} ms per pair; {ratio:.2f}x faster")
    print(f"  pairs with another inlier count or decision: {differ} (must be 0)")


if __name__ == "__main__":
    main()
