"""Issue 15 item 1: `imgsearch reindex --model` while a server runs.

A real `imgsearch serve` subprocess and real `imgsearch reindex` subprocesses: after a switch
the server answers with the new model (never the old query model against the new vectors);
while a re-index runs, or after one was killed, searches (and the explore views) are refused
with 503 "reindexing"
(and a clear CLI message) until an index run has finished it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest
import requests

from tests.served import run_cli, serve, start_cli

pytestmark = pytest.mark.slow
NEW_MODEL = "mobilenet_v3_small_075"


def _counts(library: Path) -> tuple[int, int]:
    """(vectors, indexed images) read straight from the database file."""
    with closing(sqlite3.connect(library / "imgsearch.sqlite3", timeout=30)) as db:
        vectors = db.execute("SELECT count(*) FROM embeddings").fetchone()[0]
        images = db.execute("SELECT count(*) FROM images WHERE status = 'ok'").fetchone()[0]
    return vectors, images


def _search(url: str, **fields: object) -> requests.Response:
    data = {k: str(v) for k, v in fields.items() if k != "image"}
    files = {"image": ("q.jpg", fields["image"])} if "image" in fields else None
    return requests.post(f"{url}/api/v1/search", data=data, files=files, timeout=60)


def _wait_served_model(url: str, name: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        stats = requests.get(f"{url}/api/v1/stats", timeout=30).json()
        if (stats.get("model") or {}).get("name") == name:
            return
        time.sleep(0.3)
    raise AssertionError(f"the server never showed {name}")


def _image_id(url: str, name: str) -> int:
    for image_id in range(1, 200):
        info = requests.get(f"{url}/api/v1/images/{image_id}", timeout=30)
        if info.status_code == 200 and info.json()["path"].endswith(name):
            return image_id
    raise AssertionError(f"{name} not in the library")


def _assert_finds_itself(url: str, image_id: int, photo: Path) -> None:
    by_id = _search(url, image_id=image_id, k=2)
    assert by_id.status_code == 200, by_id.text
    top = by_id.json()["results"][0]
    assert top["id"] == image_id and top["score"] > 0.999, by_id.json()["results"]
    by_upload = _search(url, image=photo.read_bytes(), k=2)
    assert by_upload.status_code == 200, by_upload.text
    top = by_upload.json()["results"][0]
    assert top["id"] == image_id and top["score"] > 0.99, by_upload.json()["results"]
    lookup = requests.post(f"{url}/api/v1/lookup", data={"image_id": image_id}, timeout=60)
    assert lookup.status_code == 200, lookup.text
    assert image_id not in {r["id"] for r in lookup.json()["results"]}, lookup.json()


def test_reindex_while_serving_never_mixes_models(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    sources = sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[:40]
    for src in sources:
        shutil.copyfile(src, photos / src.name)
    library = tmp_path / "lib"
    made = run_cli(
        library, models_dir, "index", "--no-progress", "--descriptor", "whiten=off", str(photos)
    )
    assert made.returncode == 0, made.stderr
    probe = photos / sources[5].name

    with serve(library, models_dir) as served:
        url = served.url
        image_id = _image_id(url, probe.name)
        _assert_finds_itself(url, image_id, probe)

        # 1. a finished switch: the server answers with the new model, without a restart
        switched = run_cli(library, models_dir, "reindex", "--model", NEW_MODEL, "--no-progress")
        assert switched.returncode == 0, switched.stderr
        _wait_served_model(url, NEW_MODEL)
        _assert_finds_itself(url, image_id, probe)

        # 2. a switch in progress (the re-index is stopped half-way): 503 "reindexing"
        back = start_cli(
            library,
            models_dir,
            "reindex",
            "--model",
            "mobilenet_v3_small_100",
            "--no-progress",
            "--workers",
            "1",
            "--batch-size",
            "1",
        )
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and back.poll() is None:
                vectors, images = _counts(library)
                if 0 < vectors < images - 10:
                    os.kill(back.pid, signal.SIGSTOP)
                    break
                time.sleep(0.05)
            assert back.poll() is None, "the re-index finished before it could be stopped"
            busy = _search(url, image_id=image_id, k=2)
            assert busy.status_code == 503, busy.text
            error = busy.json()["error"]
            assert error["code"] == "reindexing" and "being re-indexed" in error["message"]
            assert "mobilenet_v3_small_100" in error["message"]
            upload = _search(url, image=probe.read_bytes(), k=2)
            assert upload.status_code == 503 and upload.json()["error"]["code"] == "reindexing"
            similar = requests.get(f"{url}/api/v1/images/{image_id}/similar", timeout=30)
            assert similar.status_code == 503, similar.text
            # 3. killed: still refused, now saying how to finish it; the CLI says so too
            os.kill(back.pid, signal.SIGKILL)
            back.wait(timeout=30)
        finally:
            if back.poll() is None:
                back.kill()
                back.wait()
        killed = _search(url, image_id=image_id, k=2)
        assert killed.status_code == 503, killed.text
        message = killed.json()["error"]["message"]
        assert "interrupted" in message and f"`imgsearch --library {library} index`" in message
        page = requests.post(f"{url}/search", data={"image_id": image_id}, timeout=30)
        assert page.status_code == 503 and "interrupted" in page.text
        cli = run_cli(library, models_dir, "search", str(probe), "--json")
        assert cli.returncode == 1 and "Traceback" not in cli.stderr + cli.stdout
        assert "interrupted" in cli.stderr and "imgsearch index" in cli.stderr, cli.stderr
        lookup = run_cli(library, models_dir, "lookup", str(probe))
        assert lookup.returncode == 1 and "interrupted" in lookup.stderr, lookup.stderr
        # the explore views too (they answered with the images re-embedded so far as if they
        # were the library: "0 clusters, 32 unclustered" of 509)
        for path in ("/api/v1/clusters", "/api/v1/outliers", "/api/v1/map"):
            answer = requests.get(url + path, timeout=60)
            assert answer.status_code == 503, (path, answer.text)
            assert answer.json()["error"]["code"] == "reindexing", path
        clusters = run_cli(library, models_dir, "clusters")
        assert clusters.returncode == 1 and "interrupted" in clusters.stderr, clusters.stderr
        stats = run_cli(library, models_dir, "stats")
        assert stats.returncode == 0 and "reindex     unfinished" in stats.stdout, stats.stdout
        api = requests.get(f"{url}/api/v1/stats", timeout=30).json()
        assert api["reindex"] == "mobilenet_v3_small_100", api

        # 4. `imgsearch index` finishes it: right answers with the model switched back
        finished = run_cli(library, models_dir, "index", "--no-progress", "--json")
        assert finished.returncode == 0, finished.stderr
        assert json.loads(finished.stdout)["failed"] == 0
        _wait_served_model(url, "mobilenet_v3_small_100")
        _assert_finds_itself(url, image_id, probe)
        assert requests.get(f"{url}/api/v1/stats", timeout=30).json()["reindex"] is None
        assert requests.get(f"{url}/api/v1/clusters", timeout=60).status_code == 200
        assert "Traceback" not in served.output


def test_a_reader_never_sees_a_live_reindex_as_interrupted(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """`imgsearch reindex` let go of the library between switching the model and starting
    its index run (~0.3 s, loading the model): a server's 503 said the re-index "was
    interrupted; run `imgsearch index`" meanwhile, although it was running. It now holds
    the library from the switch to the end of its run: a reader polling all along sees
    "being re-indexed" while the process lives (a killed one still reads as interrupted:
    test_reindex_while_serving_never_mixes_models)."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for src in sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[:12]:
        shutil.copyfile(src, photos / src.name)
    library = tmp_path / "lib"
    made = run_cli(
        library, models_dir, "index", "--no-progress", "--descriptor", "whiten=off", str(photos)
    )
    assert made.returncode == 0, made.stderr
    with serve(library, models_dir) as served, requests.Session() as session:
        url = f"{served.url}/api/v1/outliers?n=1"
        assert session.get(url, timeout=60).status_code == 200
        for model in (NEW_MODEL, "mobilenet_v3_small_100"):
            reindex = start_cli(library, models_dir, "reindex", "--model", model, "--no-progress")
            seen: list[str] = []
            try:
                while reindex.poll() is None:
                    answer = session.get(url, timeout=60)
                    alive = reindex.poll() is None  # answered while the run was alive
                    if answer.status_code == 503 and alive:
                        seen.append(answer.json()["error"]["message"])
                    assert not (alive and "interrupted" in answer.text), answer.text
            finally:
                _out, err = reindex.communicate(timeout=300)
            assert reindex.returncode == 0, err
            assert any("being re-indexed" in message for message in seen), seen
