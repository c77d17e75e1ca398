"""The ``ivfpq-ondisk`` kind: built in shard files, saved with its lists in a memory-mapped
``.ivfdata`` file beside the stamped index file, changed afterwards without touching that file,
and rebuilt (never trusted) when the file is gone; selectable from the CLI like the others."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from search.index import CorruptIndexError, IndexConfig, IndexStamp, StaleIndexError, VectorIndex
from tests.cli_process import run_cli
from tests.test_index import clustered, make_ids

SMALL = IndexConfig(recall_sample=100, ivf_niter=6, ondisk_shard=500)  # 2 shard files


def _stamp(index: VectorIndex, generation: int = 1) -> IndexStamp:
    return IndexStamp("lib", generation, index.ntotal, "m", "ab" * 32, index.dimension)


def _top1(index: VectorIndex, x: np.ndarray, ids: np.ndarray, rows: np.ndarray) -> float:
    """Share of stored vectors found among their own 50 candidates (the engine's)."""
    _, found = index.search(x[rows], 50)
    return float(np.mean([ids[r] in f for r, f in zip(rows, found, strict=True)]))


@pytest.mark.parametrize("swap_stream", [True, False], ids=["c-stream", "fd-fallback"])
def test_saving_the_ondisk_lists_prints_nothing(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, swap_stream
) -> None:
    """FAISS printf()s "resizing FILE to N bytes" as its file grows: silenced, both ways, and
    what Python prints before, during (another thread's) and after comes out whole."""
    import threading

    import search.index.ondisk as ondisk
    from search.index.quiet import c_stdout_silenced

    quiet = c_stdout_silenced
    monkeypatch.setattr(ondisk, "c_stdout_silenced", lambda: quiet(swap_stream=swap_stream))
    x, ids = clustered(600, dim=32), make_ids(600)
    index = VectorIndex.build(ids, x, "ivfpq-ondisk", config=SMALL)
    print("before", flush=True)
    index.save(tmp_path / "index.faiss", _stamp(index))
    print("after", flush=True)
    out, err = capfd.readouterr()
    assert "resizing" not in out + err and out == "before\nafter\n" and err == ""
    assert len(list(tmp_path.glob("*.ivfdata"))) == 1
    if swap_stream:  # C's stdout only: Python output of other threads meanwhile goes on
        with quiet():
            thread = threading.Thread(target=lambda: print("other thread", flush=True))
            thread.start()
            thread.join()
        assert capfd.readouterr().out == "other thread\n"
    with pytest.raises(RuntimeError), quiet(swap_stream=swap_stream):  # restored on errors
        raise RuntimeError("boom")
    print("still here", flush=True)
    assert capfd.readouterr().out == "still here\n"


def test_ondisk_lists_are_mapped_from_beside_the_index_file_and_survive_changes(
    tmp_path: Path,
) -> None:
    x, ids = clustered(1200, dim=32), make_ids(1200)
    index = VectorIndex.build(ids, x, "ivfpq-ondisk", config=SMALL)
    assert index.kind == "ivfpq-ondisk" and index.ntotal == 1200
    assert index.recall is not None and index.recall >= 0.9  # after exact re-scoring
    rows = np.arange(0, 1200, 12)
    assert _top1(index, x, ids, rows) >= 0.95
    path = tmp_path / "index.faiss"
    index.save(path, _stamp(index))
    lists = sorted(tmp_path.glob("index.faiss.*.ivfdata"))
    assert len(lists) == 1 and lists[0].stat().st_size > 1200 * 8  # ids + codes
    loaded = VectorIndex.load(path, _stamp(index))
    assert loaded.info["ondisk_file"] == lists[0].name
    for a, b in zip(loaded.search(x[rows], 10), index.search(x[rows], 10), strict=True):
        np.testing.assert_array_equal(a, b)
    # changes go to RAM and tombstones; the mapped file is never rewritten
    before = lists[0].stat().st_mtime_ns
    loaded.remove(ids[:20])
    loaded.add([5], x[:1])
    assert not loaded.contains(ids[:20]).any() and loaded.contains([5]).all()
    _, found = loaded.search(x[:20], 50)
    assert not np.isin(found, ids[:20]).any()
    loaded.save(path, _stamp(loaded, 2))
    assert lists[0].stat().st_mtime_ns == before
    again = VectorIndex.load(path, _stamp(loaded, 2))
    assert again.ntotal == 1181 and again.search(x[:1], 1)[1][0, 0] == 5
    with pytest.raises(StaleIndexError):
        VectorIndex.load(path, _stamp(loaded, 1))
    lists[0].unlink()  # the cache is rebuilt from the store, never half-trusted
    with pytest.raises(CorruptIndexError, match="missing or changed"):
        VectorIndex.load(path, _stamp(loaded, 2))


@pytest.mark.parametrize("keep_mtime", [False, True], ids=["touched", "mtime-restored"])
def test_lists_changed_in_place_with_their_size_are_not_trusted(
    tmp_path: Path, keep_mtime: bool
) -> None:
    """Bytes of the ``.ivfdata`` file changed in place, its size and name kept, were searched
    as they were: other neighbours, exit 0, `db check` ok (a new user's audit). Its time and
    a digest of blocks across it are in the stamp now: the cache is rebuilt instead."""
    x, ids = clustered(1200, dim=32), make_ids(1200)
    index = VectorIndex.build(ids, x, "ivfpq-ondisk", config=SMALL)
    path = tmp_path / "index.faiss"
    index.save(path, _stamp(index))
    (lists,) = tmp_path.glob("index.faiss.*.ivfdata")
    before = lists.stat()
    data = bytearray(lists.read_bytes())
    data[:4096] = bytes(255 - b for b in data[:4096])  # the ids and codes of the first lists
    lists.write_bytes(bytes(data))
    if keep_mtime:
        os.utime(lists, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert lists.stat().st_size == before.st_size
    with pytest.raises(CorruptIndexError, match="missing or changed"):
        VectorIndex.load(path, _stamp(index))


def test_stale_lists_go_only_once_the_new_index_file_is_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Saving another kind over an ivfpq-ondisk index left its ``.ivfdata`` beside it for
    good; a new ivfpq-ondisk save deleted the old lists before its index file was written.
    Now a save removes the lists of this index name it does not use, after the file is in."""
    from search.index import file_format

    x, ids = clustered(600, dim=32), make_ids(600)
    path = tmp_path / "index.faiss"
    first = VectorIndex.build(ids, x, "ivfpq-ondisk", config=SMALL)
    first.save(path, _stamp(first))
    (old,) = tmp_path.glob("index.faiss.*.ivfdata")
    others = [tmp_path / "index.faiss.notes.ivfdata", tmp_path / "other.faiss.0a1b.ivfdata"]
    for other in others:  # not lists of this index: never touched
        other.write_text("mine")

    def full_disk(*_args: object) -> int:
        raise OSError(28, "No space left on device")

    second = VectorIndex.build(ids, x, "ivfpq-ondisk", config=SMALL)
    with monkeypatch.context() as patched:
        patched.setattr(file_format, "write_file", full_disk)
        with pytest.raises(OSError, match="No space"):
            second.save(path, _stamp(second))
    assert old.is_file()  # the index file in place still names it: it still loads
    assert VectorIndex.load(path, _stamp(first)).ntotal == 600
    second.save(path, _stamp(second))
    (new,) = tmp_path.glob("index.faiss.*[0-9a-f].ivfdata")
    assert new != old and VectorIndex.load(path, _stamp(second)).ntotal == 600
    flat = VectorIndex.build(ids, x, "flat")
    flat.save(path, _stamp(flat))
    assert not list(tmp_path.glob("index.faiss.*[0-9a-f].ivfdata"))
    assert VectorIndex.load(path, _stamp(flat)).kind == "flat"
    assert all(other.read_text() == "mine" for other in others)


@pytest.mark.slow
def test_a_library_indexed_with_the_ondisk_kind_searches_and_rebuilds_its_lists(
    tmp_path: Path, models_dir: Path, data_dir: Path
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for source in sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[:24]:
        shutil.copy(source, photos / source.name)
    base = ["--library", "lib", "--model-path", str(models_dir)]
    indexed = run_cli([*base, "index", "photos", "--index", "ivfpq-ondisk", "--json"], tmp_path)
    assert indexed.returncode == 0, indexed.stderr
    assert json.loads(indexed.stdout)["added"] == 24  # stdout is JSON only
    assert "resizing" not in indexed.stderr and "warning" not in indexed.stderr.lower(), (
        indexed.stderr
    )
    stats = json.loads(run_cli([*base, "stats", "--json"], tmp_path).stdout)
    assert json.dumps(stats).count("ivfpq-ondisk") >= 1
    for lists in (tmp_path / "lib").glob("*.ivfdata"):
        lists.unlink()
    query = photos / "ukbench00004.jpg"
    found = run_cli([*base, "search", str(query), "--json", "-k", "4"], tmp_path)
    assert found.returncode == 0, found.stderr
    results = json.loads(found.stdout)["results"]
    assert Path(results[0]["path"]).name == "ukbench00004.jpg"
    assert {Path(r["path"]).name for r in results} <= {f"ukbench0000{i}.jpg" for i in range(4, 8)}
    assert len(list((tmp_path / "lib").glob("*.ivfdata"))) == 1  # rebuilt from the store
    assert "resizing" not in found.stderr and "warning" not in found.stderr.lower(), found.stderr
    rebuilt = run_cli([*base, "rebuild-index", "--index", "ivfpq-ondisk"], tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stderr
    noise = rebuilt.stdout + rebuilt.stderr
    assert "resizing" not in noise and "warning" not in noise.lower(), noise
    assert len(list((tmp_path / "lib").glob("*.ivfdata"))) == 1  # the old lists went
    # Rebuilt as another kind, the lists go too: they stayed for good (0.7 GB at 10 M images).
    flat = run_cli([*base, "rebuild-index", "--index", "auto", "--json"], tmp_path)
    assert flat.returncode == 0 and json.loads(flat.stdout)["kind"] == "flat", flat.stderr
    assert not list((tmp_path / "lib").glob("*.ivfdata"))
    found = run_cli([*base, "search", str(query), "--json", "-k", "1"], tmp_path)
    assert Path(json.loads(found.stdout)["results"][0]["path"]).name == "ukbench00004.jpg"


@pytest.mark.parametrize("n", [1, 2, 3])
def test_a_library_of_one_image_builds_the_ondisk_kind(n: int) -> None:
    """`rebuild-index --index ivfpq-ondisk` of a one-image library ended in a FAISS
    traceback ("Number of training points (1) should be at least as large as number of
    clusters (2)"): the product quantizer's codes are trained on the row repeated."""
    x, ids = clustered(n, dim=32), make_ids(n)
    index = VectorIndex.build(ids, x, "ivfpq-ondisk", config=SMALL)
    assert index.ntotal == n
    _, found = index.search(x[:1], 1)
    assert found[0][0] == ids[0]
