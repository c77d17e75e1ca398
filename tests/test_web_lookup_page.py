"""Reverse lookup on the web page: the search page's "Find copies" mode (HTML, with and
without script), over the library of tests/web_library.py."""

from __future__ import annotations

import io
import re
from pathlib import Path

from PIL import Image

from search.query import cut, default_threshold
from tests.web_library import (
    AUGLY_NAME,
    EDITED_ORIGINAL,
    LOOKUP,
    QUERY_NAME,
    RESAVED_NAME,
    form_post,
    lookup,
    names,
    upload,
)

# -- the HTML page ----------------------------------------------------------------------------


def card_of(text: str, name: str) -> str:
    """The HTML of the result card of the file ``name``."""
    cards = [c for c in text.split('<li class="card')[1:] if f'/{name}"' in c]
    assert len(cards) == 1, name
    return cards[0]


def shown(html: str) -> str:
    """The text of ``html`` as a browser shows it (tags removed, ``&lt;`` as ``<``)."""
    return re.sub(r"<[^>]+>", "", html).replace("&lt;", "<").replace("&#39;", "'")


def test_lookup_page_has_three_labelled_sections(client, weblib):
    photo = weblib.ukbench / EDITED_ORIGINAL
    body = lookup(client, photo, others=4).get_json()  # what the page must show
    # threshold is the slider's value, ignored in calibrated mode
    page = form_post(
        client, "/lookup", photo, threshold_mode="calibrated", threshold="0.5", others="4"
    )
    assert page.status_code == 200 and b"<html" in page.data
    text = page.data.decode()
    for title in (
        "Exact copies",
        "Near-duplicates (calibrated, z ≥ 6)",
        "Other similar images (z below 6)",
    ):
        assert f'>{title} <span class="count">' in text, title
    near = names(body["results"], "near")
    assert "ukbench00120__resize.jpg" in near
    assert f"Found in your library: 2 exact copies and {len(near)} near-duplicate" in text
    assert "calibrated: z ≥ 6 (copy score ≥ " in text and "cosine" not in text.lower()
    assert "same bytes (sha256)" in text and "same pixels, other encoding" in text
    # Each card shows the lookup's own decision: the copy score and its z.
    for r in body["results"]:
        card = card_of(text, Path(r["path"]).name)
        assert f"match-{r['match']}" in card
        if r["match"] != "exact":
            sign = "≥" if r["match"] == "near" else "<"
            evidence = re.search(
                rf"Evidence: copy score (0\.\d{{3}}) · z (-?\d+\.\d) {sign} 6"
                r"(\s*·\s*confirmed by (\d+) matching key points)?\n",
                shown(card),
            )
            assert evidence, card
            # ... and what confirmed it (the lookup checks its grey band by key points)
            kept = r.get("key_points") if r["match"] == "near" else None
            assert evidence.group(4) == (None if kept is None else str(kept)), (r, shown(card))
            # cut as the CLI and the API's evidence write them, never rounded
            assert evidence.group(1) == cut(r["copy_score"], 3), (r, shown(card))
            assert evidence.group(2) == cut(r["z"], 1), (r, shown(card))
            assert "standard deviations above what unrelated pairs" in card  # its tooltip
    assert len(re.findall(r"Evidence: copy score 0\.\d{3} · z -?\d+\.\d < 6\n", shown(text))) == 4
    # The other similar images are in the order of the figure each card shows (their
    # similarity; their copy scores, out of that order, are in the evidence line): the cards
    # showed "COPY 0.203, 0.173, 0.045, 0.055" in a section of images that are no copies.
    others = [r for r in body["results"] if r["match"] == "similar"]
    shown_scores = [
        re.search(
            r'<span class="score"[^>]*>.*?([\d.]+)%</span>',
            card_of(text, Path(r["path"]).name),
            re.S,
        )
        for r in others
    ]
    assert all(shown_scores), others
    percents = [float(m.group(1)) for m in shown_scores if m]
    assert percents == sorted(percents, reverse=True), percents
    for r in others:
        assert 'score-kind">copy<' not in card_of(text, Path(r["path"]).name)
    assert text.count('<li class="card') == 2 + len(near) + 4
    # The page comes back in lookup mode with the values sent, still calibrated.
    assert re.search(r'id="mode-lookup"[^>]*checked', text)
    assert re.search(r'id="threshold-calibrated"[^>]*checked', text)
    assert not re.search(r'id="threshold-fixed"[^>]*checked', text)
    assert 'action="/lookup"' in text and 'id="others"' in text
    assert re.search(r'id="others"[^>]*value="4"', text)


def test_lookup_page_with_an_explicit_threshold(client, weblib):
    photo = weblib.ukbench / EDITED_ORIGINAL
    page = form_post(client, "/lookup", photo, threshold_mode="fixed", threshold="0.9", others="2")
    text = page.data.decode()
    for title in (
        "Near-duplicates (copy score ≥ 0.90)",
        "Other similar images (copy score below 0.90)",
    ):
        assert f'>{title} <span class="count">' in text, title
    assert "threshold: copy score ≥ 0.90" in text and "cosine" not in text.lower()
    resized = card_of(text, "ukbench00120__resize.jpg")
    assert re.search(r"Evidence: copy score 0\.9\d\d ≥ 0\.90\n", shown(resized))
    assert len(re.findall(r"Evidence: copy score 0\.\d{3} < 0\.90\n", shown(text))) == 2
    assert re.search(r'id="threshold-fixed"[^>]*checked', text)
    assert re.search(r'id="threshold"[^>]*value="0.9"', text)
    # A threshold without the form's mode field (an older form, a script) is explicit too.
    plain = form_post(client, "/lookup", photo, threshold="0.9", others="2").data.decode()
    assert "threshold: copy score ≥ 0.90" in plain


def test_without_script_the_mode_radio_chooses_the_view(client, weblib):
    # The search page's form posts to /search; choosing "Find copies" sends mode=lookup.
    page = form_post(
        client, "/search", weblib.query_photo, mode="lookup", k="12", min_score="0", roi=""
    )
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
    # The original itself: an exact copy, and nothing else is a copy of it.
    assert "No image is a copy by the calibrated decision (z ≥ 6).".encode() in fragment.data
    assert fragment.data.count(b'<li class="card') == 2
    bad = form_post(
        client, "/lookup", weblib.query_photo, fetch, threshold_mode="fixed", threshold="2"
    )
    assert bad.status_code == 400 and b"threshold" in bad.data and b"alert" in bad.data
    text = client.post("/lookup", data={"image": (io.BytesIO(b"no photo"), "a.jpg")}, headers=fetch)
    assert text.status_code == 415 and b"Not a readable image" in text.data


def test_search_page_modes_and_image_page_button(client, ids):
    home = client.get("/").data.decode()
    assert re.search(r'id="mode-similar"[^>]*checked', home)
    assert 'action="/search"' in home and 'data-action="/lookup"' in home
    lookup_mode = client.get("/?mode=lookup").data.decode()
    assert re.search(r'id="mode-lookup"[^>]*checked', lookup_mode)
    assert 'action="/lookup"' in lookup_mode and 'id="threshold"' in lookup_mode
    # The slider starts at the copy score of the calibrated decision, which is chosen; it
    # goes down to copy scores whitened libraries use.
    calibrated = default_threshold(client.application.extensions["imgsearch"].get())
    slider = re.search(r'<input id="threshold"[^>]*>', lookup_mode).group(0)
    assert f'value="{calibrated}"' in slider and 'min="0.05"' in slider and 'max="1"' in slider
    assert re.search(r'id="threshold-calibrated"[^>]*checked', lookup_mode)
    assert f'data-value="{calibrated}"' in lookup_mode and "Calibrated" in lookup_mode
    assert client.get("/?mode=nonsense").status_code == 400  # naming the modes
    image = client.get(f"/images/{ids[QUERY_NAME]}").data.decode()
    assert 'action="/lookup"' in image and f'name="image_id" value="{ids[QUERY_NAME]}"' in image
    found = client.post("/lookup", data={"mode": "lookup", "image_id": str(ids[QUERY_NAME])})
    assert found.status_code == 200 and b"1 exact copy" in found.data  # not itself
    assert f"library image #{ids[QUERY_NAME]}".encode() in found.data  # the query is shown


def test_search_marks_same_pixels_exact_as_lookup_does(client, weblib) -> None:
    """``POST /api/v1/search`` and ``/lookup`` with one upload agree on which results are
    exact copies: the library's PNG re-save by its bytes, its JPEG original by its pixels."""
    png = weblib.extra / RESAVED_NAME
    found = upload(client, png, name="resaved.png", k=5)
    assert found.status_code == 200, found.data[:300]
    searched = {Path(r["path"]).name for r in found.get_json()["results"] if r["exact"]}
    looked = lookup(client, png, name="resaved.png").get_json()["results"]
    assert searched == set(names(looked, "exact")) == {EDITED_ORIGINAL, RESAVED_NAME}


def test_find_copies_of_a_library_image_without_other_copies(client, ids, weblib, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Find copies of a library image that has no other copy said "Not in your library" and
    "no library file has these bytes or these pixels" under its own preview (it is in the
    library, and its own file has them), with and without scripts. Now "No other copy in
    your library", as the CLI's "Exact copies: 0" and the API's counts say; an upload that is
    not in the library is still "Not in your library"."""
    name = next(n for n in sorted(ids) if n.startswith("bees_"))
    body = client.post(LOOKUP, data={"image_id": str(ids[name])}).get_json()
    assert body["query"]["image_id"] == ids[name]
    assert body["counts"]["exact"] == body["counts"]["near"] == 0  # nothing else is a copy
    assert ids[name] not in [r["id"] for r in body["results"]]  # itself never listed
    same = lookup(client, weblib.extra / name).get_json()  # its bytes uploaded: itself found
    assert [r["id"] for r in same["results"] if r["match"] == "exact"] == [ids[name]]
    for headers in ({}, {"X-Requested-With": "fetch"}):  # the full page, the script's fragment
        page = client.post(
            "/lookup", data={"mode": "lookup", "image_id": ids[name]}, headers=headers
        )
        text = shown(page.get_data(as_text=True))
        assert page.status_code == 200, text
        assert "No other copy in your library" in text and "Not in your library" not in text
        assert "No other file has these bytes or these pixels." in text
        assert "no library file has" not in text
    noise = tmp_path / "noise.png"
    Image.effect_noise((320, 240), 90).convert("RGB").save(noise)
    assert lookup(client, noise).get_json()["counts"]["exact"] == 0
    for headers in ({}, {"X-Requested-With": "fetch"}):  # an upload not in the library: as it was
        text = shown(
            form_post(client, "/lookup", noise, headers, mode="lookup").get_data(as_text=True)
        )
        assert "Not in your library" in text and "No other copy" not in text
        assert "No exact copy: no library file has these bytes or these pixels." in text
