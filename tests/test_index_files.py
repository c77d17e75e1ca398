"""The FAISS cache on disk: save and load, stamps (stale, foreign), missing, corrupt and
truncated files, atomic saves, saving while searching."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import faiss
import numpy as np
import pytest

from search.index import (
    CorruptIndexError,
    ForeignIndexError,
    IndexMissingError,
    StaleIndexError,
    VectorIndex,
)
from search.index import file_format as index_io
from tests import index_vectors
from tests.index_vectors import DIM, FAST, KINDS, stamp_for

data = index_vectors.data  # a module fixture


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_round_trip(kind: str, data, tmp_path: Path) -> None:
    ids, x = data
    index = VectorIndex.build(ids, x, kind, config=FAST)
    index.remove(ids[:30])
    path = tmp_path / "index.faiss"
    stamp = stamp_for(index)
    index.save(path, stamp)
    loaded = VectorIndex.load(path, stamp)
    assert loaded.kind == kind and loaded.ntotal == index.ntotal
    assert loaded.search_param == index.search_param
    assert loaded.recall == index.recall
    for a, b in zip(loaded.search(x[:40], 10), index.search(x[:40], 10), strict=True):
        np.testing.assert_array_equal(a, b)
    header = VectorIndex.read_header(path)
    assert header.stamp["generation"] == 3 and header.info["recall_at_k"] == index.recall
    assert [p.name for p in tmp_path.iterdir()] == ["index.faiss"]  # no temp files left


def test_stale_and_foreign(data, tmp_path: Path) -> None:
    ids, x = data
    index = VectorIndex.build(ids[:50], x[:50], "flat")
    path = tmp_path / "i.faiss"
    stamp = stamp_for(index)
    index.save(path, stamp)
    for change in ({"generation": 4}, {"count": 51}):
        with pytest.raises(StaleIndexError):
            VectorIndex.load(path, stamp_for(index, **change))
    for change in (
        {"library_id": "other"},
        {"model_name": "x"},
        {"model_sha256": "cd" * 32},
        {"dimension": 64},
    ):
        with pytest.raises(ForeignIndexError):
            VectorIndex.load(path, stamp_for(index, **change))


def test_missing_corrupt_truncated(data, tmp_path: Path) -> None:
    ids, x = data
    index = VectorIndex.build(ids[:300], x[:300], "flat")
    stamp = stamp_for(index)
    path = tmp_path / "i.faiss"
    with pytest.raises(IndexMissingError):
        VectorIndex.load(path, stamp)
    index.save(path, stamp)
    good = path.read_bytes()
    header = VectorIndex.read_header(path)
    offset, length, _ = header.sections["faiss"]
    damaged = {
        "flipped payload byte": good[: offset + length // 2]
        + bytes([good[offset + length // 2] ^ 0xFF])
        + good[offset + length // 2 + 1 :],
        "truncated": good[: len(good) // 2],
        "tail cut": good[:-5],
        "empty": b"",
        "not an index": b"hello world" * 100,
        "header byte": good[:-60] + bytes([good[-60] ^ 1]) + good[-59:],
    }
    for what, blob in damaged.items():
        path.write_bytes(blob)
        with pytest.raises(CorruptIndexError):
            VectorIndex.load(path, stamp)
            pytest.fail(what)
    # a raw FAISS file (the old naming) is not accepted either
    faiss.write_index(faiss.IndexFlatIP(DIM), str(path))
    with pytest.raises(CorruptIndexError):
        VectorIndex.load(path, stamp)


def test_atomic_save_keeps_old_file_on_failure(data, tmp_path: Path, monkeypatch) -> None:
    ids, x = data
    path = tmp_path / "i.faiss"
    old = VectorIndex.build(ids[:100], x[:100], "flat")
    old.save(path, stamp_for(old))
    before = path.read_bytes()
    new = VectorIndex.build(ids[:500], x[:500], "flat")
    calls = []

    def failing_write(self, blob: bytes) -> int:
        calls.append(len(blob))
        if len(calls) > 2:
            raise OSError(28, "No space left on device")
        return original(self, blob)

    original = index_io._HashingSink.write
    monkeypatch.setattr(index_io._HashingSink, "write", failing_write)
    with pytest.raises(OSError, match="No space"):
        new.save(path, stamp_for(new, generation=4))
    monkeypatch.undo()
    monkeypatch.setattr(index_io.os, "replace", lambda *a: (_ for _ in ()).throw(OSError("boom")))
    with pytest.raises(OSError, match="boom"):
        new.save(path, stamp_for(new, generation=4))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert VectorIndex.load(path, stamp_for(old)).ntotal == 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["i.faiss"]


def test_save_while_searching_is_consistent(data, tmp_path: Path) -> None:
    ids, x = data
    index = VectorIndex.build(ids, x, "ivf-sq8", config=FAST)
    path = tmp_path / "i.faiss"
    done = threading.Event()
    results: list[np.ndarray] = []

    def search() -> None:
        while not done.is_set():
            results.append(index.search(x[:4], 3)[1])

    t = threading.Thread(target=search)
    t.start()
    index.save(path, stamp_for(index))
    done.set()
    t.join()
    assert results and VectorIndex.load(path, stamp_for(index)).ntotal == len(ids)
    assert os.path.getsize(path) == VectorIndex.read_header(path).file_size
