"""The JSON API through Flask's test client, over a library built by the indexer from
../shared photos: search, regions, errors, images, thumbnails, labels, stats, OpenAPI."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
import time
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from search.descriptor import DUPLICATE_Z
from tests.web_library import (
    API,
    AUGLY_NAME,
    COPY_NAME,
    EDITED_ORIGINAL,
    EXTRA_OK,
    QUERY_NAME,
    ROTATED_NAME,
    assert_error,
    run_index,
    upload,
)
from web.app import create_app
from web.state import REFRESH_INTERVAL_S


def in_group0(path: str) -> bool:
    """A photo of UKBench group 0 (ukbench00000..00003, or one of our copies of them)."""
    name = Path(path).name
    if name in (COPY_NAME, ROTATED_NAME):
        return True
    return name.startswith("ukbench") and int(name[7:12]) // 4 == 0


# -- search -----------------------------------------------------------------------------------


@pytest.mark.postgres
def test_uploaded_photo_finds_itself_first(client, weblib):
    response = upload(client, weblib.query_photo, k=5)
    assert response.status_code == 200
    body = response.get_json()
    results = body["results"]
    assert len(results) == 5
    first = results[0]
    assert Path(first["path"]).name == QUERY_NAME
    assert first["score"] >= 0.999 and first["exact"] is True and first["rank"] == 1
    for key in (
        "rank",
        "score",
        "id",
        "path",
        "width",
        "height",
        "labels",
        "copy_score",
        "z",
        "duplicate",
        "thumbnail_url",
        "file_url",
    ):
        assert key in first
    # The same photo: a copy by every measure (copy score 1, far above the background).
    assert first["copy_score"] >= 0.999 and first["z"] >= DUPLICATE_Z and first["duplicate"]
    assert first["thumbnail_url"] == f"{API}/images/{first['id']}/thumbnail"
    assert first["file_url"] == f"{API}/images/{first['id']}/file"
    for url in (first["thumbnail_url"], first["file_url"], first["page_url"]):
        assert client.get(url).status_code == 200, url
    assert (first["width"], first["height"]) == (640, 480)
    assert first["labels"] and {"name", "score"} <= set(first["labels"][0])
    # The byte-identical copy in the other collection ties and is marked exact too.
    assert Path(results[1]["path"]).name == COPY_NAME and results[1]["exact"] is True
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    # The rest of the top 5 are photos of the same object (UKBench group 0).
    assert sum(in_group0(r["path"]) for r in results[2:]) >= 2
    for r in results:  # the copy decision is the calibrated copy score's
        assert -1 <= r["copy_score"] <= 1 and r["duplicate"] is (r["z"] >= DUPLICATE_Z)


@pytest.mark.postgres
def test_the_server_runs_the_model_in_one_thread_per_request(client, app, weblib):
    """Request threads give the parallelism: a served query's model pass runs in one ONNX
    Runtime thread (two cost 30-45 % more CPU per pass on a busy machine), unless the
    settings name a count."""
    from web.app import serving_settings

    assert upload(client, weblib.query_photo, k=3).status_code == 200
    assert app.extensions["imgsearch"].get().analyzer.model.threads == 1
    assert serving_settings(replace(weblib.settings, threads=3)).threads == 3


def test_edited_copies_are_marked_duplicate_and_unrelated_photos_not(client, weblib):
    body = upload(client, weblib.ukbench / EDITED_ORIGINAL, k=30).get_json()
    by_name = {Path(r["path"]).name: r for r in body["results"]}
    resized = by_name["ukbench00120__resize.jpg"]
    assert resized["duplicate"] is True and resized["exact"] is False
    assert 0.9 < resized["copy_score"] < 0.999
    others = [r for name, r in by_name.items() if not name.startswith("ukbench00120")]
    assert others and not any(r["duplicate"] for r in others)
    assert all(r["z"] < DUPLICATE_Z for r in others)


def test_roi_query_returns_different_sensible_results(client, weblib):
    full = upload(client, weblib.query_photo, k=8).get_json()["results"]
    roi = upload(client, weblib.query_photo, k=8, roi="0.2,0.2,0.8,0.8").get_json()
    assert roi["query"]["roi"] == [0.2, 0.2, 0.8, 0.8]
    hits = roi["results"]
    assert [h["id"] for h in hits] != [h["id"] for h in full]
    assert hits[0]["score"] < 0.999  # the crop is not the whole photo any more
    top4 = [h["path"] for h in hits[:4]]
    assert sum(in_group0(p) for p in top4) >= 2, top4


def test_a_region_is_no_exact_copy_of_its_file(client, weblib):
    """The file a region was cut from is found, but not marked an exact copy of the
    query at 92 % (the web page badged it "EXACT COPY" beside a "COPY" of equal score)."""
    hits = upload(client, weblib.query_photo, k=5, roi="0.2,0.1,0.8,0.7").get_json()["results"]
    mine = [hit for hit in hits if Path(hit["path"]).name == QUERY_NAME]
    assert mine and mine[0]["score"] < 0.999, hits
    assert not any(hit["exact"] for hit in hits), hits
    whole = upload(client, weblib.query_photo, k=1).get_json()["results"][0]
    assert whole["exact"] is True and Path(whole["path"]).name == QUERY_NAME


@pytest.mark.postgres
def test_search_by_library_id_with_roi_matches_the_upload(client, weblib, ids):
    by_upload = upload(client, weblib.query_photo, k=5, roi="0.1,0.1,0.6,0.7").get_json()
    by_id = client.post(
        f"{API}/search", data={"image_id": ids[QUERY_NAME], "k": "5", "roi": "0.1,0.1,0.6,0.7"}
    ).get_json()
    assert [(h["id"], h["score"]) for h in by_id["results"]] == [
        (h["id"], h["score"]) for h in by_upload["results"]
    ]


def test_min_score_and_k(client, weblib):
    results = upload(client, weblib.query_photo, k=50, min_score="0.6").get_json()["results"]
    assert results and all(r["score"] >= 0.6 for r in results) and len(results) < 50
    # min_score filters the rank score (what orders the results), not the copy score.
    unfiltered = upload(client, weblib.query_photo, k=50).get_json()["results"]
    assert [r["id"] for r in results] == [r["id"] for r in unfiltered if r["score"] >= 0.6]
    assert len(upload(client, weblib.query_photo, k=3).get_json()["results"]) == 3
    as_percent = upload(client, weblib.query_photo, k=50, min_score="60%").get_json()["results"]
    assert [r["id"] for r in as_percent] == [r["id"] for r in results]


def test_upload_is_not_written_to_disk(client, weblib, tmp_path):
    before = {p: p.stat().st_mtime_ns for p in weblib.extra.iterdir()}
    assert upload(client, weblib.query_photo, k=1).status_code == 200
    assert {p: p.stat().st_mtime_ns for p in weblib.extra.iterdir()} == before


@pytest.mark.postgres
def test_a_pair_scores_the_same_whichever_way_it_is_asked(client, weblib, ids):
    """Upload, search by library id, similar by id (API) and the image page's cards (web)
    give every other image the same score: all ask with the image's file and its views."""
    image_id = ids[EDITED_ORIGINAL]
    path = weblib.ukbench / EDITED_ORIGINAL

    def by(response) -> dict[int, tuple]:
        assert response.status_code == 200, response.data[:300]
        return {
            r["id"]: (r["score"], r["copy_score"], r["z"], r["duplicate"])
            for r in response.get_json()["results"]
            if r["id"] != image_id
        }

    uploaded = by(upload(client, path, k=14))
    by_id = by(client.post(f"{API}/search", data={"image_id": image_id, "k": "14"}))
    similar = by(client.get(f"{API}/images/{image_id}/similar?k=12"))  # as many as the page
    assert len(similar) == 12 and set(similar) <= set(uploaded)
    for other, values in similar.items():
        assert uploaded[other] == pytest.approx(values, abs=2e-6), other
        assert by_id[other] == pytest.approx(values, abs=2e-6), other
    page = client.get(f"/images/{image_id}").get_data(as_text=True)
    cards = page.split('<li class="card')[1:]
    shown = [
        re.search(r'href="/images/(\d+)".*?title="Score (\d\.\d{4})', card, re.S).groups()
        for card in cards
    ]
    assert len(shown) >= 10
    for other, score in shown:
        assert score == f"{similar[int(other)][0]:.4f}"


@pytest.mark.postgres
def test_label_lists_name_each_label_once(client, weblib, ids):
    """ImageNet has two "maillot" classes: one label, their probabilities summed."""
    augly = weblib.extra / AUGLY_NAME
    results = upload(client, augly, k=20).get_json()["results"]
    lists = [[label["name"] for label in r["labels"]] for r in results]
    lists.append(
        [
            label["name"]
            for label in client.get(f"{API}/images/{ids[AUGLY_NAME]}").get_json()["labels"]
        ]
    )
    assert any("maillot" in names for names in lists)
    for names in lists:
        assert len(names) == len(set(names)), names


@pytest.mark.postgres
def test_labels_and_the_library_come_in_pages(client):
    whole = client.get(f"{API}/labels?q=a&k=10").get_json()["results"]
    second = client.get(f"{API}/labels?q=a&k=5&page=2").get_json()
    assert len(whole) == 10 and second["page"] == 2
    assert [(r["id"], r["rank"]) for r in second["results"]] == [
        (r["id"], r["rank"]) for r in whole[5:]
    ]
    listed = client.get(f"{API}/images?per_page=7&page=2").get_json()
    first = client.get(f"{API}/images?per_page=14").get_json()
    assert listed["total"] == first["total"] >= 14 and listed["pages"] == -(-listed["total"] // 7)
    assert [r["id"] for r in listed["results"]] == [r["id"] for r in first["results"][7:]]
    assert [r["rank"] for r in listed["results"]] == list(range(8, 15))
    mtimes = [r["mtime"] for r in first["results"]]
    assert mtimes == sorted(mtimes, reverse=True)
    assert_error(client.get(f"{API}/images?page=0"), 400)
    assert_error(client.get(f"{API}/images?per_page=abc"), 400)
    paths = client.get(f"{API}/openapi.json").get_json()["paths"]
    assert "/images" in paths
    assert any(p["name"] == "page" for p in paths["/labels"]["get"]["parameters"])


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"k": "0"}, "bad_request"),
        ({"k": "abc"}, "bad_request"),
        ({"k": "100000"}, "bad_request"),
        ({"min_score": "2"}, "bad_request"),
        ({"min_score": "nan"}, "bad_request"),
        ({"roi": "1,2,3"}, "bad_roi"),
        ({"roi": "a,b,c,d"}, "bad_roi"),
        ({"roi": "0.5,0.2,0.5,0.9"}, "bad_roi"),  # empty: zero width
        ({"roi": "0.8,0.2,0.3,0.9"}, "bad_roi"),  # inverted
        ({"roi": "2000,2000,3000,3000"}, "bad_roi"),  # not fractions (px: for pixels)
        ({"roi": "0,0,1.5,1"}, "bad_roi"),  # was read as pixels: a false "copy"
        ({"roi": "-0.1,0,1,1"}, "bad_roi"),
        ({"roi": "px:10,10,2000,2000"}, "bad_roi"),  # pixels beyond a 640x480 photo
        ({"roi": "px:-1,0,100,100"}, "bad_roi"),
    ],
)
def test_bad_parameters_are_400(client, weblib, fields, code):
    error = assert_error(upload(client, weblib.query_photo, **fields), 400, code)
    name = next(iter(fields))
    assert f"'{name}'" in error["message"] and "\n" not in error["message"]


def test_roi_in_pixels_is_the_same_box_as_in_fractions(client, weblib):
    pixels = upload(client, weblib.query_photo, k=5, roi="px:128,48,512,336").get_json()
    fractions = upload(client, weblib.query_photo, k=5, roi="0.2,0.1,0.8,0.7").get_json()
    assert pixels["query"]["roi"] == [128, 48, 512, 336]
    assert pixels["query"]["roi_units"] == "px"
    assert fractions["query"]["roi_units"] == "fraction"
    assert [(r["id"], r["score"]) for r in pixels["results"]] == [
        (r["id"], r["score"]) for r in fractions["results"]
    ]


def test_missing_image_is_400(client):
    assert_error(client.post(f"{API}/search", data={"k": "3"}), 400, "no_image")
    error = assert_error(upload(client, data=b"", name="empty.jpg"), 400, "empty")
    assert "empty" in error["message"]


def test_a_json_body_is_415_saying_to_send_a_form(client, ids):
    """`{"image_id": 5}` as JSON is not read: 415 saying so and what to send (it was a 400
    "No image ... (or an 'image_id')" although the body held one)."""
    image_id = min(ids.values())
    for endpoint in ("search", "lookup"):
        response = client.post(f"{API}/{endpoint}", json={"image_id": image_id, "k": 3})
        error = assert_error(response, 415, "unsupported_media_type")
        assert "application/json" in error["message"] and "multipart" in error["message"]
        assert "'image_id'" in error["message"]
    text = client.post(f"{API}/search", data="image_id=1", content_type="text/plain")
    assert_error(text, 415, "unsupported_media_type")
    # The same id as a form field is a search.
    response = client.post(f"{API}/search", data={"image_id": str(image_id), "k": "3"})
    assert response.status_code == 200 and response.get_json()["results"][0]["id"] == image_id


def test_not_an_image_is_415(client, weblib):
    error = assert_error(upload(client, data=b"hello, I am text" * 10, name="a.jpg"), 415)
    assert error["code"] == "not_an_image"
    truncated = weblib.query_photo.read_bytes()[:2000]
    assert_error(upload(client, data=truncated, name="cut.jpg"), 415)
    assert_error(upload(client, data=b"<svg xmlns='http://www.w3.org/2000/svg'/>"), 415)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bomb_is_refused(client):
    buffer = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(buffer, "PNG")  # 144 Mpx in a few KB
    assert len(buffer.getvalue()) < 200_000
    error = assert_error(upload(client, data=buffer.getvalue(), name="bomb.png"), 415)
    assert error["code"] == "too_many_pixels" and "pixels" in error["message"]


def test_too_large_upload_is_413(weblib, app):
    small = create_app(
        replace(weblib.settings, max_upload_bytes=50_000), app.extensions["imgsearch"].get()
    )
    response = upload(small.test_client(), weblib.query_photo)
    error = assert_error(response, 413, "too_large")
    assert "limit" in error["message"]
    # The HTML form says so too, in the page.
    page = small.test_client().post(
        "/search", data={"image": (io.BytesIO(b"x" * 200_000), "big.jpg")}
    )
    assert page.status_code == 413 and b"too large" in page.data.lower()


@pytest.mark.postgres
def test_unknown_ids_are_404(client):
    for url in (
        "/images/999999",
        "/images/999999/similar",
        "/images/999999/thumbnail",
        "/images/999999/file",
        "/images/0/file",
    ):
        assert_error(client.get(API + url), 404)
    assert_error(client.post(f"{API}/search", data={"image_id": "999999"}), 404)
    assert_error(client.get(f"{API}/nothing-here"), 404)
    assert_error(client.get(f"{API}/search"), 405)


def test_other_bad_requests(client, ids):
    assert_error(client.get(f"{API}/labels"), 400)
    assert_error(client.get(f"{API}/labels?q=" + "x" * 101), 400)
    assert_error(client.get(f"{API}/images/{ids[QUERY_NAME]}/thumbnail?size=5000"), 400)
    assert_error(client.get(f"{API}/images/{ids[QUERY_NAME]}/similar?k=-1"), 400)
    assert_error(client.post(f"{API}/search", data={"image_id": "../../etc/passwd"}), 400)


def test_internal_errors_hide_details(app, client, weblib, monkeypatch, caplog):
    engine = app.extensions["imgsearch"].get()

    def broken(*_a, **_k):
        raise RuntimeError("secret detail /etc/shadow")

    monkeypatch.setattr(engine, "search_image", broken)
    with caplog.at_level(logging.ERROR):
        response = upload(client, weblib.query_photo)
        page = client.post("/search", data={"image": (io.BytesIO(b"abc"), "a.jpg")})
    error = assert_error(response, 500, "internal_error")
    assert "secret" not in json.dumps(error)
    assert page.status_code == 500 and b"secret" not in page.data
    assert "secret detail" in caplog.text and "Traceback" in caplog.text


def test_no_library_yet_is_503_then_picked_up(tmp_path, weblib, data_dir):
    settings = replace(weblib.settings, library=tmp_path / "later")
    app = create_app(settings)
    app.extensions["imgsearch"].interval = 0.0
    client = app.test_client()
    error = assert_error(client.get(f"{API}/stats"), 503, "no_library")
    assert "imgsearch index" in error["message"]
    assert_error(upload(client, weblib.query_photo), 503, "no_library")
    page = client.get("/")
    assert page.status_code == 200 and b"No library yet" in page.data
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
    assert text.count(b"mpty") == 1, text  # said once: not "Empty library. The library is empty"
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
