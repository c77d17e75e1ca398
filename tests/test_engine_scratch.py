"""The query engine over a small writable library of copies (a fresh one per test): exact
copies and ties, removal, other writers, paths escaping their collection, approximate indexes,
failed files."""

from __future__ import annotations

import numpy as np
import pytest
from engine_library import (
    add_files,
    build_library,
    copy_files,
    make_settings,
    ukbench_files,
)
from PIL import Image

from search.library import Library
from search.query import ImageNotFoundError, PathEscapeError, SearchEngine
from search.store import ChangeSet, ImageUpsert


@pytest.fixture
def scratch(tmp_path, data_dir, models_dir, database_url):
    """A writable library over copies: 8 UKBench photos, a byte copy and a PNG re-encode."""
    uk_root, uk_files = ukbench_files(data_dir)
    photos = copy_files([uk_root / name for name in uk_files[:8]], tmp_path / "photos")
    copies = tmp_path / "copies"
    copy_files([uk_root / uk_files[0]], copies)
    with Image.open(uk_root / uk_files[4]) as im:
        im.convert("RGB").save(copies / "reencoded.png")
    settings = make_settings(tmp_path / "library", models_dir, database_url)
    build_library(settings, {tmp_path / "photos": photos, copies: [uk_files[0], "reencoded.png"]})
    with SearchEngine.open(settings) as engine:
        yield engine, tmp_path


@pytest.mark.postgres
def test_exact_copies_and_ties(scratch):
    engine, _root = scratch
    names = {info.path: info.id for info in map(engine.records.get_image, range(1, 11)) if info}
    original = next(i for p, i in names.items() if p.endswith("photos/ukbench00000.jpg"))
    copy = next(i for p, i in names.items() if p.endswith("copies/ukbench00000.jpg"))
    hits = engine.search_image(engine.records.image_file_path(original), k=3)
    assert [h.id for h in hits[:2]] == sorted([original, copy])  # equal scores: by id
    assert hits[0].score == hits[1].score and hits[0].exact and hits[1].exact
    assert not hits[2].exact
    similar = engine.similar(original, k=3)
    assert similar[0].id == copy and similar[0].exact and not similar[1].exact
    # A PNG holding the same pixels as a JPEG is an exact copy too (pixel hash).
    png = next(i for p, i in names.items() if p.endswith("reencoded.png"))
    jpeg = next(i for p, i in names.items() if p.endswith("photos/ukbench00004.jpg"))
    hits = engine.search_image(engine.records.image_file_path(png), k=2)
    assert {h.id for h in hits} == {png, jpeg} and all(h.exact for h in hits)
    with Image.open(engine.records.image_file_path(jpeg)) as im:  # in memory: no bytes, same pixels
        hits = engine.search_image(im.convert("RGB"), k=3)
    assert {h.id for h in hits[:2]} == {png, jpeg} and all(h.exact for h in hits[:2])
    assert not hits[2].exact


@pytest.mark.postgres
def test_remove_paths_keeps_files(scratch):
    engine, root = scratch
    target = root / "photos" / "ukbench00001.jpg"
    before = engine.admin.stats()["vectors"]
    assert engine.admin.remove_paths([target]) == 1
    assert target.exists()
    assert engine.admin.stats()["vectors"] == before - 1
    assert all(hit.path != str(target) for hit in engine.search_image(target, k=20))
    assert engine.admin.remove_paths([target, root / "photos" / "no-such.jpg"]) == 0
    assert engine.admin.remove_paths([root / "copies"]) == 2  # a folder: everything below it
    assert (root / "copies" / "reencoded.png").exists()
    # Another engine on the same library sees the removals (the FAISS file was saved).
    with SearchEngine.open(engine.settings) as other:
        assert other.library.index().ntotal == before - 3
        assert other.admin.stats()["images"] == before - 3


@pytest.mark.postgres
def test_refresh_picks_up_other_writers(scratch):
    engine, root = scratch
    assert engine.refresh() in (True, False)
    assert engine.refresh() is False
    with SearchEngine.open(engine.settings) as writer:
        assert writer.admin.remove_paths([root / "photos" / "ukbench00002.jpg"]) == 1
    assert engine.refresh() is True
    assert engine.library.index().ntotal == 9


def test_path_escaping_its_collection_is_refused(scratch):
    engine, root = scratch
    outside = root / "outside.jpg"
    outside.write_bytes((root / "photos" / "ukbench00003.jpg").read_bytes())
    with Library.open(engine.settings) as library:
        (image_id,) = add_files(library, root / "photos", ["../outside.jpg"])
        link = root / "photos" / "link.jpg"
        link.symlink_to(outside)
        (link_id,) = add_files(library, root / "photos", ["link.jpg"])
        upsert = ImageUpsert(1, "gone.jpg", 1, 1, "0" * 64, vector=np.ones(1024, np.float32) / 32.0)
        library.apply(ChangeSet(upserts=[upsert]))
    for bad in (image_id, link_id):
        with pytest.raises(PathEscapeError):
            engine.records.image_file_path(bad)
    gone = engine.records.image_id_for(root / "photos" / "gone.jpg")
    with pytest.raises(ImageNotFoundError, match="no longer there"):
        engine.records.image_file_path(gone)


def test_approximate_indexes_give_exact_scores(scratch):
    """hnsw / ivf-sq8 only choose candidates: every score is the exact cosine from SQLite."""
    engine, root = scratch
    query = root / "photos" / "ukbench00005.jpg"
    flat = {hit.id: hit.score for hit in engine.search_image(query, k=10)}
    for kind in ("hnsw", "ivf-sq8"):
        assert engine.admin.rebuild_index(kind)["kind"] == kind
        assert engine.admin.stats()["index"]["kind"] == kind
        hits = engine.search_image(query, k=10)
        assert hits[0].path == str(query) and hits[0].score == flat[hits[0].id]
        assert all(flat[hit.id] == hit.score for hit in hits)
    assert engine.admin.rebuild_index("flat")["kind"] == "flat"


@pytest.mark.postgres
def test_failed_files_are_reported_never_returned(scratch):
    engine, root = scratch
    broken = root / "photos" / "broken.jpg"
    broken.write_bytes((root / "photos" / "ukbench00006.jpg").read_bytes()[:3000])
    (root / "photos" / "empty.jpg").write_bytes(b"")
    with Library.open(engine.settings) as library:
        failed_ids = add_files(library, root / "photos", ["broken.jpg", "empty.jpg"])
    stats = engine.admin.stats()
    assert stats["failed"] == 2 and stats["images"] == 10
    assert {f["path"] for f in stats["failures"]} == {
        str(broken),
        str(root / "photos" / "empty.jpg"),
    }
    failed = engine.admin.failed()
    assert [info.id for info in failed] == sorted(failed_ids)
    assert all(info.status == "failed" and info.error for info in failed)
    info = engine.records.get_image(failed_ids[0])
    assert info.status == "failed" and not info.has_vector
    with pytest.raises(ImageNotFoundError, match="has no vector"):
        engine.similar(failed_ids[0])
    engine.refresh()
    hits = engine.search_image(root / "photos" / "ukbench00006.jpg", k=50)
    assert len(hits) == 10 and not set(failed_ids) & {hit.id for hit in hits}
