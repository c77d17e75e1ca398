"""`imgsearch index --executor dask://HOST:PORT`: decode + embed on a Dask cluster of 2 worker
processes started by the test, one of them killed in the middle of a chunk, gives the rows
and vectors of a local run; a bad executor or a missing cluster is refused before any work."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest

from indexer.distributed import KILL_ONCE_ENV
from search.library import Library
from search.settings import Settings
from tests.cli_process import run_cli


def _rows(library_dir: Path) -> dict[str, tuple[object, ...]]:
    """rel_path -> (status, error, sha256, size, format, labels, vector) of every file."""
    with Library.open(Settings(library=library_dir)) as library:
        store = library.store
        vectors = {
            int(i): v
            for ids, block in store.iter_vectors()
            for i, v in zip(ids, block, strict=True)
        }
        states = {
            s.id: s for c in store.collections() for s in store.file_states(int(c["id"])).values()
        }
        infos = store.reads.images(list(states))
        return {
            info.rel_path: (
                info.status,
                info.error,
                info.sha256,
                (info.width, info.height),
                info.format,
                [label[0] for label in info.labels],
                vectors.get(info.id),
            )
            for info in infos.values()
        }


def _crops(library_dir: Path) -> dict[str, np.ndarray]:
    """rel_path -> the stored crops [5, D] of every image that has them."""
    with Library.open(Settings(library=library_dir)) as library:
        store = library.store
        found = {
            int(i): v
            for ids, block in store.descriptors.crops()
            for i, v in zip(ids, block, strict=True)
        }
        infos = store.reads.images(list(found))
        return {infos[i].rel_path: v for i, v in found.items()}


def _photos(tmp_path: Path, data_dir: Path) -> Path:
    photos = tmp_path / "photos"
    photos.mkdir()
    for source in sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[:21]:
        shutil.copy(source, photos / source.name)
    shutil.copy(photos / "ukbench00000.jpg", photos / "copy.jpg")  # reuses a vector
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return photos


def _index(tmp_path: Path, models_dir: Path, library: str, *extra: str) -> dict[str, object]:
    result = run_cli(
        [
            "--library",
            library,
            "--model-path",
            str(models_dir),
            "index",
            "photos",
            "--json",
            "--no-progress",
            "--batch-size",
            "4",
            *extra,
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.slow
def test_a_dask_cluster_indexes_like_a_local_run_even_when_a_worker_dies(
    tmp_path: Path, models_dir: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    distributed = pytest.importorskip("distributed")
    _photos(tmp_path, data_dir)
    crops = ("--descriptor", "default,crops=on")  # five crops an image, made on the workers too
    local = _index(tmp_path, models_dir, "local-lib", *crops)
    marker = tmp_path / "a-worker-was-killed"
    monkeypatch.setenv(KILL_ONCE_ENV, str(marker))  # inherited by the worker processes
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        address = cluster.scheduler_address.removeprefix("tcp://")
        remote = _index(tmp_path, models_dir, "dask-lib", "--executor", f"dask://{address}", *crops)
    assert marker.exists(), "no worker was killed: the retry was not exercised"
    for key in ("added", "failed", "copied"):
        assert remote[key] == local[key], key
    assert (local["added"], local["failed"]) == (22, 1)
    ours, theirs = _rows(tmp_path / "local-lib"), _rows(tmp_path / "dask-lib")
    assert ours.keys() == theirs.keys()
    for path, row in ours.items():
        other = theirs[path]
        assert row[:6] == other[:6], path
        if row[6] is None:
            assert other[6] is None, path
        else:
            np.testing.assert_allclose(row[6], other[6], atol=1e-5, err_msg=path)
    ours_crops, theirs_crops = _crops(tmp_path / "local-lib"), _crops(tmp_path / "dask-lib")
    assert (
        ours_crops.keys() == theirs_crops.keys() == {p for p, r in ours.items() if r[6] is not None}
    )
    for path, rows in ours_crops.items():
        np.testing.assert_allclose(rows, theirs_crops[path], atol=1e-5, err_msg=path)


def test_a_bad_executor_or_a_missing_cluster_is_refused_before_any_work(
    tmp_path: Path, models_dir: Path
) -> None:
    (tmp_path / "photos").mkdir()
    base = ["--library", "lib", "--model-path", str(models_dir), "index", "photos"]
    bad = run_cli([*base, "--executor", "ray://somewhere:1"], tmp_path)
    assert bad.returncode == 2
    assert "dask://HOST:PORT" in bad.stderr
    assert not (tmp_path / "lib").exists()
    pytest.importorskip("distributed")
    gone = run_cli([*base, "--executor", "dask://127.0.0.1:9"], tmp_path, timeout=120)
    assert gone.returncode == 1
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in gone.stderr
    assert "Traceback" not in gone.stderr


def test_a_port_that_is_no_scheduler_or_a_scheduler_without_workers_is_refused(
    models_dir: Path,
) -> None:
    """`--executor` at the dashboard's port (which `dask scheduler` prints beside its own), or
    at a scheduler without workers: the run hung without a word, `stats` calling it running
    and its collection locked (a new user's audit). Both are refused, saying which."""
    distributed = pytest.importorskip("distributed")
    from indexer.distributed import DaskAnalyzer, ExecutorError, probe
    from models import OnnxModel, locate_model

    with socket.socket() as silent:  # accepts connections and says nothing, as HTTP servers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        address = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(ExecutorError, match="answers, but not as a Dask scheduler"):
            probe(address, timeout=1.0)
    with distributed.LocalCluster(
        n_workers=0, processes=True, protocol="tcp", dashboard_address=None
    ) as cluster:
        probe(cluster.scheduler_address)  # a scheduler: it greets
        model = OnnxModel(locate_model("mobilenet_v3_small_100", [models_dir]))
        with pytest.raises(ExecutorError, match="has no workers"):
            DaskAnalyzer(cluster.scheduler_address, model, timeout=2.0)


def test_a_worker_without_the_model_says_it_is_the_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that could not find the model printed the client's own message ("point
    IMGSEARCH_MODEL_PATH (or --model-path)", naming a folder that exists here): no word of a
    worker, and --model-path cannot help one (a new user's audit)."""
    from indexer.distributed import ExecutorError, WorkerJob, _worker_analyzer

    monkeypatch.delenv("IMGSEARCH_MODEL_PATH", raising=False)
    job = WorkerJob("mobilenet_v3_small_100", str(tmp_path / "nowhere"), "0" * 64, 8, False, None)
    with pytest.raises(ExecutorError, match=r"the Dask worker on \S+ cannot use the model") as e:
        _worker_analyzer(job)
    assert "IMGSEARCH_MODEL_PATH" in str(e.value) and str(tmp_path / "nowhere") in str(e.value)
