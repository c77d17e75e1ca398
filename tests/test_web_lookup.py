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

from search.descriptor import DUPLICATE_Z
from search.query import default_threshold
from tests.web_library import (
    API,
    AUGLY_NAME,
    COPY_NAME,
    EDITED_ORIGINAL,
    EDITS,
    LOOKUP,
    QUERY_NAME,
    RESAVED_NAME,
    assert_error,
    form_post,
    lookup,
    names,
    upload,
)
from web.app import create_app

KINDS = ("exact", "near", "similar")
CONFIRMED = r"(, confirmed by (\d+ matching key points|its pixels \(correlation 0\.\d\d\)))?"
Z_EVIDENCE = (
    r"copy score 0\.\d{3}: -?\d+\.\d sd above the library's background (>=|<) 6"
    + r"(: a look-alike .*)?"  # its vectors past the decision, but no copy: says why
    + CONFIRMED
)


def check_shape(body: dict, *, grouped: bool = True) -> None:
    """Counts agree with the results, which come exact, near, similar, ranked 1..n."""
    results = body["results"]
    assert body["counts"] == {kind: len(names(results, kind)) for kind in KINDS}
    order = [KINDS.index(r["match"]) for r in results]
    if grouped:
        assert order == sorted(order)
    assert [r["rank"] for r in results] == list(range(1, len(results) + 1))
    threshold, calibrated = body["threshold"], body["z_threshold"] is not None
    assert 0 < threshold <= 1 and body["z_threshold"] in (None, DUPLICATE_Z)
    for r in results:
        version = r"\?v=[0-9a-f]{16}"  # the indexed content's version (web/media_urls.py)
        assert re.fullmatch(rf"{API}/images/{r['id']}/thumbnail{version}", r["thumbnail_url"])
        assert re.fullmatch(rf"{API}/images/{r['id']}/file{version}", r["file_url"])
        assert r["page_url"] == f"/images/{r['id']}"
        assert r["exact"] is (r["match"] == "exact")
        assert isinstance(r["evidence"], str) and r["evidence"]
        assert "cosine" not in r["evidence"]
        if r["match"] == "exact":
            continue
        near = r["match"] == "near"
        if calibrated:  # the calibrated decision, and the copy score it stands for
            assert r["duplicate"] is near and (r["z"] >= DUPLICATE_Z) is near, r
            assert re.fullmatch(Z_EVIDENCE, r["evidence"]), r["evidence"]
            assert (
                (r["copy_score"] >= threshold - 1e-3)
                if near
                else (r["copy_score"] < threshold + 1e-3)
            )
        else:
            assert (r["copy_score"] >= threshold) is near, r
            sign = ">=" if near else "<"
            assert re.fullmatch(
                rf"copy score \d\.\d{{3}} {sign} threshold \d\.\d\d\d?\d?{CONFIRMED}",
                r["evidence"],
            ), r["evidence"]


# -- the API ----------------------------------------------------------------------------------


def test_a_library_photo_is_found_as_exact_copies_first(client, weblib, app):
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
    # Its resized edit is a near-duplicate by the library's calibrated decision (z >= 6).
    assert "ukbench00120__resize.jpg" in names(results, "near")
    resized = results[2]
    assert Path(resized["path"]).name == "ukbench00120__resize.jpg", names(results, "near")
    assert re.fullmatch(
        r"copy score 0\.9\d\d: \d\.\d sd above the library's background >= 6", resized["evidence"]
    ), resized["evidence"]
    assert resized["duplicate"] is True and resized["z"] >= DUPLICATE_Z
    assert resized["copy_score"] < 0.999 and resized["exact"] is False
    assert 1 <= body["counts"]["similar"] <= 3
    # No threshold given: the calibrated one, the copy score that z 6 is in this library.
    assert body["z_threshold"] == DUPLICATE_Z
    assert body["threshold"] == pytest.approx(default_threshold(app.extensions["imgsearch"].get()))
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
    exact = [r for r in body["results"] if r["match"] == "exact"]
    assert {r["evidence"] for r in exact} == {"same bytes (sha256)"}
    assert all(r["copy_score"] == 1.0 and r["duplicate"] for r in exact)
    assert body["counts"]["similar"] == 0  # others=0: no image that is not a copy


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
    assert near["rank"] == 1 and near["exact"] is False and near["duplicate"] is True
    assert 0.9 <= near["copy_score"] < 0.9999 and near["z"] >= DUPLICATE_Z
    assert re.fullmatch(
        r"copy score 0\.9\d\d: \d\.\d sd above the library's background >= 6", near["evidence"]
    ), near["evidence"]
    # An explicit threshold on the copy score decides instead (z_threshold: none); a
    # percentage works as well. Above its copy score, the same photo is only "similar".
    explicit = lookup(client, data=edited, threshold="0.9").get_json()
    check_shape(explicit)
    assert explicit["threshold"] == 0.9 and explicit["z_threshold"] is None
    assert names(explicit["results"], "near") == [AUGLY_NAME]
    assert re.fullmatch(
        r"copy score 0\.9\d\d >= threshold 0\.90", explicit["results"][0]["evidence"]
    )
    threshold = round(near["copy_score"] + (1 - near["copy_score"]) / 2, 4)
    strict = lookup(client, data=edited, threshold=f"{threshold * 100:.2f}%").get_json()
    check_shape(strict)
    assert strict["threshold"] == pytest.approx(threshold) and strict["z_threshold"] is None
    assert strict["counts"]["near"] == 0
    assert names(strict["results"], "similar")[0] == AUGLY_NAME


def test_a_low_explicit_threshold_catches_heavier_edits(client, weblib):
    """Copy-score thresholds as low as whitened libraries need are accepted; a low one
    turns the photo's heavier edits (rotated, grey) into near-duplicates, as the key points
    confirm them under the calibrated decision."""
    photo = weblib.ukbench / EDITED_ORIGINAL
    calibrated = lookup(client, photo, others=10).get_json()
    low = lookup(client, photo, threshold="0.3", others=10).get_json()
    check_shape(calibrated)
    check_shape(low, grouped=False)  # see the next test
    edits = set(EDITS)
    assert low["threshold"] == 0.3 and low["z_threshold"] is None
    assert edits <= set(names(low["results"], "near"))
    # the calibrated decision: the heavier edits as the key points confirmed them (a lookup
    # checks its grey band although the resized copy, a sure copy, settles the photo's search)
    confirmed = [r for r in calibrated["results"] if "matching key points" in r["evidence"]]
    assert confirmed and all(r["match"] == "near" for r in confirmed)
    assert set(names(confirmed, "near")) <= edits
    # The form's own values: 'calibrated' ignores the slider; 'fixed' uses it.
    form = lookup(client, photo, threshold_mode="fixed", threshold="0.3", others=10).get_json()
    assert form["threshold"] == 0.3 and form["counts"] == low["counts"]
    again = lookup(client, photo, threshold_mode="calibrated", others=10).get_json()
    assert again["z_threshold"] == DUPLICATE_Z and again["counts"] == calibrated["counts"]


def test_results_come_grouped_when_copy_score_and_rank_score_disagree(client, weblib):
    body = lookup(client, weblib.ukbench / EDITED_ORIGINAL, threshold="0.3", others=10)
    order = [KINDS.index(r["match"]) for r in body.get_json()["results"]]
    assert order == sorted(order)


def test_a_configured_threshold_replaces_the_calibrated_decision(weblib):
    configured = create_app(replace(weblib.settings, dedup_threshold=0.8))
    client = configured.test_client()
    body = lookup(client, weblib.ukbench / EDITED_ORIGINAL).get_json()
    check_shape(body)
    assert body["threshold"] == 0.8 and body["z_threshold"] is None
    page = client.get("/?mode=lookup").data.decode()
    assert "Library default" in page and "0.80</span> (configured)" in page
    assert re.search(r'id="threshold"[^>]*value="0.8"', page)
    configured.extensions["imgsearch"].close()


def test_lookup_of_a_library_image_by_id(client, ids):
    """Where *else* the picture is: the image itself is not one of its copies (an audit's
    "Find copies" on an image without any said "1 exact copy", the image itself)."""
    body = client.post(LOOKUP, data={"image_id": str(ids[COPY_NAME]), "others": "2"}).get_json()
    check_shape(body)
    assert names(body["results"], "exact") == [QUERY_NAME]
    assert ids[COPY_NAME] not in {row["id"] for row in body["results"]}
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
        {"threshold_mode": "sometimes"},
        {"threshold_mode": "fixed"},  # a fixed threshold needs one
        {"threshold_mode": "calibrated", "threshold": "0.5"},  # the API refuses both
        {"roi": "0.1,0.1,0.5,0.5"},  # search-only parameters are refused, not ignored
        {"k": "10"},
        {"min_score": "0.5"},
    ],
)
def test_bad_parameters_are_400(client, weblib, fields):
    error = assert_error(lookup(client, weblib.query_photo, **fields), 400, "bad_request")
    assert next(iter(fields)) in error["message"]


@pytest.mark.parametrize(
    "fields", [{"threshold": "0.5"}, {"others": "3"}, {"threshold_mode": "calibrated"}]
)
def test_lookup_parameters_to_the_search_api_are_400(client, weblib, fields):
    """/api/v1/search with a lookup's `threshold` answered as if it had not been sent, while a
    lookup refuses a search's `roi`; the form without script still sends them (ignored)."""
    error = assert_error(upload(client, weblib.query_photo, **fields), 400, "bad_request")
    assert f"'{next(iter(fields))}' does not apply to a search" in error["message"]
    page = form_post(client, "/search", weblib.query_photo, mode="similar", k="3", **fields)
    assert page.status_code == 200 and page.data.count(b'<li class="card') == 3


def test_an_upload_and_an_image_id_at_once_are_400(client, weblib, ids):
    """Both at once: the upload won without a word (the API); the form, which keeps a library
    image's id beside a file chosen later, still searches with the file."""
    image_id = ids[QUERY_NAME]
    for url in (f"{API}/search", LOOKUP):
        response = upload(client, weblib.query_photo, url=url, image_id=image_id)
        assert "not both" in assert_error(response, 400, "bad_request")["message"], url
    page = form_post(client, "/search", weblib.query_photo, image_id=str(image_id), k="2")
    assert page.status_code == 200 and page.data.count(b'<li class="card') == 2


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
    small = create_app(
        replace(weblib.settings, max_upload_bytes=50_000), app.extensions["imgsearch"].get()
    )
    error = assert_error(lookup(small.test_client(), weblib.query_photo), 413, "too_large")
    assert "limit" in error["message"]
    nothing = create_app(replace(weblib.settings, library=tmp_path / "none"))
    error = assert_error(lookup(nothing.test_client(), weblib.query_photo), 503, "no_library")
    assert f"`imgsearch --library {tmp_path / 'none'} index PATH`" in error["message"]
    nothing.extensions["imgsearch"].close()


def test_lookup_is_documented(client):
    doc = client.get(f"{API}/openapi.json").get_json()
    post = doc["paths"]["/lookup"]["post"]
    form = post["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
    assert {"image", "image_id", "threshold", "others"} <= set(form)
    assert {"200", "400", "404", "413", "415", "503"} <= set(post["responses"])
    schemas = doc["components"]["schemas"]
    assert schemas["LookupMatch"]["allOf"][1]["properties"]["match"]["enum"] == list(KINDS)
    result = schemas["LookupResult"]["properties"]
    assert {"threshold", "z_threshold", "counts", "results"} <= set(result)
    assert (
        result["z_threshold"]["nullable"] is True
        and "calibrated" in result["threshold"]["description"]
    )
    assert {"threshold_mode"} <= set(form) and form["threshold_mode"]["enum"] == [
        "calibrated",
        "fixed",
    ]
    assert "copy score" in form["threshold"]["description"]
    assert "cosine" not in form["threshold"]["description"]
