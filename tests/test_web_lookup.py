"""Reverse lookup in the web app: ``POST /api/v1/lookup`` (JSON) and the search page's
"Find copies" mode (HTML, with and without script), over a library built by the indexer from
../shared photos, with edited copies from the near_duplicates set (see tests/web_library.py)."""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from tests.web_library import (
    API,
    AUGLY_NAME,
    COPY_NAME,
    EDITED_ORIGINAL,
    QUERY_NAME,
    RESAVED_NAME,
    assert_error,
    make_app,
    make_ids,
    make_weblib,
    upload,
)
from web.app import create_app

weblib = pytest.fixture(scope="module", name="weblib")(make_weblib)
app = pytest.fixture(scope="module", name="app")(make_app)
ids = pytest.fixture(scope="module", name="ids")(make_ids)

LOOKUP = f"{API}/lookup"
KINDS = ("exact", "near", "similar")


@pytest.fixture()
def client(app):
    return app.test_client()


def lookup(client, path: Path | None = None, data: bytes | None = None, **fields):  # type: ignore[no-untyped-def]
    return upload(client, path, data, url=LOOKUP, **fields)


def names(results: list[dict], kind: str) -> list[str]:
    return [Path(r["path"]).name for r in results if r["match"] == kind]


def check_shape(body: dict) -> None:
    """Counts agree with the results, which come exact, near, similar, ranked 1..n."""
    results = body["results"]
    assert body["counts"] == {kind: len(names(results, kind)) for kind in KINDS}
    order = [KINDS.index(r["match"]) for r in results]
    assert order == sorted(order)
    assert [r["rank"] for r in results] == list(range(1, len(results) + 1))
    threshold = body["threshold"]
    for r in results:
        assert r["thumbnail_url"] == f"{API}/images/{r['id']}/thumbnail"
        assert r["file_url"] == f"{API}/images/{r['id']}/file"
        assert r["page_url"] == f"/images/{r['id']}"
        assert r["exact"] is (r["match"] == "exact")
        assert isinstance(r["evidence"], str) and r["evidence"]
        if r["match"] == "near":
            assert r["score"] >= threshold
        if r["match"] == "similar":
            assert r["score"] < threshold


# -- the API ----------------------------------------------------------------------------------


def test_a_library_photo_is_found_as_exact_copies_first(client, weblib):
    photo = weblib.ukbench / EDITED_ORIGINAL
    response = lookup(client, photo, others=3)
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    check_shape(body)
    results = body["results"]
    first = results[0]
    assert Path(first["path"]).name == EDITED_ORIGINAL and first["rank"] == 1
    assert first["match"] == "exact" and first["evidence"] == "same bytes (sha256)"
    assert first["score"] >= 0.999 and first["exact"] is True
    # Its PNG re-save is exact too (same pixels), its resized edit a near-duplicate.
    assert names(results, "exact") == [EDITED_ORIGINAL, RESAVED_NAME]
    assert results[1]["evidence"] == "same pixels, other encoding"
    assert "ukbench00120__resize.jpg" in names(results, "near")
    assert "cosine" in results[2]["evidence"] and "threshold 0.90" in results[2]["evidence"]
    assert 1 <= body["counts"]["similar"] <= 3
    assert body["threshold"] == 0.9
    query = body["query"]
    assert query["sha256"] == hashlib.sha256(photo.read_bytes()).hexdigest()
    assert (query["width"], query["height"], query["format"]) == (640, 480, "JPEG")
    assert query["filename"] == "q.jpg" and query["image_id"] is None and query["others"] == 3
    assert body["took_ms"] > 0
    for url in (first["thumbnail_url"], first["file_url"], first["page_url"]):
        assert client.get(url).status_code == 200, url


def test_byte_identical_copies_in_both_collections(client, weblib):
    body = lookup(client, weblib.query_photo, others=0).get_json()
    check_shape(body)
    assert sorted(names(body["results"], "exact")) == sorted([QUERY_NAME, COPY_NAME])
    assert {r["evidence"] for r in body["results"]} == {"same bytes (sha256)"}
    assert body["counts"]["similar"] == 0  # others=0: nothing below the threshold


def test_png_resave_of_a_library_jpeg_is_exact_by_pixels(client, weblib):
    buffer = io.BytesIO()
    with Image.open(weblib.ukbench / "ukbench00004.jpg") as im:
        im.save(buffer, "PNG")
    body = lookup(client, data=buffer.getvalue(), name="resaved.png").get_json()
    check_shape(body)
    exact = [r for r in body["results"] if r["match"] == "exact"]
    assert [Path(r["path"]).name for r in exact] == ["ukbench00004.jpg"]
    assert exact[0]["evidence"] == "same pixels, other encoding" and exact[0]["rank"] == 1
    assert body["query"]["format"] == "PNG"


def test_edited_copy_finds_its_original_as_near_duplicate(client, weblib):
    buffer = io.BytesIO()
    with Image.open(weblib.extra / AUGLY_NAME) as im:  # 1920x1080 original
        im.convert("RGB").resize((800, 450)).save(buffer, "JPEG", quality=60)
    edited = buffer.getvalue()
    body = lookup(client, data=edited, name="edited.jpg").get_json()
    check_shape(body)
    assert body["counts"]["exact"] == 0
    assert names(body["results"], "near") == [AUGLY_NAME]
    near = body["results"][0]
    assert near["rank"] == 1 and near["exact"] is False
    assert 0.9 <= near["score"] < 0.9999
    assert re.fullmatch(r"cosine 0\.\d{3} >= threshold 0\.90", near["evidence"])
    # Above its score, the same photo is only "similar"; a percentage works as well.
    threshold = round(near["score"] + (1 - near["score"]) / 2, 4)
    strict = lookup(client, data=edited, threshold=f"{threshold * 100:.2f}%").get_json()
    check_shape(strict)
    assert strict["threshold"] == pytest.approx(threshold)
    assert strict["counts"]["near"] == 0
    assert names(strict["results"], "similar")[0] == AUGLY_NAME


def test_lookup_of_a_library_image_by_id(client, ids):
    body = client.post(LOOKUP, data={"image_id": str(ids[COPY_NAME]), "others": "2"}).get_json()
    check_shape(body)
    assert sorted(names(body["results"], "exact")) == sorted([QUERY_NAME, COPY_NAME])
    assert body["query"]["image_id"] == ids[COPY_NAME] and body["query"]["filename"] is None


@pytest.mark.parametrize(
    "fields",
    [
        {"threshold": "0"},
        {"threshold": "1.5"},
        {"threshold": "-0.2"},
        {"threshold": "abc"},
        {"threshold": "nan"},
        {"threshold": "120%"},
        {"others": "-1"},
        {"others": "101"},
        {"others": "2.5"},
        {"roi": "0.1,0.1,0.5,0.5"},  # search-only parameters are refused, not ignored
        {"k": "10"},
        {"min_score": "0.5"},
    ],
)
def test_bad_parameters_are_400(client, weblib, fields):
    error = assert_error(lookup(client, weblib.query_photo, **fields), 400, "bad_request")
    assert next(iter(fields)) in error["message"]


def test_bad_images_and_missing_ones(client, weblib):
    assert_error(client.post(LOOKUP, data={"others": "3"}), 400, "no_image")
    assert_error(lookup(client, data=b"", name="empty.jpg"), 400, "empty")
    assert_error(lookup(client, data=b"plain text, no photo" * 5, name="a.jpg"), 415)
    truncated = weblib.query_photo.read_bytes()[:2000]
    assert_error(lookup(client, data=truncated, name="cut.jpg"), 415)
    assert_error(client.post(LOOKUP, data={"image_id": "999999"}), 404, "not_found")
    assert_error(client.post(LOOKUP, data={"image_id": "../../etc/passwd"}), 400)
    assert_error(client.get(LOOKUP), 405)


def test_too_large_and_no_library(weblib, app, tmp_path):
    small = create_app(replace(weblib.settings, max_upload_bytes=50_000),
                       app.extensions["imgsearch"].get())  # fmt: skip
    error = assert_error(lookup(small.test_client(), weblib.query_photo), 413, "too_large")
    assert "limit" in error["message"]
    nothing = create_app(replace(weblib.settings, library=tmp_path / "none"))
    error = assert_error(lookup(nothing.test_client(), weblib.query_photo), 503, "no_library")
    assert "imgsearch index" in error["message"]
    nothing.extensions["imgsearch"].close()


def test_lookup_is_documented(client):
    doc = client.get(f"{API}/openapi.json").get_json()
    post = doc["paths"]["/lookup"]["post"]
    form = post["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
    assert {"image", "image_id", "threshold", "others"} <= set(form)
    assert {"200", "400", "404", "413", "415", "503"} <= set(post["responses"])
    schemas = doc["components"]["schemas"]
    assert schemas["LookupMatch"]["allOf"][1]["properties"]["match"]["enum"] == list(KINDS)
    assert {"threshold", "counts", "results"} <= set(schemas["LookupResult"]["properties"])


# -- the HTML page ----------------------------------------------------------------------------


def form_post(client, url: str, photo: Path, headers=None, **fields):  # type: ignore[no-untyped-def]
    data = {"image": (io.BytesIO(photo.read_bytes()), photo.name), **fields}
    return client.post(url, data=data, headers=headers or {})


def test_lookup_page_has_three_labelled_sections(client, weblib):
    page = form_post(client, "/lookup", weblib.ukbench / EDITED_ORIGINAL, threshold="0.9",
                     others="4")  # fmt: skip
    assert page.status_code == 200 and b"<html" in page.data
    text = page.data.decode()
    for title in ("Exact copies", "Near-duplicates (≥ 0.90)",
                  "Other similar images (below 0.90)"):  # fmt: skip
        assert f'>{title} <span class="count">' in text, title
    assert "Found in your library: 2 exact copies and 1 near-duplicate" in text
    assert "same bytes (sha256)" in text and "same pixels, other encoding" in text
    assert re.search(r"cosine 0\.9\d\d ≥ 0\.90", text)
    assert len(re.findall(r"cosine 0\.\d{3} &lt; 0\.90", text)) == 4
    assert text.count('<li class="card') == 2 + 1 + 4
    # The page comes back in lookup mode with the values sent.
    assert re.search(r'id="mode-lookup"[^>]*checked', text)
    assert 'action="/lookup"' in text and 'id="others"' in text
    assert re.search(r'id="others"[^>]*value="4"', text)


def test_without_script_the_mode_radio_chooses_the_view(client, weblib):
    # The search page's form posts to /search; choosing "Find copies" sends mode=lookup.
    page = form_post(client, "/search", weblib.query_photo, mode="lookup", k="12",
                     min_score="0", roi="")  # fmt: skip
    assert page.status_code == 200 and b"match-group-exact" in page.data
    assert b"Lookup results" in page.data and page.data.count(b'<li class="card') >= 2
    back = form_post(client, "/lookup", weblib.query_photo, mode="similar", k="3")
    assert back.status_code == 200 and back.data.count(b'<li class="card') == 3
    assert b"match-group" not in back.data and b"Search results" in back.data


def test_lookup_fragment_and_errors(client, weblib):
    fetch = {"X-Requested-With": "fetch"}
    fragment = form_post(client, "/lookup", weblib.extra / AUGLY_NAME, fetch, others="1")
    assert fragment.status_code == 200 and b"<html" not in fragment.data
    assert b'id="results-title"' in fragment.data and b"match-group-near" in fragment.data
    assert b"No image reaches the threshold (0.90)." in fragment.data  # nothing near it
    assert fragment.data.count(b'<li class="card') == 2
    bad = form_post(client, "/lookup", weblib.query_photo, fetch, threshold="2")
    assert bad.status_code == 400 and b"threshold" in bad.data and b"alert" in bad.data
    text = client.post("/lookup", data={"image": (io.BytesIO(b"no photo"), "a.jpg")},
                       headers=fetch)  # fmt: skip
    assert text.status_code == 415 and b"Not a readable image" in text.data


def test_search_page_modes_and_image_page_button(client, ids):
    home = client.get("/").data.decode()
    assert re.search(r'id="mode-similar"[^>]*checked', home)
    assert 'action="/search"' in home and 'data-action="/lookup"' in home
    lookup_mode = client.get("/?mode=lookup").data.decode()
    assert re.search(r'id="mode-lookup"[^>]*checked', lookup_mode)
    assert 'action="/lookup"' in lookup_mode and 'id="threshold"' in lookup_mode
    assert client.get("/?mode=nonsense").status_code == 200
    image = client.get(f"/images/{ids[QUERY_NAME]}").data.decode()
    assert 'action="/lookup"' in image and f'name="image_id" value="{ids[QUERY_NAME]}"' in image
    found = client.post("/lookup", data={"mode": "lookup", "image_id": str(ids[QUERY_NAME])})
    assert found.status_code == 200 and b"2 exact copies" in found.data
    assert f"library image #{ids[QUERY_NAME]}".encode() in found.data  # the query is shown
