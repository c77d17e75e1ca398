"""Incremental indexing over real photos: add, re-run, modify, touch, move, copy, delete,
re-embed after a model switch. Every scenario checks the summary counts, what was decoded,
and that SQLite and the saved FAISS file agree."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import indexer.pipeline
import models.files
from search.descriptor import DescriptorError
from tests.indexer_helpers import Harness, copy_photos, make_harness, photo_paths

COUNTS = ("added", "updated", "moved", "removed", "failed", "unchanged", "copied")


def counts(summary) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {name: getattr(summary, name) for name in COUNTS}


def expect(**kw: int) -> dict[str, int]:
    return {name: kw.get(name, 0) for name in COUNTS}


@pytest.fixture
def harness(tmp_path: Path, models_dir: Path, monkeypatch, database_url) -> Harness:  # type: ignore[no-untyped-def]
    return make_harness(tmp_path, models_dir, monkeypatch, database_url)


@pytest.fixture
def photos(tmp_path: Path, data_dir: Path) -> Path:
    root = tmp_path / "photos"
    copy_photos(photo_paths(data_dir, 6), root)
    copy_photos(photo_paths(data_dir, 3, "train/bees"), root / "bees")
    return root


def assert_consistent(harness: Harness, n: int) -> None:
    store_ids, index_ids = harness.consistent()
    assert len(store_ids) == n
    assert store_ids == index_ids


@pytest.mark.postgres
def test_add_then_rerun_is_a_no_op_without_reading_files(
    harness: Harness, photos: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    first = harness.index(photos)
    assert counts(first) == expect(added=9)
    assert len(harness.decoded) == 9
    assert first.processed == 9 and first.images_per_second > 0
    assert first.images_total == 9 and first.failures == []
    rows = harness.rows()
    assert rows["bees/" + sorted(os.listdir(photos / "bees"))[0]]["status"] == "ok"
    assert all(r["vector"] is not None and r["sha256"] for r in rows.values())
    assert_consistent(harness, 9)

    def no_reading(item):  # type: ignore[no-untyped-def]
        raise AssertionError(f"unchanged file was read: {item.found.rel_path}")

    monkeypatch.setattr(indexer.pipeline, "read_and_hash", no_reading)
    again = harness.index(photos)
    assert counts(again) == expect(unchanged=9)
    assert harness.decoded == [] and again.images_per_second == 0.0
    assert _same_rows(harness.rows(), rows)
    assert_consistent(harness, 9)


def _same_rows(a: dict, b: dict) -> bool:  # type: ignore[type-arg]
    return a.keys() == b.keys() and all(
        {k: v for k, v in a[p].items() if k != "vector"}
        == {k: v for k, v in b[p].items() if k != "vector"}
        and np.array_equal(a[p]["vector"], b[p]["vector"])
        for p in a
    )


@pytest.mark.postgres
def test_modify_touch_move_copy_delete(harness: Harness, photos: Path) -> None:
    harness.index(photos)
    before = harness.rows()
    names = sorted(p.name for p in photos.glob("*.jpg"))

    # modified: new pixels -> re-embedded in place (same id, new vector)
    changed = photos / names[0]
    with Image.open(changed) as im:
        im.transpose(Image.Transpose.ROTATE_90).save(changed, quality=90)
    # touched: same bytes, new mtime -> no decode, the stored stat is refreshed
    touched = photos / names[1]
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    # moved into a new folder, and renamed in place
    (photos / "album").mkdir()
    shutil.move(photos / names[2], photos / "album" / names[2])
    os.rename(photos / names[3], photos / f"renamed-{names[3]}")
    # byte-identical copy of a photo that stays where it is
    shutil.copy2(photos / names[4], photos / "album" / f"copy-{names[4]}")
    # deleted
    (photos / names[5]).unlink()

    summary = harness.index(photos)
    # unchanged: the touched file, names[4] and the three bees
    assert counts(summary) == expect(added=1, updated=1, moved=2, removed=1, unchanged=5, copied=1)
    assert harness.decoded == [str(changed)]  # the only decode of the whole run
    rows = harness.rows()
    assert rows[names[0]]["id"] == before[names[0]]["id"]
    assert not np.allclose(rows[names[0]]["vector"], before[names[0]]["vector"])
    assert rows[names[1]]["mtime_ns"] == touched.stat().st_mtime_ns
    assert rows[names[1]]["created_at"] == before[names[1]]["created_at"]
    for old, new in ((names[2], f"album/{names[2]}"), (names[3], f"renamed-{names[3]}")):
        assert old not in rows
        assert rows[new]["id"] == before[old]["id"]
        assert rows[new]["created_at"] == before[old]["created_at"]  # not re-embedded
    copy = rows[f"album/copy-{names[4]}"]
    assert copy["id"] != rows[names[4]]["id"]
    assert np.array_equal(copy["vector"], rows[names[4]]["vector"])
    for key in ("width", "height", "format", "sha256"):
        assert copy[key] == rows[names[4]][key] is not None
    assert names[5] not in rows
    assert_consistent(harness, 9)
    assert counts(harness.index(photos)) == expect(unchanged=9)


@pytest.mark.parametrize(("batch_size", "streamed"), [(32, False), (1, True)])
def test_copies_within_one_run_are_embedded_once(
    harness: Harness, photos: Path, batch_size: int, streamed: bool, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    # with batch 1 the later copies usually find the first one committed (a stored copy
    # source); with 32 they wait for its result in memory. Both must give one decode.
    # streamed: every file counts as too large to hold (hashed in chunks, decoded from the
    # file): the same rows, copies found by the same sha256
    if streamed:
        monkeypatch.setattr(models.files, "STREAMED_ABOVE_BYTES", 0)
    first = sorted(photos.glob("*.jpg"))[0]
    for i in range(3):
        (photos / f"zz{i}").mkdir()
        shutil.copyfile(first, photos / f"zz{i}" / "dup.jpg")
    summary = harness.index(photos, batch_size=batch_size)
    assert counts(summary) == expect(added=12, copied=3)
    assert len(harness.decoded) == 9
    rows = harness.rows()
    for i in range(3):
        dup = rows[f"zz{i}/dup.jpg"]
        assert np.array_equal(dup["vector"], rows[first.name]["vector"])
        assert dup["width"] == rows[first.name]["width"] is not None
    assert rows[first.name]["sha256"] == hashlib.sha256(first.read_bytes()).hexdigest()
    assert_consistent(harness, 12)


@pytest.mark.postgres
def test_move_between_collections_and_replaced_content(
    harness: Harness, photos: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    harness.index(photos, other)
    before = harness.rows()
    names = sorted(p.name for p in photos.glob("*.jpg"))
    shutil.move(photos / names[0], other / names[0])  # across collections: still a move
    shutil.copyfile(photos / names[1], photos / "tmp.jpg")  # a copy ...
    os.replace(photos / names[2], photos / names[1])  # ... then names[2] moves over names[1]
    summary = harness.index(photos, other)
    # names[1]'s row now holds names[2]'s bytes (updated, vector reused from names[2]'s row,
    # which is then removed). tmp.jpg holds names[1]'s old bytes, but that row's vector is
    # being replaced in this run, so it is no copy source: tmp.jpg is decoded.
    assert counts(summary) == expect(added=1, updated=1, moved=1, removed=1, unchanged=6, copied=1)
    assert harness.decoded == [str(photos / "tmp.jpg")]
    rows = harness.rows()
    assert rows[names[0]]["id"] == before[names[0]]["id"]  # rel path is the same, new root
    assert np.array_equal(rows[names[1]]["vector"], before[names[2]]["vector"])
    assert np.allclose(rows["tmp.jpg"]["vector"], before[names[1]]["vector"], atol=1e-5)
    assert_consistent(harness, 9)


@pytest.mark.postgres
def test_reembed_after_model_switch(harness: Harness, photos: Path) -> None:
    harness.index(photos)
    with harness.library() as library:
        library.switch_model(library.store.model_stamp().name)
    summary = harness.index(photos)
    assert counts(summary) == expect(updated=9)
    assert len(harness.decoded) == 9
    assert_consistent(harness, 9)


def test_a_run_that_fails_on_its_options_is_recorded_failed(harness: Harness, photos: Path) -> None:
    """A run whose descriptor options are refused after it was recorded reads `failed`, not
    `running` for ever (the CLI checks them first; an API caller may not)."""
    with pytest.raises(DescriptorError):
        harness.index(photos, descriptor="rotations=3")
    with harness.library() as library:
        last = library.store.runs.last()
    assert last is not None and last.status == "failed"
