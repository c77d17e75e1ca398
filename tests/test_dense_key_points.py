"""A watermarked copy is matched by the query's denser key points.

A semi-transparent watermark's letters have sharper corners than a picture of smooth shapes:
they take the query's 500 ORB key points, and the copy matched its original with no inliers at
all. A pair left under ``MIN_INLIERS`` is matched again with the query's ``DENSE_FEATURES``
(:func:`search.descriptor.dense_features`), where the picture's own corners are among them.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

import search.descriptor.verify as verify
from models import image_layout
from search.descriptor import (
    DENSE_LAYOUT,
    MIN_INLIERS,
    LocalFeatures,
    count_inliers,
    count_inliers_closer,
    dense_features,
    layout_correlation,
)
from search.descriptor.verify import DENSE_FEATURES, local_features
from search.evaluation.sets.scenes import render_scene
from search.query import SearchEngine
from tests.cli_process import run_cli
from tests.engine_library import index_library, make_settings, photo_library

pytest.importorskip("cv2")

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")


def _watermarked(picture: Image.Image) -> Image.Image:
    """Three lines of white letters at half opacity, turned 20 degrees, over ``picture``."""
    w, h = picture.size
    layer = Image.new("RGBA", picture.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    font = (
        ImageFont.truetype(str(FONT), h // 7) if FONT.is_file() else ImageFont.load_default(h // 7)
    )
    for line in range(3):
        draw.text(
            (w * 0.05, h * (0.1 + 0.3 * line)), "SAMPLE PHOTO", font=font, fill=(255,) * 3 + (130,)
        )
    return Image.alpha_composite(picture.convert("RGBA"), layer.rotate(20)).convert("RGB")


def _scenes(count: int) -> list[Image.Image]:
    return [render_scene(np.random.default_rng(seed)) for seed in range(count)]


def _scene_files(folder: Path) -> list[Path]:
    """The 12 scenes of :func:`_scenes` saved in ``folder`` (JPEG 92), in order."""
    folder.mkdir()
    paths = [folder / f"scene{n:02d}.jpg" for n in range(12)]
    for scene, path in zip(_scenes(12), paths, strict=True):
        scene.save(path, quality=92)
    return paths


def test_a_watermarked_copy_is_matched_by_the_denser_key_points() -> None:
    scenes = _scenes(12)
    originals = [local_features(scene, mirrored=False) for scene in scenes]
    rescued = 0
    for n, scene in enumerate(scenes):
        query = _watermarked(scene)
        features, denser = local_features(query), partial(dense_features, query)
        alone = count_inliers(features, originals[n])
        both = count_inliers_closer(features, originals[n], lambda: None, denser)
        assert both >= MIN_INLIERS, (n, alone, both)
        assert alone < MIN_INLIERS or both == alone  # asked only when left short
        rescued += alone < MIN_INLIERS
        others = [
            count_inliers_closer(features, theirs, lambda: None, denser)
            for m, theirs in enumerate(originals)
            if m != n
        ]
        assert max(others) < MIN_INLIERS, (n, others)  # no other scene confirmed
    assert rescued >= 3  # the letters took every key point of these: what the retry is for


def test_a_query_s_denser_key_points_are_made_from_its_picture_made_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A query's features (``lazy``) make their denser key points from the grey levels their
    500 were made of: the same points as :func:`dense_features`, without finding the frame and
    resizing the picture again."""
    query = _watermarked(_scenes(1)[0])
    expected = dense_features(query)
    pictures: list[bool] = []
    real = verify._picture
    monkeypatch.setattr(verify, "_picture", lambda *a: pictures.append(True) or real(*a))
    features = local_features(query, lazy=True)
    dense = features.dense
    assert dense is not None and len(pictures) == 1
    assert np.array_equal(dense.upright[0], expected.upright[0])
    assert np.array_equal(dense.upright[1], expected.upright[1])
    assert dense.count > features.count
    assert local_features(query).dense is None  # features kept by the many: none


def test_the_denser_key_points_are_asked_only_for_a_pair_left_short() -> None:
    scene = _scenes(1)[0]
    asked: list[bool] = []

    def denser() -> LocalFeatures:
        asked.append(True)
        return dense_features(scene)

    same = count_inliers_closer(local_features(scene), local_features(scene), lambda: None, denser)
    assert same >= MIN_INLIERS and not asked
    other = local_features(_scenes(2)[1])
    count_inliers_closer(local_features(scene), other, lambda: None, denser)
    assert asked


@pytest.mark.slow
def test_a_watermarked_copy_is_found_as_a_copy(models_dir: Path, tmp_path: Path) -> None:
    """Through `imgsearch search`: a watermarked scene whose 500 key points all fall on the
    letters comes back first, flagged a duplicate and confirmed by key points."""
    paths = _scene_files(tmp_path / "scenes")
    args = photo_library(paths, tmp_path, models_dir)
    for n in (0, 8, 10):  # left with no inliers by the 500 key points (test above)
        query = tmp_path / f"scene{n:02d}__watermark.jpg"
        _watermarked(Image.open(paths[n])).save(query, quality=90)
        found = run_cli([*args, "search", str(query), "--json", "-k", "5"], tmp_path)
        assert found.returncode == 0, found.stderr
        first = json.loads(found.stdout)["results"][0]
        assert Path(first["path"]).name == paths[n].name, first
        assert first["duplicate"] and first["key_points"] >= MIN_INLIERS, first


@pytest.mark.slow
def test_only_candidates_laid_out_as_the_query_cost_denser_key_points(
    models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retry's cost stays with queries that may be copies: searches in doubt whose
    candidates' layouts do not correlate with theirs (|rho| < DENSE_LAYOUT) make no denser key
    points, however many pairs they check; a watermarked copy's search makes them."""
    folder = tmp_path / "scenes"
    folder.mkdir()
    for n, scene in enumerate(_scenes(12)):
        scene.save(folder / f"scene{n:02d}.jpg", quality=92)
    settings = make_settings(tmp_path / "lib", models_dir)
    index_library(settings, [folder])
    layouts = [image_layout(Image.open(p)) for p in sorted(folder.glob("*.jpg"))]
    made: list[bool] = []
    real = verify._orb

    def orb(grey: np.ndarray, **settings: Any) -> LocalFeatures:
        made.extend([True] if settings.get("features") == DENSE_FEATURES else [])
        return real(grey, **settings)

    monkeypatch.setattr(verify, "_orb", orb)
    unrelated = 0
    with SearchEngine.open(settings) as engine:
        stats = engine.local.stats
        for seed in range(100, 112):  # new scenes: look-alikes of the library's, no copies
            scene = render_scene(np.random.default_rng(seed))
            scene.save(query := tmp_path / f"new{seed}.jpg", quality=90)
            rho = max(abs(layout_correlation(image_layout(scene), own)) for own in layouts)
            checked, asked = stats.checked, len(made)
            engine.search_image(query, k=5)
            if rho < DENSE_LAYOUT and stats.checked > checked:
                unrelated += 1
                assert len(made) == asked, (seed, rho)  # pairs checked, no denser points
        assert unrelated >= 8  # most of them were in doubt and checked their candidates
        for n in (0, 8):
            _watermarked(Image.open(folder / f"scene{n:02d}.jpg")).save(query := tmp_path / "w.jpg")
            asked = len(made)
            engine.search_image(query, k=5)
            assert len(made) == asked + 1, n  # made once for the query, asked for its original


@pytest.mark.slow
def test_dedup_verify_groups_a_watermarked_copy_with_its_original(
    models_dir: Path, tmp_path: Path
) -> None:
    """Through `imgsearch dedup --verify`: watermarked scenes whose 500 key points all fall
    on the letters are grouped with their originals (the denser points of either image, for
    a pair whose layouts correlate), and with nothing else."""
    paths = _scene_files(tmp_path / "scenes")
    for n in (0, 8, 10):  # left with no inliers by the 500 key points (first test)
        copy = paths[n].with_name(f"scene{n:02d}_wm.jpg")
        _watermarked(Image.open(paths[n])).save(copy, quality=90)
    settings = make_settings(tmp_path / "lib", models_dir)
    index_library(settings, [tmp_path / "scenes"])
    args = ["--library", str(settings.library), "--model-path", str(models_dir)]
    done = run_cli([*args, "dedup", "--verify", "--json"], tmp_path)
    assert done.returncode == 0, done.stderr
    groups = {
        Path(g["keeper"]).name: sorted(Path(m["path"]).name for m in g["members"])
        for g in json.loads(done.stdout)["groups"]
    }
    assert groups == {f"scene{n:02d}.jpg": [f"scene{n:02d}_wm.jpg"] for n in (0, 8, 10)}, groups
