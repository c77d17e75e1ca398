"""The query engine on real photos: UKBench groups, hymenoptera labels, ROI, similar, stats,
typed errors, upright views first (a writable library of copies: test_engine_scratch.py)."""

from __future__ import annotations

import io
import threading
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from engine_library import (
    hymenoptera_copy,
    index_library,
    make_settings,
    ukbench_files,
    ukbench_groups,
)
from PIL import Image

from models import (
    ImageError,
    ModelNotFoundError,
    NotAnImageError,
    RoiError,
    UnreadableImageError,
    collage_cells,
)
from search.library import MODEL_DIR_KEY
from search.query import ImageNotFoundError, QueryError, SearchEngine
from search.store import LibraryNotFoundError


@pytest.fixture(scope="module")
def settings(tmp_path_factory, data_dir, models_dir, new_database_url):
    """Indexed by the real indexer: all of ukbench_subset (66) + 20 ants and 20 bees."""
    base = tmp_path_factory.mktemp("engine")
    settings = make_settings(base / "library", models_dir, new_database_url())
    uk_root, _files = ukbench_files(data_dir)
    index_library(settings, [uk_root, hymenoptera_copy(data_dir, base / "hymenoptera")])
    return settings


@pytest.fixture(scope="module")
def engine(settings):
    with SearchEngine.open(settings) as engine:
        yield engine


def test_top_hit_of_a_library_photo_is_itself(engine, settings, data_dir):
    uk_root, uk_files = ukbench_files(data_dir)
    hy_bees = sorted(p.name for p in (settings.library.parent / "hymenoptera" / "bees").iterdir())
    hy_root = settings.library.parent / "hymenoptera"
    for path in [uk_root / uk_files[i] for i in (0, 13, 40, 65)] + [
        hy_root / "bees" / name for name in hy_bees[:2]
    ]:
        hits = engine.search_image(path, k=5)
        assert hits[0].path == str(path)
        assert hits[0].score >= 0.999
        assert hits[0].exact
        assert not any(hit.exact for hit in hits[1:])
        assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
        assert all(a.score >= b.score for a, b in pairwise(hits))


@pytest.mark.slow
def test_ukbench_group_mates_in_top_4(engine, data_dir):
    """UKBench N-S score: mean number of the query's group (query included) in the top 4."""
    uk_root, _files = ukbench_files(data_dir)
    groups = ukbench_groups(data_dir)
    found = []
    for name, mates in sorted(groups.items()):
        hits = engine.search_image(uk_root / name, k=4)
        top = {Path(hit.path).name for hit in hits}
        found.append(len(top & ({name} | set(mates))))
    assert len(found) == 56
    score = float(np.mean(found))
    print(f"UKBench N-S over 56 queries: {score:.3f}")
    assert score >= 3.5


def test_same_bytes_from_memory_and_file_object(engine, data_dir):
    uk_root, uk_files = ukbench_files(data_dir)
    path = uk_root / uk_files[9]
    by_path = engine.search_image(path, k=3)
    assert engine.search_image(path.read_bytes(), k=3) == by_path
    with open(path, "rb") as handle:
        assert engine.search_image(handle, k=3) == by_path
    with Image.open(path) as im:
        from_pil = engine.search_image(im.convert("RGB"), k=3)
    assert from_pil[0].id == by_path[0].id and from_pil[0].score >= 0.999


def test_a_file_too_large_to_hold_is_searched_from_the_file(
    engine, data_dir, tmp_path, monkeypatch
):
    """A 900 MB file of no image was read whole (twice over: 1.9 GB) before "not an image".
    Above models.files.STREAMED_ABOVE_BYTES (made small here) a query file is decoded from
    the file and hashed in chunks: the same hits, exact copies still found by sha256, and a
    large file of no image refused holding a few chunks at most."""
    import tracemalloc

    import models.files

    uk_root, uk_files = ukbench_files(data_dir)
    path = uk_root / uk_files[9]
    held = engine.search_image(path, k=3)
    monkeypatch.setattr(models.files, "STREAMED_ABOVE_BYTES", 1024)
    streamed = engine.search_image(path, k=3)
    assert streamed == held and streamed[0].exact
    big = tmp_path / "zeros.jpg"
    with open(big, "wb") as handle:
        handle.truncate(24 << 20)  # sparse: nothing written to disk
    tracemalloc.start()
    try:
        with pytest.raises(NotAnImageError):
            engine.search_image(big)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, peak


def test_roi_query_differs(engine, data_dir):
    uk_root, uk_files = ukbench_files(data_dir)
    path = uk_root / uk_files[20]
    whole = engine.search_image(path, k=10)
    corner = engine.search_image(path, roi="0,0,0.4,0.4", k=10)
    pixels = engine.search_image(path, roi="px:0,0,256,192", k=10)
    assert [h.id for h in corner] != [h.id for h in whole]
    assert corner[0].score < 0.99  # a region is not the whole photo
    assert [h.id for h in pixels] == [h.id for h in corner]  # same box in pixels
    with pytest.raises(RoiError):
        engine.search_image(path, roi="0.5,0.5,0.2,0.9")
    with pytest.raises(RoiError):
        engine.search_image(path, roi="px:700,500,900,600")  # outside 640x480
    with pytest.raises(RoiError):
        engine.search_image(path, roi=(0, 0, 1.5, 1))  # fractions beyond the image


def test_min_score_and_k(engine, data_dir):
    uk_root, uk_files = ukbench_files(data_dir)
    hits = engine.search_image(uk_root / uk_files[30], k=50, min_score=0.5)
    assert hits and len(hits) < 50
    assert all(hit.score >= 0.5 for hit in hits)
    assert len(engine.search_image(uk_root / uk_files[30], k=7)) == 7
    assert len(engine.search_image(uk_root / uk_files[30], k=1000)) == 106  # whole library
    for bad in (0, -1, 1001, 2.5, True):
        with pytest.raises(QueryError):
            engine.search_image(uk_root / uk_files[30], k=bad)
    with pytest.raises(QueryError):
        engine.similar(1, min_score=1.5)


def test_similar_excludes_itself_and_finds_group(engine, data_dir):
    image_id = engine.records.image_id_for(ukbench_files(data_dir)[0] / "ukbench00008.jpg")
    hits = engine.similar(image_id, k=3)
    assert image_id not in [hit.id for hit in hits]
    assert {Path(h.path).name for h in hits} == {f"ukbench0000{i}.jpg" for i in (9,)} | {
        "ukbench00010.jpg",
        "ukbench00011.jpg",
    }
    assert all(a.score >= b.score for a, b in pairwise(hits))
    assert len(engine.similar(image_id, k=200)) == 105
    with pytest.raises(ImageNotFoundError):
        engine.similar(99_999)


def test_label_search_finds_bees_first(engine):
    hits = engine.search_labels("bee", k=20)
    assert len(hits) >= 10
    top = [Path(hit.path).parent.name for hit in hits[:10]]
    assert top.count("bees") >= 9, top
    assert all(hit.label and "bee" in hit.label.lower() for hit in hits)
    assert all(a.score >= b.score for a, b in pairwise(hits) if a.label == b.label)
    assert engine.search_labels("no-such-label-anywhere") == []
    with pytest.raises(QueryError):
        engine.search_labels("   ")


def test_get_image_and_file_path(engine, data_dir):
    uk_root, _ = ukbench_files(data_dir)
    info = engine.records.get_image(engine.records.image_id_for(str(uk_root / "ukbench00004.jpg")))
    assert info is not None
    assert info.path == str(uk_root / "ukbench00004.jpg")
    assert info.collection == str(uk_root.resolve()) and info.rel_path == "ukbench00004.jpg"
    assert (info.width, info.height, info.format, info.status) == (640, 480, "JPEG", "ok")
    assert info.file_size == (uk_root / "ukbench00004.jpg").stat().st_size
    assert len(info.sha256) == 64 and info.labels and info.error is None
    assert info.to_dict()["labels"][0].keys() == {"name", "score"}
    assert engine.records.image_file_path(info.id) == (uk_root / "ukbench00004.jpg").resolve()
    assert engine.records.get_image(99_999) is None
    with pytest.raises(ImageNotFoundError):
        engine.records.image_file_path(99_999)


def test_stats(engine, settings):
    stats = engine.admin.stats()
    assert (stats["images"], stats["failed"], stats["vectors"]) == (106, 0, 106)
    assert sorted(c["images"] for c in stats["collections"]) == [40, 66]
    assert stats["model"]["name"] == "mobilenet_v3_small_100"
    assert stats["model"]["dimension"] == 1024 and len(stats["model"]["sha256"]) == 64
    assert stats["index"]["kind"] in {"flat", "hnsw", "ivf-sq8"}
    assert stats["index"]["ntotal"] == 106
    assert stats["generation"] >= 2
    assert stats["library"] == str(settings.library.resolve())
    assert stats["database_bytes"] > 0


def test_browsing_needs_no_model(settings, tmp_path):
    """get_image / stats work without the model files, similar too (from the stored vectors);
    image search says why not."""
    blind = make_settings(settings.library, tmp_path, settings.database_url)  # no models there
    with SearchEngine.open(blind) as engine:
        assert engine.records.get_image(1) is not None and engine.admin.stats()["vectors"] == 106
        assert engine.guard._analyzer is None
        # The library remembers where its model was found; pretend those files are gone too.
        remembered = engine.store.get_meta(MODEL_DIR_KEY)
        engine.store.set_meta(MODEL_DIR_KEY, str(tmp_path))
        try:
            assert engine.similar(1, k=3)  # the stored rows stand in for the file's views
            with pytest.raises(ModelNotFoundError):
                engine.search_image(engine.records.image_file_path(1))
        finally:
            engine.store.set_meta(MODEL_DIR_KEY, remembered)


def test_bad_queries_raise_typed_errors(engine, tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_text("this is not a photo")
    with pytest.raises(NotAnImageError) as caught:
        engine.search_image(text)
    assert str(text) in str(caught.value)
    with pytest.raises(UnreadableImageError):
        engine.search_image(tmp_path / "missing.jpg")
    with pytest.raises(UnreadableImageError):
        engine.search_image(tmp_path)
    with pytest.raises(ImageError):
        engine.search_image(b"")
    with pytest.raises(ImageError):
        engine.search_image(b"\xff\xd8\xff\xe0" + b"\x00" * 64)  # a JPEG that ends at once
    with pytest.raises(QueryError):
        engine.search_image(12345)


def test_missing_library(tmp_path, models_dir):
    with pytest.raises(LibraryNotFoundError):
        SearchEngine.open(make_settings(tmp_path / "nothing-here", models_dir))


@pytest.mark.slow
def test_concurrent_queries_agree(engine, data_dir):
    uk_root, uk_files = ukbench_files(data_dir)
    paths = [uk_root / name for name in uk_files[:6]]
    expected = [engine.search_image(p, k=5) for p in paths]
    results: dict[int, list] = {}

    def work(n: int) -> None:
        results[n] = [engine.search_image(p, k=5) for p in paths]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(results[n] == expected for n in range(4))


def _jpeg(image: Image.Image, side: int = 500) -> bytes:
    import io

    copy = image.convert("RGB")
    copy.thumbnail((side, side))
    out = io.BytesIO()
    copy.save(out, "JPEG", quality=85)
    return out.getvalue()


def test_upright_first_embeds_turned_views_only_when_in_doubt(engine, settings, data_dir):
    """By default every query embeds all its views. With ``upright_first`` a copy found
    surely by its upright view is answered without the turned views (one model pass) unless
    another candidate is in doubt (here the object's other UKBench views may be); a turned
    copy is not, and gets them: its answer is then the one all views give."""
    from dataclasses import replace

    uk = data_dir / "ukbench_subset" / "images"
    with Image.open(uk / "ukbench00012.jpg") as im:
        upright, turned = _jpeg(im), _jpeg(im.transpose(Image.Transpose.ROTATE_90))
    assert engine.query_image(upright, k=10).views == 4  # the default: all views
    with SearchEngine.open(replace(settings, upright_first=True)) as quick:
        for data, allowed in ((upright, {1, 4}), (turned, {1, 4})):
            fast = quick.query_image(data, k=10)
            full = quick.query_image(data, k=10, all_views=True)
            # the turned copy's upright view may already be a sure copy in a whitened space;
            # its cosine in the model's own space is a part's, so its cells are looked at too
            cells = len(collage_cells(Image.open(io.BytesIO(data))) or [])
            assert fast.views in allowed | {1 + cells} and full.views == 4
            assert Path(fast.hits[0].path).name == "ukbench00012.jpg" and fast.hits[0].duplicate
            if fast.views == 4:  # in doubt: the answer is the one all views give
                assert [(h.id, h.score, h.z) for h in fast.hits] == [
                    (h.id, h.score, h.z) for h in full.hits
                ]
            else:  # the same sure copy; the rest may differ only by turned look-alikes
                assert fast.hits[0].id == full.hits[0].id
                if data is upright:  # (a turned query's best view is a turned one)
                    assert fast.hits[0].copy_score == pytest.approx(
                        full.hits[0].copy_score, abs=1e-5
                    )


def test_upright_first_from_the_environment():
    from search.settings import Settings

    assert Settings.from_env({}).upright_first is False
    assert Settings.from_env({"IMGSEARCH_UPRIGHT_FIRST": "on"}).upright_first is True
    with pytest.raises(ValueError, match="IMGSEARCH_UPRIGHT_FIRST"):
        Settings.from_env({"IMGSEARCH_UPRIGHT_FIRST": "maybe"})


def test_model_threads_from_the_environment():
    from search.settings import Settings

    assert Settings.from_env({}).threads == 0
    assert Settings.from_env({"IMGSEARCH_THREADS": "1"}).threads == 1
    with pytest.raises(ValueError, match="IMGSEARCH_THREADS='two' is not a whole number"):
        Settings.from_env({"IMGSEARCH_THREADS": "two"})
