"""The JSON API's searches through Flask's test client, over a library built by the indexer
from ../shared photos: uploads, regions, copies, scores, labels, pages."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from search.descriptor import DUPLICATE_Z
from tests.web_library import (
    API,
    AUGLY_NAME,
    COPY_NAME,
    EDITED_ORIGINAL,
    QUERY_NAME,
    ROTATED_NAME,
    assert_error,
    upload,
)


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
    version = r"\?v=[0-9a-f]{16}"  # the indexed content's: a new file, a new URL
    assert re.fullmatch(rf"{API}/images/{first['id']}/thumbnail{version}", first["thumbnail_url"])
    assert re.fullmatch(rf"{API}/images/{first['id']}/file{version}", first["file_url"])
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
    # a percentage is 0%..100%, as the error says: "-100%" was taken as -1
    for bad in ("-100%", "-5%", "101%"):
        refused = upload(client, weblib.query_photo, min_score=bad)
        assert refused.status_code == 400 and "0%..100%" in refused.get_data(as_text=True), bad


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
    whole = client.get(f"{API}/labels?q=clock&k=10").get_json()["results"]
    second = client.get(f"{API}/labels?q=clock&k=5&page=2").get_json()
    assert len(whole) == 10 and second["page"] == 2
    # how many match in all, as /images says (a scale audit: 12,641 matches, no total)
    assert second["total"] >= 10 and second["pages"] == -(-second["total"] // 5)
    assert [(r["id"], r["rank"]) for r in second["results"]] == [
        (r["id"], r["rank"]) for r in whole[5:]
    ]
    assert "suggestion" not in second
    # a plural labels nothing: the singular that does, as the page and the CLI say it
    plural = client.get(f"{API}/labels?q=clocks").get_json()
    assert plural["total"] == 0 and plural["suggestion"] == "clock", plural
    assert "labels are singular: q=clock" in plural["hint"]
    assert "suggestion" not in client.get(f"{API}/labels?q=zzzz").get_json()
    listed = client.get(f"{API}/images?per_page=7&page=2").get_json()
    first = client.get(f"{API}/images?per_page=14").get_json()
    assert listed["total"] == first["total"] >= 14 and listed["pages"] == -(-listed["total"] // 7)
    assert [r["id"] for r in listed["results"]] == [r["id"] for r in first["results"][7:]]
    assert [r["rank"] for r in listed["results"]] == list(range(8, 15))
    assert {r["score"] for r in first["results"]} == {None}  # nothing scored (it said 0.0)
    mtimes = [r["mtime"] for r in first["results"]]
    assert mtimes == sorted(mtimes, reverse=True)
    assert_error(client.get(f"{API}/images?page=0"), 400)
    assert_error(client.get(f"{API}/images?per_page=abc"), 400)
    paths = client.get(f"{API}/openapi.json").get_json()["paths"]
    assert "/images" in paths
    assert any(p["name"] == "page" for p in paths["/labels"]["get"]["parameters"])
