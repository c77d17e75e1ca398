"""The JSON API's answers to bad requests (parameters, regions, bodies, uploads, unknown
ids, internal errors) through Flask's test client, over a library built from ../shared photos."""

from __future__ import annotations

import io
import json
import logging
from dataclasses import replace

import pytest
from PIL import Image

from tests.web_library import (
    API,
    QUERY_NAME,
    assert_error,
    upload,
)
from web.app import create_app

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
        ({"roi": "0_0,0,1,1"}, "bad_roi"),  # Python's float() reads "0_0" and full-width
        ({"roi": "\uff11,0,1,1"}, "bad_roi"),  # digits; a region is plain decimals
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


SUPERSCRIPT_TWO = "%C2%B2"  # "²": str.isdigit() took it, int() refused it (a ValueError, 500)


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/images/{id}/thumbnail?size={n}",
        "/api/v1/images/{id}/thumbnail?t={n}",
        "/api/v1/images/{id}/similar?k={n}",
        "/api/v1/images?page={n}",
        "/api/v1/clusters?method=kmeans&k={n}",
        "/api/v1/clusters?min_size={n}",
        "/api/v1/clusters?per_page={n}",
        "/api/v1/outliers?n={n}",
        "/api/v1/outliers?k={n}",
        "/outliers?n={n}",
        "/clusters?method=kmeans&k={n}",
    ],
)
@pytest.mark.parametrize(
    "number",
    [SUPERSCRIPT_TWO, "%D9%A1%D9%A2", "%2B5", "1_0", "1" * 5000],
    ids=["superscript", "arabic-indic", "plus", "underscore", "5000-digits"],
)
def test_a_whole_number_parameter_is_ascii_digits_or_400(client, ids, url, number) -> None:  # type: ignore[no-untyped-def]
    """Every whole-number parameter is read by one helper (search.units.whole_number): "²"
    was 500 where ``isdigit`` let it through to ``int``; Arabic-Indic digits, "+5", "1_0"
    (which ``int`` takes) and 5000 digits (which it refuses) are 400 like any other bad
    number, on the API (JSON with a code) and on the pages."""
    response = client.get(url.format(id=ids[QUERY_NAME], n=number))
    if url.startswith("/api/"):
        error = assert_error(response, 400)
        assert error["code"] in ("bad_request", "bad_t"), error
    else:
        assert response.status_code == 400, (url, response.status_code)
        assert 'role="alert"' in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("q", "char"),
    [("%00", "\x00"), ("a%01b", "\x01"), ("bee%1B%5B31m", "\x1b"), ("ant%E2%80%AE", "\u202e")],
    ids=["nul", "soh", "escape", "right-to-left-override"],
)
def test_a_label_query_with_a_control_character_is_400(client, q, char) -> None:  # type: ignore[no-untyped-def]
    """`/labels?q=%00` put a raw NUL into the page's <title>, <h1> and search field (the API
    answered 200 with it): a control or other invisible character is 400 on both, and the
    page shows the words without it."""
    error = assert_error(client.get(f"{API}/labels?q={q}"), 400, "bad_request")
    assert "control character" in error["message"], error
    page = client.get(f"/labels?q={q}")
    text = page.get_data(as_text=True)
    assert page.status_code == 400 and "control character" in text
    assert char not in text


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


def test_a_database_that_does_not_answer_is_503(app, client, weblib, monkeypatch, caplog):
    """PostgreSQL stopped under a running server: every search, page and /stats was 500
    "Internal server error" (a new user's audit); it is 503 saying the database does not
    answer, without its address (in the server log)."""
    from sqlalchemy.exc import OperationalError

    engine = app.extensions["imgsearch"].get()

    def down(*_a, **_k):
        raise OperationalError(
            "SELECT 1", {}, Exception('connection to server at "10.0.0.7", port 5432 failed')
        )

    monkeypatch.setattr(engine, "search_image", down)
    with caplog.at_level(logging.WARNING):
        response = upload(client, weblib.query_photo)
        page = client.post("/search", data={"image": (io.BytesIO(b"abc"), "a.jpg")})
    error = assert_error(response, 503, "database_unavailable")
    assert "not answering" in error["message"] and "10.0.0.7" not in json.dumps(error)
    assert page.status_code == 503 and b"10.0.0.7" not in page.data
    assert "10.0.0.7" in caplog.text  # what the database said, for the admin


def test_a_search_by_the_id_of_a_changed_file_answers_from_its_stored_vectors(
    client, weblib, ids
) -> None:  # type: ignore[no-untyped-def]
    """A file changed since it was indexed: `POST /search` with its `image_id` was 415 "image
    header is truncated" (a truncated file), or searched with the new file's pixels (another
    photo), while `/images/ID/similar` and `imgsearch similar ID` answer from the stored
    vectors (saying nothing). They all answer so now and say so, and so does `POST /lookup`;
    a region of it needs the file (409), and so does its file itself (it was served)."""
    import os
    import shutil

    path = sorted(weblib.extra.glob("bees_*.jpg"))[0]
    image_id, kept, stat = ids[path.name], path.read_bytes(), path.stat()
    other = weblib.ukbench / "ukbench00040.jpg"
    try:
        for change in ("truncated", "another photo"):
            if change == "truncated":
                path.write_bytes(kept[:5000])
            else:
                shutil.copyfile(other, path)
            answer = client.post(f"{API}/search", data={"image_id": str(image_id), "k": "3"})
            assert answer.status_code == 200, (change, answer.data[:300])
            body = answer.get_json()
            assert body["file_changed"] is True and "changed on disk" in body["note"], body
            similar = client.get(f"{API}/images/{image_id}/similar?k=3").get_json()
            assert [(r["id"], r["score"]) for r in body["results"]] == [
                (r["id"], r["score"]) for r in similar["results"]
            ], change
            assert similar["file_changed"] is True and similar["note"] == body["note"]
            looked = client.post(f"{API}/lookup", data={"image_id": str(image_id)})
            assert looked.status_code == 200, (change, looked.data[:300])  # it was 415 too
            assert looked.get_json()["file_changed"] is True, change
            assert image_id not in [r["id"] for r in looked.get_json()["results"]]
            region = client.post(
                f"{API}/search", data={"image_id": str(image_id), "roi": "0.1,0.1,0.9,0.9"}
            )
            assert_error(region, 409, "file_changed")
            thumbnail = client.get(f"{API}/images/{image_id}/thumbnail?size=1024")
            if change == "truncated":  # it was 415 "Not a readable image", as of an upload
                assert_error(thumbnail, 409, "file_changed")
            # "Open original": another JPEG (or a truncated one) was served as the image
            assert_error(client.get(f"{API}/images/{image_id}/file"), 409, "file_changed")
    finally:
        path.write_bytes(kept)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    plain = client.post(f"{API}/search", data={"image_id": str(image_id)}).get_json()
    assert "file_changed" not in plain and plain["results"][0]["id"] == image_id


def test_a_schema_taken_down_under_a_running_server_is_503_saying_what_to_run(
    tmp_path, models_dir, data_dir
) -> None:  # type: ignore[no-untyped-def]
    """`imgsearch db downgrade` while a server had the library open: every request that read
    a dropped column was 500 "Internal server error"; it is 503 `schema_changed` saying to
    run `imgsearch db upgrade`, after which the server answers again."""
    from click.testing import CliRunner

    from cli.main import cli
    from search.settings import Settings
    from tests.indexer_helpers import copy_photos, photo_paths

    copy_photos(photo_paths(data_dir, 1), tmp_path / "one")
    args = ["--library", str(tmp_path / "lib"), "--model-path", str(models_dir)]
    runner = CliRunner()
    indexed = runner.invoke(cli, [*args, "index", "--no-progress", str(tmp_path / "one")])
    assert indexed.exit_code == 0, indexed.output
    app = create_app(Settings(library=tmp_path / "lib", model_path=(models_dir,)))
    try:
        client = app.test_client()
        assert client.get(f"{API}/images").status_code == 200
        assert runner.invoke(cli, [*args, "db", "downgrade", "0004v", "--yes"]).exit_code == 0
        error = assert_error(client.get(f"{API}/images"), 503, "schema_changed")
        assert f"`imgsearch --library {tmp_path / 'lib'} db upgrade`" in error["message"]
        assert runner.invoke(cli, [*args, "db", "upgrade"]).exit_code == 0
        assert client.get(f"{API}/images").status_code == 200
    finally:
        app.extensions["imgsearch"].close()


@pytest.mark.parametrize("raw", ["abc", "-1", "3.0", "%3Cb%3E"])
def test_an_image_address_without_a_number_says_so(client, raw) -> None:  # type: ignore[no-untyped-def]
    """``/api/v1/images/abc`` was werkzeug's "The requested URL was not found on the
    server..." where ``image_id=abc`` in a form is told it is no id: both say so now; an
    address of no route names itself and where the API's addresses are."""
    error = assert_error(client.get(f"{API}/images/{raw}"), 404, "not_found")
    assert "is not an image id: ids are whole numbers from 1" in error["message"], error
    page = client.get(f"/images/{raw}")
    assert page.status_code == 404 and "is not an image id" in page.get_data(as_text=True)
    assert "<b>" not in page.get_data(as_text=True)  # escaped
    error = assert_error(client.get(f"{API}/images/1/{raw}"), 404, "not_found")
    assert "No such address in the API" in error["message"] and "openapi.json" in error["message"]


def test_a_frame_time_past_the_largest_says_the_largest(client, ids) -> None:  # type: ignore[no-untyped-def]
    """``t=99999999999999999999999`` was told "an integer >= 0", which it is: the answer now
    gives the range."""
    from web.openapi_media import MAX_T_MS

    url = f"{API}/images/{ids[QUERY_NAME]}/thumbnail?t=99999999999999999999999"
    error = assert_error(client.get(url), 400, "bad_t")
    assert f"a whole number from 0 to {MAX_T_MS}" in error["message"], error
