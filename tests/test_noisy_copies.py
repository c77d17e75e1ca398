"""A noisy copy is matched by the key points of its picture smoothed.

Sensor noise of 12-30 grey levels fills ORB's 500 key points with corners of the noise: a noisy
duotone of a photo matched its original with no inliers at all. A picture whose noise
(:func:`search.descriptor.verify.noise_level`) reaches ``NOISY`` keeps the features of its
picture smoothed too, matched when its own fail.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from models import image_layout
from search.descriptor import MIN_INLIERS, count_inliers, layout_correlation
from search.descriptor.verify import local_features, noise_level
from tests.cli_process import run_cli
from tests.engine_library import photo_library

pytest.importorskip("cv2")

INKS = ((177, 107, 110), (167, 95, 235))  # a mauve and a violet: luma 129 and 124


def _photos(data_dir: Path, count: int) -> list[Path]:
    return sorted((data_dir / "hymenoptera" / "images" / "val").rglob("*.jpg"))[:count]


def _noisy_duotone(photo: Path, sigma: float, seed: int = 0) -> Image.Image:
    grey = ImageOps.grayscale(Image.open(photo).convert("RGB"))
    duotone = np.asarray(ImageOps.colorize(grey, *INKS), np.float32)
    noise = np.random.default_rng(seed).normal(0, sigma, (*duotone.shape[:2], 1))
    return Image.fromarray(np.clip(duotone + noise, 0, 255).astype(np.uint8))


def test_noise_level_reads_the_noise_added_to_a_flat_picture() -> None:
    rng = np.random.default_rng(1)
    for sigma in (3.0, 8.0, 20.0):
        grey = np.clip(128 + rng.normal(0, sigma, (384, 512)), 0, 255).astype(np.uint8)
        assert noise_level(grey) == pytest.approx(sigma, rel=0.15)
    assert noise_level(np.full((384, 512), 90, np.uint8)) == 0.0
    assert noise_level(np.zeros((2, 40), np.uint8)) == 0.0  # too small to say


def test_a_noisy_duotone_is_matched_by_its_smoothed_key_points(data_dir: Path) -> None:
    photos = _photos(data_dir, 8)
    originals = [local_features(Image.open(p)) for p in photos]
    for n, photo in enumerate(photos):
        query = _noisy_duotone(photo, 25, seed=n)
        rho = layout_correlation(image_layout(query), image_layout(Image.open(photo)))
        features = local_features(query, inverted=rho < 0)
        assert features.smoothed is not None
        own_only = count_inliers(replace(features, smoothed=None), originals[n])
        assert own_only < MIN_INLIERS, (photo.name, own_only)  # what the noise left
        assert count_inliers(features, originals[n]) >= MIN_INLIERS, photo.name
        others = [count_inliers(features, f) for m, f in enumerate(originals) if m != n]
        assert max(others) < MIN_INLIERS, (photo.name, others)  # no other photo confirmed


def test_clean_pictures_keep_only_their_own_key_points(data_dir: Path) -> None:
    """Smoothing is for noisy pictures: a clean one is matched as before, at no extra cost."""
    rgb = Image.open(_photos(data_dir, 1)[0]).convert("RGB")
    flat = Image.new("RGB", (512, 384), (90, 120, 150))
    for picture in (flat, rgb.resize((rgb.width // 2, rgb.height // 2))):
        assert local_features(picture).smoothed is None


@pytest.mark.slow
def test_a_noisy_duotone_is_found_as_a_copy(
    data_dir: Path, models_dir: Path, tmp_path: Path
) -> None:
    """Through `imgsearch search`: a noisy duotone of a library photo comes back first,
    flagged a duplicate and confirmed by key points."""
    args = photo_library(_photos(data_dir, 12), tmp_path, models_dir)
    for photo in _photos(data_dir, 12)[1::5]:
        query = tmp_path / f"{photo.stem}__noisy.jpg"
        _noisy_duotone(photo, 25).save(query, quality=85)
        found = run_cli([*args, "search", str(query), "--json", "-k", "5"], tmp_path)
        assert found.returncode == 0, found.stderr
        first = json.loads(found.stdout)["results"][0]
        assert Path(first["path"]).name == photo.name, first
        assert first["duplicate"] and first["key_points"] >= MIN_INLIERS, first
