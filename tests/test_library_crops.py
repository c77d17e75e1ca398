"""Crops of the stored photos (descriptor ``crops=on``): each image's five crops are embedded
at index time and stored beside its vector; a query left in doubt has the images whose crops
match it best checked by key points. Off by default: nothing is stored then."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models import CROP_REGIONS, DEFAULT_MODEL_NAME, ImageAnalyzer, OnnxModel, locate_model
from search.index import CropIndex
from search.library import Library
from search.query import SearchEngine
from search.query.library_crops import LibraryCrops
from tests.cli_process import run_cli
from tests.engine_library import index_library, make_settings

pytestmark = pytest.mark.slow  # small libraries indexed by the real indexer

PHOTOS = 24


def _half_crop(photo: Path, out: Path) -> None:
    """The top-left 55 % of each side, enlarged to 480 px wide: a crop the whole vector
    places under look-alikes more often than not."""
    im = Image.open(photo).convert("RGB")
    w, h = im.size
    crop = im.crop((0, 0, int(w * 0.55), int(h * 0.55)))
    crop.resize((480, round(480 * crop.height / crop.width))).save(out, quality=90)


@pytest.fixture(scope="module")
def crops_library(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path):
    """24 hymenoptera photos and a byte copy of the first, indexed with ``crops=on``."""
    root = tmp_path_factory.mktemp("crops")
    col = root / "col"
    col.mkdir()
    photos = sorted((data_dir / "hymenoptera" / "images" / "val").rglob("*.jpg"))[:PHOTOS]
    for photo in photos:
        shutil.copyfile(photo, col / photo.name)
    shutil.copyfile(photos[0], col / "same_bytes.jpg")
    settings = replace(make_settings(root / "lib", models_dir), descriptor="default,crops=on")
    index_library(settings, [col])
    return root, settings, photos


def _stored_crops(settings) -> tuple[np.ndarray, np.ndarray]:
    with Library.open(settings) as library:
        parts = list(library.store.descriptors.crops())
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def test_analyzer_embeds_five_crops_like_their_regions(data_dir: Path, models_dir: Path):
    model = OnnxModel(locate_model(DEFAULT_MODEL_NAME, [models_dir]))
    photo = sorted((data_dir / "hymenoptera" / "images" / "val").rglob("*.jpg"))[0]
    with ImageAnalyzer(model, decode_workers=0, crops=True) as analyzer:
        (whole,) = analyzer.analyze_batch([str(photo)])
    with ImageAnalyzer(model, decode_workers=0) as analyzer:
        (plain,) = analyzer.analyze_batch([str(photo)])
        regions = list(analyzer.analyze_iter([str(photo)] * 5, CROP_REGIONS))
    assert plain.crop_embeddings is None  # off unless asked
    crops = whole.crop_embeddings
    assert crops is not None and crops.shape == (len(CROP_REGIONS), whole.embedding.shape[0])
    assert np.allclose(np.linalg.norm(crops, axis=1), 1.0, atol=1e-4)
    np.testing.assert_allclose(whole.embedding, plain.embedding, atol=1e-5)  # unchanged
    for crop, region in zip(crops, regions, strict=True):
        assert float(crop @ region.embedding) > 0.98  # each is its region's embedding


def test_every_image_stores_its_crops_and_a_crop_finds_its_photo(crops_library):
    root, settings, photos = crops_library
    ids, vectors = _stored_crops(settings)
    assert len(ids) == PHOTOS + 1  # the byte copy reuses its source's crops
    assert vectors.shape[1:] == (len(CROP_REGIONS), 1024)
    with SearchEngine.open(settings) as engine:
        photo_ids = [engine.records.image_id_for(root / "col" / p.name) for p in photos]
        copy_id = engine.records.image_id_for(root / "col" / "same_bytes.jpg")
    at = {int(i): n for n, i in enumerate(ids)}
    np.testing.assert_array_equal(vectors[at[copy_id]], vectors[at[photo_ids[0]]])
    index = CropIndex(1024)
    index.add(np.repeat(ids, len(CROP_REGIONS)), vectors.reshape(-1, 1024))
    with Library.open(settings) as library:
        model = library.load_model()
        for n in (3, 11, 19):
            query = root / f"half_{n}.jpg"
            _half_crop(photos[n], query)
            with ImageAnalyzer(model, decode_workers=0) as analyzer:
                (found,) = analyzer.analyze_batch([str(query)])
            assert index.nominees(found.embedding, 2)[0] == photo_ids[n]


def test_a_query_in_doubt_asks_the_crops_and_the_key_points_confirm(
    crops_library, monkeypatch: pytest.MonkeyPatch
):
    root, settings, photos = crops_library
    asked: list[list[int]] = []
    nominees = LibraryCrops.nominees

    def spy(self, *args):
        found = nominees(self, *args)
        asked.append(found)
        return found

    monkeypatch.setattr(LibraryCrops, "nominees", spy)
    query = root / "half_query.jpg"
    _half_crop(photos[7], query)  # ORB holds 112 inliers for this pair
    with SearchEngine.open(settings) as engine:
        original = engine.records.image_id_for(root / "col" / photos[7].name)
        hits = engine.search_image(query, k=5)
    assert asked and original in asked[0]  # nominated by its crops
    first = hits[0]
    assert first.id == original and first.duplicate
    assert first.key_points  # confirmed by the key points, not by the crop's vector


def test_crops_turned_on_later_say_what_to_do(tmp_path: Path, data_dir: Path, models_dir: Path):
    col = tmp_path / "col"
    col.mkdir()
    for photo in sorted((data_dir / "hymenoptera" / "images" / "val").rglob("*.jpg"))[:4]:
        shutil.copyfile(photo, col / photo.name)
    args = ["--library", str(tmp_path / "lib"), "--model-path", str(models_dir)]
    first = run_cli([*args, "index", str(col)], tmp_path)
    assert first.returncode == 0, first.stderr
    settings = make_settings(tmp_path / "lib", models_dir)
    with Library.open(settings) as library:
        assert not list(library.store.descriptors.crops())  # off by default: none stored
    on = run_cli([*args, "index", str(col), "--descriptor", "default,crops=on"], tmp_path)
    assert on.returncode == 0, on.stderr
    assert "crops are on now" in on.stdout + on.stderr
    again = run_cli([*args, "reindex"], tmp_path)
    assert again.returncode == 0, again.stderr
    assert len(_stored_crops(settings)[0]) == 4
    stats = run_cli([*args, "stats", "--json"], tmp_path)
    assert json.loads(stats.stdout)["descriptor"]["cropped_images"] == 4
    assert "4 images with their five crops (crops=on)" in run_cli([*args, "stats"], tmp_path).stdout
    with Library.open(settings) as library:  # another model's vectors are never mixed in
        library.switch_model(library.store.model_stamp().name)
        assert not list(library.store.descriptors.crops())


class _Records:
    """Stored crops as a library's records give them: one image more at each read."""

    def __init__(self) -> None:
        self.images = 2

    def all_crops(self):
        rng = np.random.default_rng(self.images)
        vectors = rng.normal(size=(self.images, len(CROP_REGIONS), 8)).astype(np.float32)
        yield np.arange(1, self.images + 1), vectors / np.linalg.norm(vectors, axis=2)[..., None]


class _Space:
    fingerprint = "plain"

    @staticmethod
    def transform(vectors: np.ndarray) -> np.ndarray:
        return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def test_a_changed_library_is_read_again_while_queries_keep_the_index_they_had(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    records = _Records()
    crops = LibraryCrops(records)  # type: ignore[arg-type]
    first = crops.index(_Space(), (1, None))  # type: ignore[arg-type]
    assert first is not None and sorted(set(first.ids.tolist())) == [1, 2]
    records.images = 3
    assert crops.index(_Space(), (2, None)) is first  # type: ignore[arg-type]  # too soon
    monkeypatch.setattr("search.query.library_crops.CROPS_REFRESH_S", 0.0)
    assert crops.index(_Space(), (2, None)) is first  # type: ignore[arg-type]  # read started
    crops.close()  # the read ends
    fresh = crops.index(_Space(), (2, None))  # type: ignore[arg-type]
    assert fresh is not first and sorted(set(fresh.ids.tolist())) == [1, 2, 3]
    assert crops.index(_Space(), (2, None)) is fresh  # type: ignore[arg-type]
    records.images = 4  # another model's vectors: read at once, never the old ones meanwhile
    other = crops.index(_Space(), (3, "another model"))  # type: ignore[arg-type]
    assert other is not fresh and sorted(set(other.ids.tolist())) == [1, 2, 3, 4]


def test_dedup_verify_groups_a_crop_its_crops_nominate(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    col = tmp_path / "col"
    col.mkdir()
    photos = sorted((data_dir / "hymenoptera" / "images" / "val").rglob("*.jpg"))[:12]
    for photo in photos:
        shutil.copyfile(photo, col / photo.name)
    _half_crop(photos[7], col / "half.jpg")  # ORB holds 112 inliers for this pair
    args = ["--library", str(tmp_path / "lib"), "--model-path", str(models_dir)]
    indexed = run_cli([*args, "index", str(col), "--descriptor", "default,crops=on"], tmp_path)
    assert indexed.returncode == 0, indexed.stderr
    found = run_cli([*args, "dedup", "--verify", "--json"], tmp_path)
    assert found.returncode == 0, found.stderr
    report = json.loads(found.stdout)
    assert report["stats"]["verify_crop_pairs"] >= 1  # its crops were asked
    groups = [
        {Path(g["keeper"]).name} | {Path(m["path"]).name for m in g["members"]}
        for g in report["groups"]
    ]
    assert {"half.jpg", photos[7].name} in groups


def test_an_offline_evaluation_with_crops_says_to_use_a_library(tmp_path: Path, data_dir: Path):
    folder = str(data_dir / "near_duplicates")
    said = run_cli(["eval", "run", folder, "--descriptor", "default,crops=on"], tmp_path)
    assert said.returncode == 2, said.stderr
    assert "crops are measured through a library: --descriptor 'library,default,crops=on'" in (
        said.stderr
    )


def test_the_querys_own_crops_take_no_nominees_place() -> None:
    """Searching with a library file, its own stored crops (cut from the query itself) match
    it best; they do not take one of the CROPS_NOMINATED places: the next best images do."""
    from search.query.library_crops import CROPS_NOMINATED

    records = _Records()
    records.images = 4
    crops = LibraryCrops(records)  # type: ignore[arg-type]
    index = crops.index(_Space(), (1, None))  # type: ignore[arg-type]
    assert index is not None
    rows = _Space.transform(index.index.reconstruct_n(0, index.index.ntotal))
    own = int(index.ids[0])
    query = rows[0] + 0.01 * rows[len(CROP_REGIONS)]  # its own first crop, nearly
    found = crops.nominees(_Space(), query, (1, None))  # type: ignore[arg-type]
    assert CROPS_NOMINATED == 2 and found[0] == own and len(found) == 2
    without = crops.nominees(_Space(), query, (1, None), own={own})  # type: ignore[arg-type]
    assert own not in without and len(without) == 2 and without[0] == found[1]
