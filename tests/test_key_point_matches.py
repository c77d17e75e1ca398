"""The ratio-test matches of the key-point check are OpenCV's brute-force matcher's, found by
FAISS's binary index: the same pairs in the same order, so the same RANSAC and inlier counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from search.descriptor import local_features
from search.descriptor.key_point_features import matches

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


def test_matching_runs_in_one_openmp_thread_and_restores_the_callers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A busy machine made OpenMP's waiting threads cost a query's check its time budget: the
    binary search runs in one thread, and the caller's own setting (a server's, a bench's)
    is back afterwards."""
    import faiss

    rng = np.random.default_rng(1)
    da, db = (rng.integers(0, 256, (50, 32), dtype=np.uint8) for _ in range(2))
    seen: list[int] = []
    search = faiss.IndexBinaryFlat.search

    def counted(self, x, k, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(faiss.omp_get_max_threads())
        return search(self, x, k, *args, **kwargs)

    monkeypatch.setattr(faiss.IndexBinaryFlat, "search", counted)
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(2)
    try:
        matches(da, db)
        assert seen == [1] and faiss.omp_get_max_threads() == 2
    finally:
        faiss.omp_set_num_threads(before)


def test_a_querys_mirrored_key_points_are_made_only_when_a_match_asks(data_dir: Path) -> None:
    """A query's key points made ``lazy``: the same features as made at once, and a copy
    that matches as it is never makes its mirrored (or smoothed) ones; a mirrored copy
    does, and matches."""
    from dataclasses import fields

    from search.descriptor import key_points_match

    photo = Image.open(sorted((data_dir / "hymenoptera" / "images").rglob("*.jpg"))[0])
    photo = photo.convert("RGB")
    w, h = photo.size
    crop = photo.crop((w // 8, h // 8, w, h))
    lazy, eager = local_features(crop, lazy=True), local_features(crop)
    stored = local_features(photo, mirrored=False)
    assert key_points_match(lazy, stored)
    assert callable(lazy.__dict__["_mirrored"])  # never asked for: never made
    for f in fields(lazy):  # reading them makes them: the features made at once
        if f.name == "dense":  # a query's own (tests/test_dense_key_points.py)
            continue
        a, b = getattr(lazy, f.name), getattr(eager, f.name)
        assert (a is None) == (b is None)
        if a is not None and f.name != "smoothed":
            assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    mirrored = local_features(crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT), lazy=True)
    assert key_points_match(mirrored, stored)
    assert not callable(mirrored.__dict__["_mirrored"])
