"""The ratio-test matches of the key-point check are OpenCV's brute-force matcher's, found by
FAISS's binary index: the same pairs in the same order, so the same RANSAC and inlier counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from search.descriptor import local_features
from search.descriptor.verify import matches

pytest.importorskip("cv2")
from bench.key_points import opencv_matches  # the baseline the bench measures


def test_matches_are_opencvs_on_photos_and_ties(data_dir: Path) -> None:
    photos = sorted((data_dir / "hymenoptera" / "images").rglob("*.jpg"))[:4]
    features = [local_features(Image.open(p), mirrored=True) for p in photos]
    crop = Image.open(photos[0]).convert("RGB")
    w, h = crop.size
    copy = crop.crop((w // 5, h // 6, w, h)).resize((w // 2, h // 2)).rotate(8)
    features.append(local_features(copy, mirrored=False))
    planes = [f.upright[1] for f in features] + [features[0].mirrored[1]]  # type: ignore[index]
    rng = np.random.default_rng(0)
    # repeated rows and few distinct values: equal distances everywhere (the tie rules)
    few = rng.integers(0, 256, (12, 32), dtype=np.uint8)
    planes += [few[rng.integers(0, 12, 300)], few[rng.integers(0, 12, 200)]]
    compared = 0
    for da in planes:
        for db in planes:
            if da is None or db is None or da is db:
                continue
            rows, targets = matches(da, db)
            expected_rows, expected_targets = opencv_matches(da, db)
            assert rows.tolist() == expected_rows.tolist()
            assert targets.tolist() == expected_targets.tolist()
            compared += len(expected_rows)
    assert compared > 500  # real matches were compared, not only empty lists
