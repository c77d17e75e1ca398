"""The index run's decode threads (models/decode_pool.py): only the cores the model leaves free
decode at first, one more joins when the model thread waited for decodes longer than it
worked, and the results are those of decoding inline."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from indexer.head_start import LARGE_FILE_BYTES, decode_active
from models import DecodePool, ImageAnalyzer, OnnxModel, free_cores
from tests.indexer_helpers import photo_paths


class Overlap:
    """Tasks that hold their thread a while and count how many ran at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = self.most = 0

    def task(self, seconds: float = 0.05) -> int:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(seconds)
        with self.lock:
            self.now -= 1
        return 1


def run_four(pool: DecodePool) -> int:
    overlap = Overlap()
    futures = [pool.submit(overlap.task) for _ in range(4)]
    assert [pool.result(f) for f in futures] == [1, 1, 1, 1]
    return overlap.most


def test_only_the_active_threads_decode_until_the_caller_waits() -> None:
    pool = DecodePool(2, active=1)
    try:
        assert run_four(pool) == 1
        pool.pace()  # the caller waited ~0.2 s and worked ~0: decoding is the bottleneck
        assert pool.active == 2
        assert run_four(pool) == 2
    finally:
        pool.shutdown()


def test_a_caller_that_works_longer_than_it_waits_keeps_one_decoder() -> None:
    pool = DecodePool(2, active=1)
    try:
        for _ in range(3):
            done = pool.submit(lambda: 1)
            time.sleep(0.05)  # decoded before the caller asks for it
            assert pool.result(done) == 1
            time.sleep(0.1)  # the model's turn
            pool.pace()
        assert pool.active == 1
    finally:
        pool.shutdown()


def test_one_burst_of_waiting_after_calm_batches_keeps_one_decoder() -> None:
    """Decodes run ahead of the model; when that lead runs out, one batch waits a lot. Over
    the run the model still worked longer than it waited: no second decoder."""
    pool = DecodePool(2, active=1)
    try:
        for _ in range(3):
            assert pool.result(pool.submit(lambda: 1)) == 1
            time.sleep(0.1)  # the model's turn; the next decode is ready before it asks
            pool.pace()
        assert pool.result(pool.submit(time.sleep, 0.15)) is None  # the lead ran out
        pool.pace()
        assert pool.active == 1
    finally:
        pool.shutdown()


def test_shutdown_does_not_wait_for_turns_of_queued_tasks() -> None:
    pool = DecodePool(3, active=1)
    overlap = Overlap()
    futures = [pool.submit(overlap.task, 0.3) for _ in range(3)]
    started = time.monotonic()
    pool.shutdown(cancel_futures=True)
    assert time.monotonic() - started < 0.8  # not three turns of 0.3 s one after the other
    assert all(f.done() for f in futures)


def test_how_many_decode_from_the_start(tmp_path: Path) -> None:
    class Model:
        threads = 1

    small, large = [120_000] * 8, [3_000_000] * 8
    assert decode_active(0, Model(), small) == free_cores(1)  # type: ignore[arg-type]
    assert decode_active(0, Model(), large) is None  # type: ignore[arg-type]
    assert decode_active(2, Model(), small) is None  # type: ignore[arg-type]
    assert decode_active(0, Model(), []) == free_cores(1)  # type: ignore[arg-type]
    assert LARGE_FILE_BYTES < 3_000_000


def test_paced_decoding_gives_the_inline_results(model: OnnxModel, data_dir: Path) -> None:
    paths = photo_paths(data_dir, 40)
    with ImageAnalyzer(model, decode_workers=0, batch_size=8, frames=True) as inline:
        expected = list(inline.analyze_iter(str(p) for p in paths))
    with ImageAnalyzer(
        model, decode_workers=2, decode_active=1, batch_size=8, frames=True
    ) as paced:
        got = list(paced.analyze_iter(str(p) for p in paths))
    assert len(got) == len(expected) == len(paths)
    for a, b in zip(got, expected, strict=True):
        assert np.array_equal(a.embedding, b.embedding)
        assert a.labels == b.labels


@pytest.fixture(scope="module")
def model(models_dir: Path) -> OnnxModel:
    from models import locate_model

    return OnnxModel(locate_model("mobilenet_v3_small_100", [models_dir]), threads=1)


def test_a_waiting_caller_runs_decodes_no_thread_started(monkeypatch: pytest.MonkeyPatch) -> None:
    """With one decoder on two cores, the caller waiting for the first decode runs queued
    ones itself; results come back in order, and an error reaches whoever asks for it."""
    monkeypatch.setattr("models.decode_pool.usable_cores", lambda: 2)
    pool = DecodePool(1, active=1)
    ran_by: dict[int, str] = {}

    def decode(i: int) -> int:
        ran_by[i] = threading.current_thread().name
        time.sleep(0.05)
        if i == 3:
            raise ValueError("corrupt")
        return i

    try:
        futures = [pool.offer(decode, i) for i in range(6)]
        assert [pool.result(f) for f in futures[:3]] == [0, 1, 2]
        with pytest.raises(ValueError, match="corrupt"):
            pool.result(futures[3])
        assert [pool.result(f) for f in futures[4:]] == [4, 5]
        caller = threading.current_thread().name
        assert caller in ran_by.values()
        assert any(name != caller for name in ran_by.values())
    finally:
        pool.shutdown()


def test_submitted_tasks_and_busy_cores_are_left_to_the_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A task whose future others wait on (:meth:`DecodePool.submit`, the head start's) is
    never run by the caller, nor is anything when the decoders take every core."""
    monkeypatch.setattr("models.decode_pool.usable_cores", lambda: 2)
    caller = threading.current_thread().name
    for most, active, submit in ((1, 1, True), (2, 2, False)):
        pool = DecodePool(most, active=active)
        ran_by: list[str] = []

        def decode(i: int, ran_by: list[str] = ran_by) -> int:
            ran_by.append(threading.current_thread().name)
            time.sleep(0.03)
            return i

        try:
            send = pool.submit if submit else pool.offer
            futures = [send(decode, i) for i in range(5)]
            assert [pool.result(f) for f in futures] == list(range(5))
            assert all(not f.cancelled() for f in futures)
            assert caller not in ran_by
        finally:
            pool.shutdown()


@pytest.mark.parametrize(
    ("v2", "v1", "affinity", "expected"),
    [
        (None, None, 8, 8),  # no quota: the cores the process may run on
        ("max 100000\n", None, 8, 8),  # cgroup v2 without a limit
        ("150000 100000\n", None, 8, 2),  # docker --cpus=1.5: two busy threads, not eight
        ("50000 100000\n", None, 8, 1),  # half a core: still one
        ("800000 100000\n", None, 3, 3),  # a quota above the pinned cores (taskset -c 0-2)
        (None, ("200000", "100000"), 16, 2),  # cgroup v1
        (None, ("-1", "100000"), 4, 4),  # cgroup v1 without a limit
        ("garbage\n", None, 4, 4),  # unreadable: no quota assumed
    ],
)
def test_pools_count_the_cores_the_process_may_use(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    v2: str | None,
    v1: tuple[str, str] | None,
    affinity: int,
    expected: int,
) -> None:
    """Pools are sized by the cores a container's CPU quota or a pinning leaves the process,
    not by the machine's (every pool of threads or processes asks :func:`usable_cores`)."""
    import models.cores as cores

    v2_file = tmp_path / "cpu.max"
    v1_files = (tmp_path / "cpu.cfs_quota_us", tmp_path / "cpu.cfs_period_us")
    if v2 is not None:
        v2_file.write_text(v2)
    if v1 is not None:
        for path, text in zip(v1_files, v1, strict=True):
            path.write_text(text + "\n")
    monkeypatch.setattr(cores, "_CGROUP_V2", v2_file)
    monkeypatch.setattr(cores, "_CGROUP_V1", v1_files)
    monkeypatch.setattr(cores.os, "sched_getaffinity", lambda _pid: set(range(affinity)))
    cores.usable_cores.cache_clear()
    try:
        assert cores.usable_cores() == expected
        assert free_cores(1) == max(1, expected - 1)
    finally:
        cores.usable_cores.cache_clear()
