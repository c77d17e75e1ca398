"""Library images' key points are made once per file content, not once per process: the
key-point witness and the grey-band check read a candidate's file at up to 1024 px and run
ORB on it (~60 ms for a 1920 x 1080 PNG), which every ``imgsearch lookup`` or ``search`` run
from the shell and every server start paid again. The library keeps them on disk by the
file's sha256 and the extraction's version (:class:`search.library.KeyPointCache`)."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from search.descriptor import KEY_POINT_VERSION, LocalFeatures, local_features
from search.library import KeyPointCache
from search.query import SearchEngine, library_duplicates
from tests.engine_library import build_library, make_settings, quarter_crop

pytest.importorskip("cv2")


def _same(a: LocalFeatures | None, b: LocalFeatures | None) -> bool:
    if a is None or b is None:
        return a is b
    planes = [(a.upright, b.upright), (a.mirrored, b.mirrored)]
    for x, y in planes:
        if (x is None) != (y is None):
            return False
        if x is not None and not all(
            (p is None and q is None) or np.array_equal(p, q) for p, q in zip(x, y, strict=True)
        ):
            return False
    return _same(a.smoothed, b.smoothed)


def _noisy(photo: Path) -> Image.Image:
    rng = np.random.default_rng(1)
    pixels = np.asarray(Image.open(photo).convert("RGB")).astype(np.int16)
    pixels = pixels + rng.normal(0, 40, pixels.shape).astype(np.int16)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def test_key_points_come_back_as_they_were_made(data_dir: Path, tmp_path: Path) -> None:
    photo = sorted((data_dir / "hymenoptera" / "images").rglob("*.jpg"))[0]
    cache = KeyPointCache(tmp_path / "key-points")
    for n, image in enumerate([Image.open(photo), _noisy(photo)]):
        made = local_features(image, mirrored=False)
        sha = hashlib.sha256(f"file {n}".encode()).hexdigest()
        assert cache.get(sha) is None
        cache.put(sha, made)
        entry = cache.path_for(sha)
        assert entry.is_file() and KEY_POINT_VERSION in entry.name and sha in entry.name
        assert _same(cache.get(sha), made)
    assert made.smoothed is not None  # the noisy photo's smoothed key points kept too
    assert cache.written == 2 and cache.read == 2
    assert cache.get(sha, mirrored=True) is None  # made unmirrored: asked mirrored, made again
    # dedup --verify's (mirrored too, smoothed ones as well) come back whole when asked so,
    # and as a library image is matched second (unmirrored) otherwise
    both = local_features(_noisy(photo))
    assert both.mirrored is not None and both.smoothed.mirrored is not None
    cache.put(sha, both)
    assert _same(cache.get(sha, mirrored=True), both)
    assert _same(cache.get(sha), made)
    # a query's features, mirrored on first use and not used yet: kept without them
    lazy = local_features(Image.open(photo), lazy=True)
    other = hashlib.sha256(b"query").hexdigest()
    cache.put(other, lazy)
    assert cache.get(other, mirrored=True) is None
    assert _same(cache.get(other), local_features(Image.open(photo), mirrored=False))
    with pytest.raises(ValueError):  # nothing by a name not a sha256
        cache.path_for("../../etc/passwd")


def test_an_unreadable_entry_is_made_again_and_a_read_only_folder_never_written(
    data_dir: Path, tmp_path: Path
) -> None:
    photo = sorted((data_dir / "hymenoptera" / "images").rglob("*.jpg"))[1]
    made = local_features(Image.open(photo), mirrored=False)
    sha = hashlib.sha256(b"a file").hexdigest()
    cache = KeyPointCache(tmp_path / "key-points")
    cache.put(sha, made)
    entry = cache.path_for(sha)
    entry.write_bytes(entry.read_bytes()[:100])  # truncated (a crash, a full disk)
    assert cache.get(sha) is None
    cache.put(sha, made)
    assert _same(cache.get(sha), made)
    reader = KeyPointCache(tmp_path / "elsewhere", writable=False)
    reader.put(sha, made)
    assert not (tmp_path / "elsewhere").exists() and reader.written == 0


def _answers(engine: SearchEngine, query: Path) -> list[tuple]:
    hits = engine.search_image(query, k=5)
    return [(h.id, h.rank, h.copy_score, h.z, h.duplicate, h.lookalike_reason) for h in hits]


def test_a_new_process_reads_the_key_points_its_first_one_made(
    copies_library, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, settings, _original = copies_library
    with SearchEngine.open(settings) as engine:
        first = _answers(engine, root / "query.jpg")
        kept = engine.local.files.kept
        assert engine.local.stats.witness_pairs >= 1  # lesser copies were matched
        assert kept is not None and kept.written >= 1 and kept.read == 0
    assert any(settings.key_point_dir.rglob(f"*-{KEY_POINT_VERSION}.npz"))

    def no_extraction(*_args: object, **_kwargs: object) -> LocalFeatures:
        raise AssertionError("a library file's key points were made again")

    monkeypatch.setattr("search.query.candidate_files.local_features", no_extraction)
    with SearchEngine.open(settings) as engine:  # a later process: the same answers, read
        assert _answers(engine, root / "query.jpg") == first
        assert engine.local.files.kept.read >= 1 and engine.local.files.kept.written == 0


def test_a_read_only_library_reads_its_key_points_and_writes_none(
    copies_library, tmp_path: Path
) -> None:
    root, settings, _original = copies_library
    with SearchEngine.open(settings) as engine:
        expected = _answers(engine, root / "query.jpg")  # entries there (written if not yet)
    entries = sorted(settings.key_point_dir.rglob("*.npz"))
    moved = tmp_path / "kept"
    settings.key_point_dir.rename(moved)
    try:
        with SearchEngine.open(replace(settings, read_only=True)) as engine:
            assert _answers(engine, root / "query.jpg") == expected
            assert engine.local.files.kept.written == 0
        assert not settings.key_point_dir.exists()  # made again in memory, nothing written
    finally:
        moved.rename(settings.key_point_dir)
    assert sorted(settings.key_point_dir.rglob("*.npz")) == entries


def _groups(result) -> list[tuple]:  # type: ignore[no-untyped-def]
    return [
        (g.keeper.id, sorted((m.image.id, m.score, m.exact, m.verified) for m in g.members))
        for g in result.groups
    ]


def test_dedup_verify_keeps_its_key_points_for_its_next_run_and_for_queries(
    data_dir: Path, models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``dedup --verify`` made every grey-band image's key points again at each run (18 s of
    a 19 s run over the 509 shared photos); they are now the library's kept ones, mirrored
    too, and a query reading them matches as it does with its own."""
    images = data_dir / "hymenoptera" / "images"
    photos = sorted(images.rglob("*.jpg"))[:8]
    crops = tmp_path / "crops"
    crops.mkdir()
    for photo in photos[:3]:  # in the grey band
        quarter_crop(photo, crops / f"{photo.stem}.jpg")
    settings = make_settings(tmp_path / "lib", models_dir)
    originals = [str(p.relative_to(images)) for p in photos]
    build_library(settings, {images: originals, crops: [f"{p.stem}.jpg" for p in photos[:3]]})
    query = crops / f"{photos[0].stem}.jpg"
    with SearchEngine.open(settings) as engine:
        expected = _answers(engine, query)  # entries made by a query
    shutil.rmtree(settings.key_point_dir, ignore_errors=True)
    with SearchEngine.open(settings) as engine:
        first = library_duplicates(engine, verify=True)
        assert first.stats["verify_confirmed"] >= 1 and engine.local.files.kept.written >= 1
    with SearchEngine.open(settings) as engine:  # entries made by dedup: the same answers
        assert _answers(engine, query) == expected

    def no_extraction(*_args: object, **_kwargs: object) -> LocalFeatures:
        raise AssertionError("a library file's key points were made again")

    monkeypatch.setattr("search.query.candidate_files.local_features", no_extraction)
    with SearchEngine.open(settings) as engine:
        again = library_duplicates(engine, verify=True)
        assert engine.local.files.kept.read >= 1 and engine.local.files.kept.written == 0
    assert _groups(again) == _groups(first)
    assert again.stats["verify_confirmed"] == first.stats["verify_confirmed"]
