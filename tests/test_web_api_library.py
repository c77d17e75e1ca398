"""The JSON API around the searches: a library not there yet or replaced while served,
images, files, thumbnails, labels, stats, OpenAPI, and the engine holder's refresh policy."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
import time
from dataclasses import replace

import pytest
from PIL import Image

from search.descriptor import DUPLICATE_Z
from tests.web_library import (
    API,
    COPY_NAME,
    EXTRA_OK,
    QUERY_NAME,
    ROTATED_NAME,
    assert_error,
    run_index,
    upload,
)
from web.app import create_app
from web.state import REFRESH_INTERVAL_S

# -- a library not there yet, or replaced while served ----------------------------------------


def test_no_library_yet_is_503_then_picked_up(tmp_path, weblib, data_dir):
    settings = replace(weblib.settings, library=tmp_path / "later")
    app = create_app(settings)
    app.extensions["imgsearch"].interval = 0.0
    client = app.test_client()
    error = assert_error(client.get(f"{API}/stats"), 503, "no_library")
    assert f"`imgsearch --library {tmp_path / 'later'} index PATH`" in error["message"]
    assert_error(upload(client, weblib.query_photo), 503, "no_library")
    page = client.get("/")
    assert page.status_code == 200 and b"No library yet" in page.data
    # /?from=ID said it twice: in the notice, and in an alert about the image asked for
    assert client.get("/?from=1").data.count(b"No library yet") == 1
    assert client.get("/library").status_code == 503
    # An index run creates the library; the running app picks it up without a restart.
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("ukbench00004.jpg", "ukbench00005.jpg"):
        shutil.copy2(data_dir / "ukbench_subset" / "images" / name, photos / name)
    run_index(settings.library, weblib.models_dir, photos)
    stats = client.get(f"{API}/stats")
    assert stats.status_code == 200 and stats.get_json()["images"] == 2
    app.extensions["imgsearch"].close()


@pytest.mark.postgres
def test_running_app_serves_the_new_generation(tmp_path, weblib, data_dir, database_url):
    images = data_dir / "ukbench_subset" / "images"
    first, later = tmp_path / "first", tmp_path / "later"
    for folder, names in (
        (first, ["ukbench00008.jpg", "ukbench00012.jpg"]),
        (later, ["ukbench00020.jpg"]),
    ):
        folder.mkdir()
        for name in names:
            shutil.copy2(images / name, folder / name)
    settings = replace(weblib.settings, library=tmp_path / "lib", database_url=database_url)
    run_index(settings.library, weblib.models_dir, first, database_url=database_url)
    app = create_app(settings)
    client = app.test_client()
    query = images / "ukbench00020.jpg"
    before = upload(client, query, k=5).get_json()["results"]
    assert len(before) == 2 and before[0]["score"] < 0.99
    holder = app.extensions["imgsearch"]
    clock = FakeClock()
    holder.clock = clock
    run_index(settings.library, weblib.models_dir, later, database_url=database_url)  # a CLI run
    # Within the interval (a second) the generation is not checked: the old index answers.
    assert len(upload(client, query, k=5).get_json()["results"]) == 2
    # Past it, the app checks the generation and reloads in the background.
    clock.advance(REFRESH_INTERVAL_S)
    deadline = time.monotonic() + 15
    while True:
        after = upload(client, query, k=5).get_json()["results"]
        if len(after) == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.02)  # the reload thread's own work, not an interval
    assert len(after) == 3 and after[0]["score"] >= 0.999 and after[0]["exact"]
    assert client.get(f"{API}/stats").get_json()["images"] == 3
    app.extensions["imgsearch"].close()


def test_a_library_deleted_and_made_again_under_a_running_app_is_served(tmp_path, weblib, data_dir):
    """A server kept answering from a deleted library (its connections held the deleted
    file open): ``/stats`` counted the old photos and searches found them, ids led to the
    new library's files, while the CLI showed the new library (a new user's audit)."""
    images = data_dir / "ukbench_subset" / "images"
    first, later = tmp_path / "first", tmp_path / "later"
    for folder, names in (
        (first, ["ukbench00008.jpg", "ukbench00012.jpg"]),
        (later, ["ukbench00020.jpg", "ukbench00024.jpg", "ukbench00028.jpg"]),
    ):
        folder.mkdir()
        for name in names:
            shutil.copy2(images / name, folder / name)
    settings = replace(weblib.settings, library=tmp_path / "lib")
    run_index(settings.library, weblib.models_dir, first)
    app = create_app(settings)
    client = app.test_client()
    holder = app.extensions["imgsearch"]
    holder.clock = clock = FakeClock()
    assert client.get(f"{API}/stats").get_json()["images"] == 2
    for database in settings.library.glob("imgsearch.sqlite3*"):
        database.unlink()
    run_index(settings.library, weblib.models_dir, later)  # another library at the path
    clock.advance(REFRESH_INTERVAL_S)  # one check is due (the clock stands still after it)
    deadline = time.monotonic() + 10
    while client.get(f"{API}/stats").get_json()["images"] != 3:
        assert time.monotonic() < deadline, "still serving the deleted library"
        time.sleep(0.05)  # the refresh thread's own work
    found = upload(client, images / "ukbench00024.jpg", k=1).get_json()["results"]
    assert found[0]["exact"] and found[0]["path"].endswith("ukbench00024.jpg"), found
    holder.close()


def test_empty_library_is_explained(tmp_path, weblib):
    settings = replace(weblib.settings, library=tmp_path / "empty")
    (tmp_path / "no-photos").mkdir()
    run_index(settings.library, weblib.models_dir, tmp_path / "no-photos")
    app = create_app(settings)
    client = app.test_client()
    page = client.get("/")
    assert page.status_code == 200 and b"No image has been indexed yet" in page.data
    notice = re.search(rb'<div class="notice".*?</div>', page.data, re.S).group(0)
    text = re.sub(rb"<[^>]+>", b"", notice)
    said = text.replace(str(tmp_path / "empty").encode(), b"LIBRARY")  # (its folder's name)
    assert said.count(b"mpty") == 1, text  # said once: not "Empty library. The library is empty"
    assert b"Empty library" in client.get("/library").data
    results = upload(client, weblib.query_photo).get_json()["results"]
    assert results == []
    app.extensions["imgsearch"].close()


# -- images, labels, stats --------------------------------------------------------------------


@pytest.mark.postgres
def test_image_record_and_similar(client, ids):
    image = client.get(f"{API}/images/{ids[QUERY_NAME]}").get_json()
    assert image["id"] == ids[QUERY_NAME] and image["path"].endswith(QUERY_NAME)
    assert image["width"] == 640 and image["status"] == "ok" and image["labels"]
    similar = client.get(f"{API}/images/{ids[QUERY_NAME]}/similar?k=4").get_json()["results"]
    assert len(similar) == 4
    assert ids[QUERY_NAME] not in [h["id"] for h in similar]  # itself excluded
    assert similar[0]["id"] == ids[COPY_NAME] and similar[0]["exact"] is True
    assert all(not h["exact"] for h in similar[1:])


@pytest.mark.postgres
def test_files_are_served_by_id_with_their_type(client, weblib, ids):
    response = client.get(f"{API}/images/{ids[QUERY_NAME]}/file")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert response.data == weblib.query_photo.read_bytes()
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.postgres
def test_thumbnails_are_oriented_cached_jpegs(client, weblib, ids):
    url = f"{API}/images/{ids[ROTATED_NAME]}/thumbnail"
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    with Image.open(io.BytesIO(response.data)) as thumb:
        assert thumb.format == "JPEG" and thumb.size == (320, 240)  # upright: landscape
    cached = list(weblib.settings.thumbnail_dir.rglob(f"{ids[ROTATED_NAME]}-*-320.jpg"))
    assert len(cached) == 1
    os.utime(cached[0], ns=(10**18, 10**18))  # a rewrite would give it a new time stamp
    assert client.get(url).data == response.data and cached[0].stat().st_mtime_ns == 10**18
    big = client.get(f"{url}?size=1024")
    with Image.open(io.BytesIO(big.data)) as thumb:
        assert thumb.size == (640, 480)  # never enlarged


def test_thumbnail_cache_follows_the_file(tmp_path, data_dir):
    from search.library import ThumbnailCache

    images = data_dir / "ukbench_subset" / "images"
    photo = tmp_path / "photo.jpg"
    shutil.copy2(images / "ukbench00008.jpg", photo)
    cache = ThumbnailCache(tmp_path / "thumbs")
    first = cache.get(7, photo, size=160)
    assert first.is_file() and Image.open(first).size == (160, 120)
    assert cache.get(7, photo, size=160) == first  # cached: same file
    shutil.copy2(images / "ukbench00012.jpg", photo)  # the file changed (size and mtime)
    second = cache.get(7, photo, size=160)
    assert second != first and second.is_file() and not first.exists()  # stale one dropped
    by_sha = cache.get(7, photo, size=160, sha256="ab" * 32)
    assert by_sha != second
    with pytest.raises(ValueError):
        cache.get(7, photo, size=333)
    assert not second.exists() and cache.clear() == 1


def test_thumbnail_of_a_missing_file_is_404(tmp_path, weblib, data_dir):
    photos = tmp_path / "gone"
    photos.mkdir()
    shutil.copy2(data_dir / "ukbench_subset" / "images" / "ukbench00008.jpg", photos / "a.jpg")
    settings = replace(weblib.settings, library=tmp_path / "lib")
    run_index(settings.library, weblib.models_dir, photos)
    (photos / "a.jpg").unlink()
    app = create_app(settings)
    client = app.test_client()
    image_id = client.get(f"{API}/stats").get_json()["images"]
    assert_error(client.get(f"{API}/images/{image_id}/thumbnail"), 404)
    assert_error(client.get(f"{API}/images/{image_id}/file"), 404)
    app.extensions["imgsearch"].close()


@pytest.mark.postgres
def test_labels_and_stats(client, weblib):
    bees = client.get(f"{API}/labels?q=bee&k=10").get_json()
    assert bees["q"] == "bee" and bees["results"]
    assert all(h["label"] and "bee" in h["label"] for h in bees["results"])
    # Label hits are no image comparison: no copy score, never a copy.
    assert all(
        h["copy_score"] is None and h["z"] is None and not h["duplicate"] for h in bees["results"]
    )
    assert any("bees_" in h["path"] for h in bees["results"])
    stats = client.get(f"{API}/stats").get_json()
    assert stats["images"] == 66 + EXTRA_OK and stats["failed"] == 1
    assert stats["model"]["name"] == "mobilenet_v3_small_100"
    assert len(stats["collections"]) == 2 and stats["index"]["kind"]


# -- OpenAPI ----------------------------------------------------------------------------------


def test_openapi_document(client, app):
    response = client.get(f"{API}/openapi.json")
    doc = json.loads(response.data)
    assert doc["openapi"].startswith("3.")
    documented = set(doc["paths"])
    routes = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix(API))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(API + "/")
    }
    assert routes == documented
    for path in (
        "/search",
        "/images/{image_id}",
        "/images/{image_id}/similar",
        "/images/{image_id}/thumbnail",
        "/images/{image_id}/file",
        "/stats",
        "/labels",
    ):
        assert path in documented
    refs = re.findall(r'"\$ref": "#/components/schemas/(\w+)"', json.dumps(doc))
    assert refs and all(ref in doc["components"]["schemas"] for ref in refs)
    # Hits document their three scores; the score is the rank score min_score filters.
    hit = doc["components"]["schemas"]["SearchHit"]
    assert {"score", "copy_score", "z", "duplicate"} <= set(hit["properties"])
    assert {"copy_score", "z", "duplicate"} <= set(hit["required"])
    assert "rank score" in hit["properties"]["score"]["description"]
    assert "background" in hit["properties"]["z"]["description"]
    assert f"z >= {DUPLICATE_Z:g}" in hit["properties"]["duplicate"]["description"]
    min_score = next(
        p
        for p in doc["paths"]["/images/{image_id}/similar"]["get"]["parameters"]
        if p["name"] == "min_score"
    )
    assert "rank score" in min_score["description"]
    text = json.dumps(doc)
    assert "Cosine similarity, 1.0" not in text and "cosine 0." not in text
    assert text.lower().count("cosine") == 1  # only where the copy score is defined


# -- the shared engine holder -----------------------------------------------------------------


class FakeClock:
    """A monotonic clock that moves only when told: intervals are stepped over, not slept."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.monotonic() if now is None else now  # may replace a live holder's

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeEngine:
    store = None  # no database file: never replaced

    def __init__(
        self, refresh_s: float = 0.0, fail: bool = False, clock: FakeClock | None = None
    ) -> None:
        self.refreshes, self.refresh_s, self.fail, self.clock = 0, refresh_s, fail, clock

    def refresh(self) -> bool:
        self.refreshes += 1
        if self.clock is not None:
            self.clock.advance(self.refresh_s)  # the refresh "takes" refresh_s
        if self.fail:
            raise RuntimeError("disk on fire")
        return True


def test_engine_holder_refresh_policy(tmp_path, caplog):
    from search.settings import Settings
    from web.state import EngineHolder

    settings = Settings(library=tmp_path)
    clock = FakeClock()
    engine = FakeEngine(refresh_s=0.06, clock=clock)
    holder = EngineHolder(settings, engine, interval=0.01, background=False, clock=clock)
    assert holder.get() is engine and engine.refreshes == 0  # fresh: not checked yet
    clock.advance(0.005)
    holder.get()
    assert engine.refreshes == 0  # within the interval
    clock.advance(0.015)
    holder.get()
    holder.get()
    assert engine.refreshes == 1  # a slow refresh is not repeated within 2x its duration
    clock.advance(0.11)
    holder.get()
    assert engine.refreshes == 1
    clock.advance(0.02)
    holder.get()
    assert engine.refreshes == 2
    failing = FakeEngine(fail=True)
    holder = EngineHolder(settings, failing, interval=0.0, background=False, clock=clock)
    with caplog.at_level(logging.ERROR):
        assert holder.get() is failing  # still served, the failure logged
    assert "disk on fire" in caplog.text


def test_a_served_engine_is_checked_without_requests(tmp_path):
    """A server checks its library by itself (an idle server's first search after an index
    run was answered from the old index): no request, yet the engine is refreshed."""
    from search.settings import Settings
    from web.state import EngineHolder

    engine = FakeEngine()
    holder = EngineHolder(Settings(library=tmp_path), engine, interval=0.02)
    time.sleep(0.2)
    assert engine.refreshes == 0  # not polling: only requests check
    holder.poll()
    deadline = time.monotonic() + 5
    while engine.refreshes < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert engine.refreshes >= 2
    holder.close()
    time.sleep(0.1)
    after = engine.refreshes
    time.sleep(0.2)
    assert engine.refreshes == after  # closed: the poll ended


def test_engine_holder_retries_opening_once_per_interval(tmp_path):
    from search.settings import Settings
    from search.store import LibraryNotFoundError
    from web.state import EngineHolder

    settings = Settings(library=tmp_path)
    calls = []

    def opener(settings):
        calls.append(settings)
        if len(calls) < 3:
            raise LibraryNotFoundError("nothing indexed yet")
        return FakeEngine()

    clock = FakeClock()
    holder = EngineHolder(settings, opener=opener, interval=0.05, clock=clock)
    for _ in range(3):
        with pytest.raises(LibraryNotFoundError):
            holder.get()
    assert len(calls) == 1  # within the interval the last answer is repeated
    clock.advance(0.04)
    with pytest.raises(LibraryNotFoundError):
        holder.get()
    assert len(calls) == 1
    clock.advance(0.02)
    with pytest.raises(LibraryNotFoundError):
        holder.get()
    assert len(calls) == 2
    clock.advance(0.06)
    assert isinstance(holder.get(), FakeEngine) and len(calls) == 3
