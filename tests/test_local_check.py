"""Local features confirm what the global vector leaves in doubt: by default (the key-point
evidence, ``local``) and with ``verify=on``.

A heavy crop of a library photo (a quarter, enlarged) is no sure copy for the embedding; the
engine checks its best grey-band candidates with ORB + RANSAC and the original becomes a
duplicate, with one verified copy score however the pair is asked (``search``, ``similar``,
``lookup``). A query with a sure copy never reads a file nor imports OpenCV; without OpenCV a
search still answers and says how to install it.
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from search.descriptor import MIN_INLIERS, DescriptorConfig, verified_copy_score
from search.query import SearchEngine, lookup
from tests.cli_process import cli_env, run_cli
from tests.engine_library import index_library, make_settings

pytest.importorskip("cv2")
pytestmark = pytest.mark.slow  # a small library indexed by the real indexer

PHOTOS = 30
CROPS = 3


def _crop(photo: Path, out: Path) -> None:
    im = Image.open(photo).convert("RGB")
    w, h = im.size
    crop = im.crop((int(w * 0.1), int(h * 0.15), int(w * 0.6), int(h * 0.7)))
    crop.resize((400, round(400 * crop.height / crop.width))).save(out, quality=85)


@pytest.fixture(scope="module")
def verify_library(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path):
    """A library of 34 images on the default descriptor (its key points check a doubtful
    query's grey-band candidates): photos, heavy crops of the first few and a half-size copy
    of the first."""
    root = tmp_path_factory.mktemp("verify")
    col = root / "col"
    col.mkdir()
    photos = sorted((data_dir / "hymenoptera" / "images").rglob("*.jpg"))[:PHOTOS]
    for photo in photos:
        Image.open(photo).convert("RGB").save(col / f"{photo.stem}.jpg", quality=92)
    for photo in photos[:CROPS]:
        _crop(photo, col / f"{photo.stem}__crop.jpg")
    first = Image.open(photos[0]).convert("RGB")  # and a sure copy of the first: a half size
    first.resize((first.width // 2, first.height // 2)).save(col / f"{photos[0].stem}__small.jpg")
    settings = make_settings(root / "lib", models_dir)
    index_library(settings, [col])
    return root, settings, [p.stem for p in photos]


def _args(root: Path, models_dir: Path) -> list[str]:
    return ["--library", str(root / "lib"), "--model-path", str(models_dir)]


def test_heavy_crops_found_with_one_verified_score(verify_library, models_dir: Path) -> None:
    root, settings, stems = verify_library
    args = _args(root, models_dir)
    for stem in stems[:CROPS]:
        crop = root / "col" / f"{stem}__crop.jpg"
        found = run_cli([*args, "search", str(crop), "--json", "-k", "5"], root)
        assert found.returncode == 0, found.stderr
        hits = {Path(h["path"]).name: h for h in json.loads(found.stdout)["results"]}
        original = hits[f"{stem}.jpg"]
        assert original["duplicate"], original  # raised by the local check
        assert original["key_points"] >= MIN_INLIERS  # and it says by what
        with SearchEngine.open(settings) as engine:  # the same pair asked other ways
            crop_id = engine.records.image_id_for(crop)
            similar = {Path(h.path).name: h for h in engine.similar(crop_id, k=5)}
            looked = {Path(m.hit.path).name: m for m in lookup(engine, crop).matches}
        assert similar[f"{stem}.jpg"].copy_score == original["copy_score"]
        assert similar[f"{stem}.jpg"].key_points == original["key_points"]
        assert looked[f"{stem}.jpg"].hit.copy_score == original["copy_score"]
        assert looked[f"{stem}.jpg"].match == "near"
        # a lookup says what confirmed it, as the page does
        confirmed = f"confirmed by {original['key_points']} matching key points"
        assert looked[f"{stem}.jpg"].evidence.endswith(confirmed), looked[f"{stem}.jpg"]
    table = run_cli([*args, "search", str(crop), "-k", "5"], root).stdout
    assert "+ a copy confirmed by matching key points" in table, table
    stats = run_cli([*args, "stats"], root)
    assert "a query in doubt has its best candidates checked by key points (local=on)" in (
        stats.stdout
    )
    # the same library without key points (local=off): no duplicates of their originals
    with SearchEngine.open(settings) as engine:
        config = engine.library.descriptor_config()
        engine.library.set_descriptor(replace(config, local=False))
        try:
            for stem in stems[:CROPS]:
                hits = engine.search_image(root / "col" / f"{stem}__crop.jpg", k=5)
                plain = {Path(h.path).name: h for h in hits}.get(f"{stem}.jpg")
                assert plain is None or not plain.duplicate
        finally:
            engine.library.set_descriptor(config)


def test_a_lookup_finds_the_heavy_crop_a_sure_copy_settled(verify_library) -> None:
    """Where else is this picture? The first photo's half-size copy is a sure copy, which
    settles a search; its lookup checks the grey band all the same and lists the heavy crop
    as a near-duplicate, confirmed by key points."""
    root, settings, stems = verify_library
    photo = root / "col" / f"{stems[0]}.jpg"
    with SearchEngine.open(settings) as engine:
        searched = {Path(h.path).name: h for h in engine.search_image(photo, k=10)}
        before = engine.local.stats.queries
        looked = {Path(m.hit.path).name: m for m in lookup(engine, photo).matches}
        assert engine.local.stats.queries == before + 1  # the lookup's check ran
    assert searched[f"{stems[0]}__small.jpg"].duplicate
    crop = looked[f"{stems[0]}__crop.jpg"]
    assert crop.match == "near" and crop.hit.duplicate, crop
    assert (crop.hit.key_points or 0) >= MIN_INLIERS, crop


def test_the_check_comes_with_the_default_key_points_at_every_library_size() -> None:
    """The grey-band check is part of the default's key-point evidence (``local``), whether
    or not the library has learned its whitening; ``local=off`` and ``plain`` leave it out
    unless ``verify=on`` asks for it."""
    assert DescriptorConfig().checks_grey_band
    assert DescriptorConfig.parse("default,whiten=off").checks_grey_band
    assert DescriptorConfig.parse("default,dims=0").checks_grey_band
    assert not DescriptorConfig.parse("default,local=off").checks_grey_band
    assert not DescriptorConfig.plain().checks_grey_band
    assert DescriptorConfig.parse("default,local=off,verify=on").checks_grey_band
    assert DescriptorConfig.parse("plain,verify=on").checks_grey_band


SURE_COPY = """
import json, sys
from pathlib import Path
from search.query import SearchEngine
from tests.engine_library import make_settings
from dataclasses import replace
settings = make_settings(Path(sys.argv[1]), Path(sys.argv[2]))
with SearchEngine.open(settings) as engine:
    hits = engine.search_image(sys.argv[3], k=5)
    print(json.dumps({"cv2": "cv2" in sys.modules, "stats": engine.local.stats.__dict__,
                      "duplicate": hits[0].duplicate, "key_points": hits[0].key_points}))
"""


def test_a_sure_copy_pays_nothing(verify_library, models_dir: Path, tmp_path: Path) -> None:
    root, _settings, stems = verify_library
    copy = tmp_path / "copy.jpg"  # a smaller re-encoded copy: a sure copy of its original
    im = Image.open(root / "col" / f"{stems[5]}.jpg")
    im.resize((im.width // 2, im.height // 2)).save(copy, quality=80)
    done = subprocess.run(
        [sys.executable, "-c", SURE_COPY, str(root / "lib"), str(models_dir), str(copy)],
        env=cli_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["duplicate"] and not out["cv2"] and out["key_points"] is None, out
    assert out["stats"]["queries"] == out["stats"]["files_read"] == 0, out


def test_without_opencv_a_search_answers_and_says_how(
    verify_library, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    root, settings, stems = verify_library
    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 -> ImportError
    with SearchEngine.open(settings) as engine, caplog.at_level(logging.WARNING):
        hits = engine.search_image(root / "col" / f"{stems[0]}__crop.jpg", k=5)
    assert hits
    assert "pip install opencv-python-headless" in caplog.text


def test_a_thumbnail_is_confirmed_by_its_pixels(
    verify_library,
    data_dir: Path,
    models_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 40-px thumbnail of a library photo (too small for key points) is its original's
    copy by its pixels, first, and says so; OpenCV is not needed for it; a thumbnail of a
    photo the library lacks is nobody's copy."""
    root, settings, stems = verify_library
    args = _args(root, models_dir)
    for stem in stems[6:9]:
        thumb = tmp_path / f"{stem}__thumb.jpg"
        im = Image.open(root / "col" / f"{stem}.jpg")
        im.thumbnail((40, 40))
        im.save(thumb, quality=60)
        found = run_cli([*args, "search", str(thumb), "--json", "-k", "5"], root)
        assert found.returncode == 0, found.stderr
        first = json.loads(found.stdout)["results"][0]
        assert Path(first["path"]).name == f"{stem}.jpg", first
        assert first["duplicate"] and first["pixel_match"] >= 0.93 and first["key_points"] is None
    table = run_cli([*args, "search", str(thumb), "-k", "3"], root).stdout
    assert "a small or pixelated query's pixels" in table, table
    monkeypatch.setitem(sys.modules, "cv2", None)  # no OpenCV: the pixels still tell
    outsider = tmp_path / "outsider.jpg"
    other = sorted((data_dir / "hymenoptera" / "images").rglob("*.jpg"))[PHOTOS + 5]
    im = Image.open(other)
    im.thumbnail((40, 40))
    im.save(outsider, quality=60)
    with SearchEngine.open(settings) as engine:
        hits = engine.search_image(thumb, k=5)
        assert hits[0].duplicate and hits[0].pixel_match is not None
        assert not any(h.duplicate or h.pixel_match for h in engine.search_image(outsider, k=5))
        assert engine.local.stats.pixel_pairs > 0


def _dedup_library(
    data_dir: Path,
    models_dir: Path,
    tmp_path: Path,
    kind: str,
    edit: Callable[[Path, Path], None],
    edited: int,
) -> list[str]:
    """16 photos and an edit (``PHOTO__KIND.jpg``) of the first ``edited``, indexed: plain
    `dedup` groups none of the edits, `dedup --verify` each with its own photo, marked
    verified, and nothing else. Returns the CLI's library arguments."""
    col = tmp_path / "col"
    col.mkdir()
    photos = sorted((data_dir / "hymenoptera" / "images" / "val").rglob("*.jpg"))[:16]
    for photo in photos:
        Image.open(photo).convert("RGB").save(col / f"{photo.stem}.jpg", quality=92)
    for photo in photos[:edited]:
        edit(col / f"{photo.stem}.jpg", col / f"{photo.stem}__{kind}.jpg")
    index_library(make_settings(tmp_path / "lib", models_dir), [col])
    args = _args(tmp_path, models_dir)

    def groups(*more: str) -> dict[str, list[tuple[str, bool]]]:
        done = run_cli([*args, "dedup", *more, "--json"], tmp_path)
        assert done.returncode == 0, done.stderr
        return {
            Path(g["keeper"]).name: [(Path(m["path"]).name, m["verified"]) for m in g["members"]]
            for g in json.loads(done.stdout)["groups"]
        }

    assert not any(f"__{kind}" in n for members in groups().values() for n, _ in members)
    verified = groups("--verify")
    for photo in photos[:edited]:
        assert verified[f"{photo.stem}.jpg"] == [(f"{photo.stem}__{kind}.jpg", True)], verified
    assert sum(len(members) for members in verified.values()) == edited  # nothing else
    return args


def test_dedup_verify_groups_thumbnails_with_their_photos(
    data_dir: Path, models_dir: Path, tmp_path: Path
) -> None:
    """`dedup --verify` compares a thumbnail (too small for key points) with its candidates
    by pixels: each lands in its photo's group, marked verified; plain `dedup` (vectors
    only) leaves them out, as before."""

    def thumbnail(photo: Path, out: Path) -> None:
        thumb = Image.open(photo).convert("RGB")
        thumb.thumbnail((56, 56))
        thumb.save(out, quality=70)

    args = _dedup_library(data_dir, models_dir, tmp_path, "thumb", thumbnail, 3)
    summary = run_cli([*args, "dedup", "--verify"], tmp_path).stderr.strip().splitlines()[-1]
    assert summary.endswith("confirmed by local features (3 of them)"), summary  # once each


def _inverted_duotone(photo: Path, out: Path) -> None:
    """Dark ink light, light ink dark, a gamma: its vector is far from its photo's."""
    grey = ImageOps.grayscale(Image.open(photo).convert("RGB"))
    duotone = ImageOps.colorize(grey, (230, 200, 40), (20, 30, 120))
    duotone.point(lambda i: int(255 * (i / 255) ** 1.4)).save(out, quality=85)


def test_an_inverted_duotone_is_found_by_its_layout(
    verify_library, models_dir: Path, tmp_path: Path
) -> None:
    """An inverted duotone's vector leaves its photo in doubt (and ORB, which compares
    brightness, matches nothing as it is); the stored grey-level layouts nominate the photo
    (rank correlation near -1) and the query's inverted key points confirm it. A library
    indexed before layouts existed has none: no confirmation, until the next `imgsearch
    index` reads them."""
    root, _settings, stems = verify_library
    queries = {stem: tmp_path / f"{stem}__duotone.jpg" for stem in (stems[1], stems[10])}
    for stem, query in queries.items():
        _inverted_duotone(root / "col" / f"{stem}.jpg", query)

    def first_hits(library: Path) -> dict[str, dict]:
        args = ["--library", str(library), "--model-path", str(models_dir)]
        out = {}
        for stem, query in queries.items():
            found = run_cli([*args, "search", str(query), "--json", "-k", "5"], tmp_path)
            assert found.returncode == 0, found.stderr
            out[stem] = json.loads(found.stdout)["results"][0]
        return out

    for stem, first in first_hits(root / "lib").items():
        assert Path(first["path"]).stem == stem, first
        assert first["duplicate"] and first["key_points"] >= MIN_INLIERS, first

    older = tmp_path / "older"  # the same library as if indexed before revision 0006l
    shutil.copytree(root / "lib", older)
    with sqlite3.connect(older / "imgsearch.sqlite3") as db:
        db.execute("UPDATE images SET layout = NULL")
    assert not any(first["duplicate"] for first in first_hits(older).values())
    args = ["--library", str(older), "--model-path", str(models_dir)]
    again = run_cli([*args, "index", "--json", "--no-progress"], tmp_path)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["quality_measured"] == PHOTOS + CROPS + 1 and summary["updated"] == 0, summary
    assert all(first["duplicate"] for first in first_hits(older).values())


def test_dedup_verify_groups_toned_copies_with_their_photos(
    data_dir: Path, models_dir: Path, tmp_path: Path
) -> None:
    """`dedup --verify` checks the candidates whose layout is in rank order with an image's
    (an inverted duotone: its key points matched with the grey levels inverted): each lands
    in its photo's group, marked verified; plain `dedup` groups none of them."""
    _dedup_library(data_dir, models_dir, tmp_path, "duotone", _inverted_duotone, 2)


def test_a_changed_file_is_not_verified(verify_library, tmp_path: Path) -> None:
    root, settings, stems = verify_library
    original = root / "col" / f"{stems[1]}.jpg"
    crop = root / "col" / f"{stems[1]}__crop.jpg"
    kept = original.read_bytes()
    try:
        Image.open(original).convert("L").convert("RGB").save(original, quality=70)  # changed
        with SearchEngine.open(settings) as engine:
            hits = {Path(h.path).name: h for h in engine.search_image(crop, k=5)}
        hit = hits.get(original.name)
        assert hit is None or not hit.duplicate  # its file is not the one indexed
    finally:
        original.write_bytes(kept)


def test_large_files_are_never_read_for_a_query(
    verify_library, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A candidate file over the local evidence's size limit (a huge TIFF, a video) is not
    read whole for a query: the crop is then simply not confirmed, and no file is read."""
    import search.query.candidate_files as candidate_files

    root, settings, stems = verify_library
    monkeypatch.setattr(candidate_files, "LOCAL_MAX_BYTES", 1000)  # every photo is larger
    with SearchEngine.open(settings) as engine:
        hits = {
            Path(h.path).name: h
            for h in engine.search_image(root / "col" / f"{stems[0]}__crop.jpg", k=5)
        }
        assert engine.local.stats.files_read == 0 and engine.local.stats.confirmed == 0
    original = hits.get(f"{stems[0]}.jpg")
    assert original is None or original.key_points is None


def test_one_rule_for_a_verified_pair() -> None:
    from search.descriptor import Calibration

    cal = Calibration(median=0.0, spread=0.06, mean=0.02, sd=0.07)
    assert verified_copy_score(0.3, 11, cal) == 0.3  # below MIN_INLIERS: unchanged
    low, high = verified_copy_score(0.3, 12, cal), verified_copy_score(0.3, 60, cal)
    assert cal.duplicate_z(low) >= 6 and cal.z(low) >= 8 - 1e-9
    assert low < high < 1.0
    assert verified_copy_score(0.999, 12, cal) == 0.999  # never lowered
    assert DescriptorConfig.parse("default,verify=on").verify


def test_index_refuses_verify_without_opencv(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from cli.index_options import descriptor_problem

    assert descriptor_problem("default,verify=on") is None
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    assert "pip install opencv-python-headless" in str(descriptor_problem("default,verify=on"))
    assert descriptor_problem("default") is None
