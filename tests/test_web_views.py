"""The HTML views over a library built by the indexer from ../shared photos (their security:
tests/test_web_security.py)."""

from __future__ import annotations

import io
import re
import sqlite3
from pathlib import Path

from PIL import Image

from search.query import cut
from search.settings import Settings
from tests.web_library import (
    API,
    BROKEN_NAME,
    EDITED_ORIGINAL,
    QUERY_NAME,
    assert_error,
    run_index,
    upload,
)
from web.app import create_app


def test_html_search_full_page_and_fragment(client, weblib):
    def post(headers=None, **fields):
        data = {"image": (io.BytesIO(weblib.query_photo.read_bytes()), "q.jpg"), **fields}
        return client.post("/search", data=data, headers=headers or {})

    page = post(k="6")
    assert page.status_code == 200 and b"<html" in page.data
    assert page.data.count(b'<li class="card') == 6 and b"Exact copy" in page.data
    fragment = post({"X-Requested-With": "fetch"}, k="4", roi="0.2,0.2,0.8,0.8")
    assert fragment.status_code == 200 and b"<html" not in fragment.data
    assert fragment.data.count(b'<li class="card') == 4
    assert b"region 0.2, 0.2, 0.8, 0.8" in fragment.data
    bad = post({"X-Requested-With": "fetch"}, roi="0.5,0.5,0.5,0.5")
    assert bad.status_code == 400 and b"region of interest" in bad.data
    not_image = client.post(
        "/search",
        data={"image": (io.BytesIO(b"plain text"), "a.jpg")},
        headers={"X-Requested-With": "fetch"},
    )
    assert not_image.status_code == 415 and b"Not a readable image" in not_image.data
    # A form sent without a photo (no script) says so in the page's words, not the API's
    # ("send a multipart form with an 'image' file (or an 'image_id')").
    for headers in ({"X-Requested-With": "fetch"}, {}):
        nothing = client.post("/search", data={"k": "3"}, headers=headers)
        assert nothing.status_code == 400 and b"Choose a photo to search with" in nothing.data
        assert b"send a multipart form" not in nothing.data


def card_of(text: str, name: str) -> str:
    """The HTML of the result card of the file ``name``."""
    cards = [c for c in text.split('<li class="card')[1:] if f'/{name}"' in c]
    assert len(cards) == 1, name
    return cards[0]


def copy_badge(card: str) -> bool:
    """Does the card show the "Copy" badge (a copy that is not an exact one)?"""
    return re.search(r'<span class="badge badge-copy"[^>]*>Copy</span>', card) is not None


def test_copy_badges_on_search_results_and_the_image_page(client, weblib, ids):
    photo = weblib.ukbench / EDITED_ORIGINAL
    hits = upload(client, photo, k=12).get_json()["results"]
    page = client.post(
        "/search", data={"image": (io.BytesIO(photo.read_bytes()), "q.jpg"), "k": "12"}
    ).data.decode()
    assert page.count('<li class="card') == 12
    for hit in hits:  # a "Copy" badge exactly on the copies that are not exact ones
        card = card_of(page, Path(hit["path"]).name)
        assert copy_badge(card) is (hit["duplicate"] and not hit["exact"])
        assert ('badge-exact">Exact copy</span>' in card) is hit["exact"]
        score = re.search(r'<span class="score" title="([^"]*)"', card).group(1)
        assert f"Score {hit['score']:.4f}" in score
        assert f"copy score {cut(hit['copy_score'], 3)}" in score  # cut, as the CLI writes it
        assert ("≥ 6: a copy" in score) is hit["duplicate"] and "osine" not in score
    resized = card_of(page, "ukbench00120__resize.jpg")
    assert copy_badge(resized) and re.search(r"z \d\.\d ≥ 6: a copy", resized)
    unrelated = next(h for h in hits if not Path(h["path"]).name.startswith("ukbench00120"))
    assert "badge" not in card_of(page, Path(unrelated["path"]).name)
    copies = sum(h["duplicate"] or h["exact"] for h in hits)
    assert re.search(rf">{copies} copies</span>", page)
    # The image page's similar images: the PNG re-save is an exact copy (the same pixels),
    # the edits are copies.
    image = client.get(f"/images/{ids[EDITED_ORIGINAL]}").data.decode()
    similar = client.get(f"{API}/images/{ids[EDITED_ORIGINAL]}/similar?k=12").get_json()
    for hit in similar["results"]:
        card = card_of(image, Path(hit["path"]).name)
        assert copy_badge(card) is (hit["duplicate"] and not hit["exact"])
    assert 'badge-exact">Exact copy</span>' in card_of(image, "ukbench00120_resaved.png")
    assert copy_badge(card_of(image, "ukbench00120__resize.jpg"))


def test_a_collage_upload_says_where_its_copy_was_found(client, weblib, data_dir):
    photo = "ukbench00040.jpg"
    fillers = sorted((data_dir / "hymenoptera" / "images" / "train").rglob("*.jpg"))[
        :8
    ]  # none indexed
    pictures = [*fillers[:4], weblib.ukbench / photo, *fillers[4:]]  # the photo in the middle
    collage = Image.new("RGB", (3 * 150 + 4 * 4,) * 2, "white")
    for n, path in enumerate(pictures):
        tile = Image.open(path).convert("RGB").resize((150, 150))
        collage.paste(tile, (4 + (n % 3) * 154, 4 + (n // 3) * 154))
    data = io.BytesIO()
    collage.save(data, "JPEG", quality=88)
    hits = upload(client, data=data.getvalue(), k=5).get_json()["results"]
    first = hits[0]
    assert Path(first["path"]).name == photo and first["duplicate"], first
    left, top, right, bottom = first["part"]  # the middle cell, as fractions of the collage
    assert abs(left - 158 / 466) < 0.02 and abs(right - 308 / 466) < 0.02, first["part"]
    assert abs(top - 158 / 466) < 0.02 and abs(bottom - 308 / 466) < 0.02, first["part"]
    page = client.post(
        "/search", data={"image": (io.BytesIO(data.getvalue()), "q.jpg"), "k": "5"}
    ).data.decode()
    card = card_of(page, photo)
    assert "in a part of the query" in card and "34-66 % across, 34-66 % down" in card


def test_html_pages(client, ids):
    home = client.get("/")
    assert home.status_code == 200 and b'type="file"' in home.data
    assert b'id="roi-canvas"' in home.data
    assert b'class="notice"' not in home.data  # the library is there and not empty
    start = client.get(f"/?from={ids[QUERY_NAME]}")
    assert f'value="{ids[QUERY_NAME]}"'.encode() in start.data
    preview = rf"/api/v1/images/{ids[QUERY_NAME]}/thumbnail\?v=[0-9a-f]{{16}}&amp;size=1024"
    assert re.search(preview, start.get_data(as_text=True))
    unknown = client.get("/?from=999999")  # the page explains with the API's status
    assert unknown.status_code == 404 and b"Choose a photo below" in unknown.data
    assert client.get("/?from=abc").status_code == 400
    image = client.get(f"/images/{ids[QUERY_NAME]}")
    assert image.status_code == 200 and b"Similar images" in image.data
    assert b"Exact copy" in image.data and f"?from={ids[QUERY_NAME]}".encode() in image.data
    library = client.get("/library")
    assert library.status_code == 200 and BROKEN_NAME.encode() in library.data
    assert b"mobilenet_v3_small_100" in library.data
    labels = client.get("/labels?q=bee")
    assert labels.status_code == 200 and labels.data.count(b'<li class="card') >= 4
    missing = client.get("/images/999999")
    assert missing.status_code == 404 and b"<html" in missing.data
    assert client.get("/static/app.css").status_code == 200
    # a browser's own request on a JSON page (the footer's OpenAPI link): it was a 404
    icon = client.get("/favicon.ico", follow_redirects=True)
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    # search.js is an ES module: it and every module it imports (and they import) is served
    # as JavaScript
    assert b'<script type="module" src="/static/search.js">' in home.data
    modules, served = ["search.js"], []
    while modules:
        name = modules.pop()
        answer = client.get(f"/static/{name}")
        assert answer.status_code == 200 and "javascript" in answer.mimetype, name
        served.append(name)
        imports = re.findall(r'from "\./([\w-]+\.js)"', answer.get_data(as_text=True))
        modules += [m for m in imports if m not in served and m not in modules]
    assert len(served) == 6, served  # search-photo, -region, -submit, -mode, format


def test_live_page_and_the_search_it_sends(client, weblib):
    """The Live page (static/live.js films the camera): in the nav bar, the only page allowed
    the camera, pointed at POST /api/v1/search; a frame as the page sends it (a same-origin
    fetch of a <= 512 px JPEG) finds its photo first."""
    page = client.get("/live")
    assert page.status_code == 200
    text = page.data.decode()
    assert re.search(r'<a href="/live" aria-current="page">Live</a>', text)
    assert 'data-search-url="/api/v1/search"' in text and 'data-max-side="512"' in text
    assert 'data-enabled="true"' in text and 'class="notice"' not in text
    assert '<script type="module" src="/static/live.js">' in text
    assert client.get("/static/live.js").status_code == 200
    assert "camera=(self)" in page.headers["Permissions-Policy"]
    for other in ("/", "/browse", "/library", "/api/v1/stats"):
        assert "camera=()" in client.get(other).headers["Permissions-Policy"], other
    assert 'href="/live"' in client.get("/").data.decode()  # in every page's nav bar
    with Image.open(weblib.query_photo) as im:
        frame = im.convert("RGB")
    frame.thumbnail((512, 512))
    jpeg = io.BytesIO()
    frame.save(jpeg, "JPEG", quality=85)
    answer = client.post(
        f"{API}/search",
        data={"k": "8", "image": (io.BytesIO(jpeg.getvalue()), "frame-1234.jpg")},
        headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"},
    )
    assert answer.status_code == 200, answer.data
    results = answer.get_json()["results"]
    assert len(results) == 8 and Path(results[0]["path"]).name == QUERY_NAME
    assert {"id", "score", "rank", "thumbnail_url", "page_url", "media"} <= results[0].keys()


def test_live_page_without_a_library_says_so(tmp_path, models_dir):
    """No library, or an empty one: the page says so and does not ask for the camera. The
    labels page too: on an empty library it said "No image has a label matching 'bee' ...
    try another word" (no word would do), without a library a 503 alert of its own."""
    (tmp_path / "nothing").mkdir()
    run_index(tmp_path / "empty", models_dir, tmp_path / "nothing")
    for library, code in (("none", "no_library"), ("empty", "empty_library")):
        app = create_app(Settings(library=tmp_path / library, model_path=(models_dir,)))
        photo = io.BytesIO()
        Image.new("RGB", (64, 48), (200, 120, 40)).save(photo, "JPEG")
        try:
            page = app.test_client().get("/live")
            labels = app.test_client().get("/labels?q=bee")
            found = app.test_client().post(
                "/search",
                data={"image": (io.BytesIO(photo.getvalue()), "q.jpg")},
                headers={"X-Requested-With": "fetch"},
            )
        finally:
            app.extensions["imgsearch"].close()
        text = page.data.decode()
        assert page.status_code == 200 and 'class="notice"' in text, library
        assert f'data-code="{code}"' in text and 'data-enabled="false"' in text
        assert re.search(r'id="live-toggle"[^>]*disabled', text)
        text = labels.data.decode()
        assert labels.status_code == 200 and f'data-code="{code}"' in text, (library, text)
        assert "try another word" not in text and 'class="alert' not in text
        if library == "empty":  # it said "No image is similar enough. Lower the minimum..."
            text = found.get_data(as_text=True)
            assert found.status_code == 200 and "the library is empty" in text, text
            assert "Lower the minimum similarity" not in text


def test_a_video_like_no_other_video_says_it_is_compared_with_videos(client, ids, monkeypatch):
    """The page of the one video of a library of photos said "Similar images: nearest 0 ...
    No other image in the library." (of hundreds of photos): a clip is compared with the
    library's videos and animations only."""
    from dataclasses import replace
    from types import SimpleNamespace

    from web import service

    image_id = ids[QUERY_NAME]
    with client.application.app_context():
        real = service.engine()
    info = replace(real.records.get_image(image_id), duration_ms=600, format="GIF")
    clip = SimpleNamespace(
        records=SimpleNamespace(get_image=lambda _id: info, file_problem=lambda _info: None),
        similar=lambda _id, k: [],
    )
    monkeypatch.setattr(service, "engine", lambda: clip)
    text = client.get(f"/images/{image_id}").get_data(as_text=True)
    assert "Similar videos" in text and "No other image in the library" not in text
    assert "No other video or animation in the library" in text


def test_a_photo_the_server_cannot_read_says_what_to_do(client, weblib):
    """A text file named .jpg or a JPEG cut short, sent with the form: the page said only
    "Not a readable image: ..." (what is wrong, not what to do); the API keeps its message."""
    whole = weblib.query_photo.read_bytes()
    for name, data in (("notes.jpg", b"plain text, not a photo\n"), ("cut.jpg", whole[:2000])):
        for url, headers in (("/search", {"X-Requested-With": "fetch"}), ("/lookup", {})):
            form = {"image": (io.BytesIO(data), name), "mode": url.strip("/")}
            page = client.post(url, data=form, headers=headers)
            text = page.get_data(as_text=True)
            assert page.status_code == 415 and "Not a readable image" in text, (name, url)
            assert "Choose a photo in a common format (JPEG, PNG" in text, (name, url, text)
    api = assert_error(upload(client, data=b"plain text, not a photo\n"), 415, "not_an_image")
    assert "Choose a photo" not in api["message"]


def test_an_unknown_image_id_is_said_in_a_sentence(client):
    """Find copies of an image id that is gone said "no image with id 999999 in the library"
    (lower case, no full stop) where a search by id said "No image with id 999999."."""
    page = client.post("/lookup", data={"mode": "lookup", "image_id": "999999"})
    assert page.status_code == 404
    assert "<p>No image with id 999999 in the library.</p>" in page.get_data(as_text=True)
    api = assert_error(upload(client, url=f"{API}/lookup", image_id="999999"), 404, "not_found")
    assert api["message"] == "No image with id 999999 in the library."


def test_a_from_address_that_names_no_image_says_what_to_do(client):
    """/?from=xyz said "'image_id' must be a whole number from 1 to 9223372036854775807":
    the API's field and limit, for an address the page has no field of."""
    for text, said in (
        ("xyz", "“xyz” in the address (?from=) is not an image id."),
        ("0", "“0” in the address (?from=) is not an image id."),
        ("<b>x", "“&lt;b&gt;x” in the address (?from=) is not an image id."),
        ("999999", "No image with id 999999."),
    ):
        page = client.get("/", query_string={"from": text}).get_data(as_text=True)
        assert said in page and "open an image from Browse" in page, (text, page)
        assert "image_id" not in re.sub(r'id="image-id" name="image_id"', "", page)
        assert "9223372036854775807" not in page and "<b>x" not in page


def test_a_plural_label_points_to_its_singular(client):
    """ "bees" (the hymenoptera folder's name) found nothing and said only that: labels are
    ImageNet class names in the singular. The page now links the singular that has images,
    and otherwise says what labels look like."""
    page = client.get("/labels?q=bees")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'href="/labels?q=bee">search for “bee”</a>' in text
    other = client.get("/labels?q=zebras%3Cb%3E").get_data(as_text=True)
    assert "label-suggestion" not in other and "try another word" in other
    assert "<b>" not in other
    from search.query import singular_forms

    assert singular_forms("bees") == ["bee"]
    assert singular_forms("butterflies") == ["butterfly", "butterflie"]
    assert singular_forms("wolf boxes") == ["wolf box", "wolf boxe"]
    assert singular_forms("grass") == [] and singular_forms("bee") == []


def test_browse_by_a_flag_no_image_has_says_so(client):
    """Browse filtered by a quality flag that no image has said "No images on page 1 · This
    page is past the end of the library (0 images)." - not past any end, and not 0 images."""
    empty = None
    for name in ("dark", "blurry", "uniform", "bright", "tiny"):
        page = client.get(f"/browse?flag={name}").get_data(as_text=True)
        if 'class="card' not in page:
            empty = page
            break
    assert empty is not None, "the web library has an image of every quality flag"
    assert "past the end" not in empty and "(0 images)" not in empty
    assert "No image of the library matches this filter." in empty
    assert 'href="/browse">Show all images</a>' in empty
    past = client.get("/browse?exclude_flag=any&page=999").get_data(as_text=True)
    assert re.search(r"past the end of the \d+ images that match this filter", past)


def test_browse_pager_never_reads_past_its_pages(client):
    """A filter that matches nothing, on page 2, said "Page 2 of 1" under "No images"; a
    page past the end of a filter's images said "Page 999 of 2"."""
    for name in ("dark", "blurry", "uniform", "bright", "tiny"):
        page = client.get(f"/browse?flag={name}&page=2").get_data(as_text=True)
        if 'class="card' not in page:
            break
    else:
        raise AssertionError("the web library has an image of every quality flag")
    assert "Page 2 of 1" not in page and 'class="pager"' not in page
    assert ">No images match</h2>" in page
    assert "No image of the library matches this filter." in page
    past = client.get("/browse?exclude_flag=any&page=999").get_data(as_text=True)
    assert "Page 999" not in past
    pages = int(re.search(r"Past the last page \((\d+)\)", past).group(1))
    assert re.search(rf'rel="prev" href="[^"]*page={pages}\b', past)


def test_the_hints_give_the_commands_for_the_served_library(tmp_path, models_dir, monkeypatch):
    """A server of ``--library elsewhere/lib`` said "Run `imgsearch index PATH`": run as said,
    in another folder, that made ./imgsearch-library, which the server never saw (a new
    user's audit). Its hints now name its library; a server of the default library of the
    folder it runs in still says the short command."""
    from tests.web_library import run_index

    monkeypatch.chdir(tmp_path)
    (tmp_path / "nothing").mkdir()
    run_index(tmp_path / "elsewhere" / "empty", models_dir, tmp_path / "nothing")
    libraries = {
        Path("elsewhere/none"): f"imgsearch --library {tmp_path / 'elsewhere' / 'none'} index",
        Path("elsewhere/empty"): f"imgsearch --library {tmp_path / 'elsewhere' / 'empty'} index",
        Path("imgsearch-library"): "imgsearch index",  # the default here: none yet
    }
    for library, command in libraries.items():
        app = create_app(Settings(library=library, model_path=(models_dir,)))
        try:
            api = app.test_client().get("/api/v1/images")
            page = app.test_client().get("/browse").get_data(as_text=True)
        finally:
            app.extensions["imgsearch"].close()
        if library.name == "empty":
            assert api.status_code == 200, api.get_json()
        else:
            assert api.status_code == 503, api.get_json()
            assert f"`{command} PATH`" in api.get_json()["error"]["message"], api.get_json()
        assert f"<code>{command} PATH</code>" in page, (library, page)
        assert "--library" in command or "--library" not in page
    # a server on the network shows its clients no absolute path: the option, not the folder
    settings = Settings(library=Path("elsewhere/none"), model_path=(models_dir,))
    app = create_app(settings, token="T", exposed=True)
    try:
        network = {"Authorization": "Bearer T", "Host": "127.0.0.1"}
        api = app.test_client().get("/api/v1/images", headers=network)
    finally:
        app.extensions["imgsearch"].close()
    message = api.get_json()["error"]["message"]
    assert "`imgsearch --library LIBRARY index PATH`" in message and str(tmp_path) not in message
    # "the address `imgsearch serve` printed" names its output, no command to run: kept
    app = create_app(settings, token="T", exposed=True)
    search_app = create_app(Settings(library=Path("elsewhere/empty"), model_path=(models_dir,)))
    try:
        refused = app.test_client().get("/api/v1/images", headers={"Host": "127.0.0.1"})
        form = search_app.test_client().get("/").get_data(as_text=True)
    finally:
        app.extensions["imgsearch"].close()
        search_app.extensions["imgsearch"].close()
    assert "open the address `imgsearch serve` printed" in refused.get_json()["error"]["message"]
    assert f"run <code>imgsearch --library {tmp_path / 'elsewhere' / 'empty'} dedup</code>" in form


def test_image_pages_stay_open_during_a_reindex(tmp_path, models_dir, data_dir):
    """During a re-index (hours on a large library) every image page was a 503 "Reindexing"
    page although Browse listed the cards that link to them: the page now shows the image,
    its file and labels, and says why its similar images are held back (the similar API
    stays 503: no answer mixes two models)."""
    from search.store import Store

    _indexed_views(tmp_path, models_dir, data_dir, 4)
    store = Store.open(f"sqlite:///{tmp_path / 'lib' / 'imgsearch.sqlite3'}")
    try:
        store.health.set_reindex("mobilenet_v3_small_075")  # interrupted: nobody writes
    finally:
        store.close()
    app = create_app(Settings(library=tmp_path / "lib", model_path=(models_dir,)))
    try:
        client = app.test_client()
        page = client.get("/images/1")
        similar = client.get("/api/v1/images/1/similar")
    finally:
        app.extensions["imgsearch"].close()
    text = page.get_data(as_text=True)
    assert page.status_code == 200, text
    assert 'data-code="reindexing"' in text and "mobilenet_v3_small_075" in text, text
    assert "ukbench00000.jpg" in text and "nearest 0" not in text
    assert similar.status_code == 503 and similar.get_json()["error"]["code"] == "reindexing"


def test_a_library_animation_searched_by_its_id_says_why_it_found_only_itself(
    tmp_path, models_dir, data_dir
):
    """``/?from=ID`` of an animated GIF (a clip: compared with videos only) listed itself
    and nothing else without a word, where the same search with nothing found explains it;
    and its page offered "Drag on the photo to search only a region" (a clip has none)."""
    photos = tmp_path / "photos"
    photos.mkdir()
    sources = sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[:3]
    first = Image.open(sources[0]).convert("RGB")
    first.save(photos / "anim.gif", save_all=True, append_images=[first.rotate(3)], duration=400)
    for source in sources[1:]:
        (photos / source.name).write_bytes(source.read_bytes())
    run_index(tmp_path / "lib", models_dir, photos)
    app = create_app(Settings(library=tmp_path / "lib", model_path=(models_dir,)))
    try:
        client = app.test_client()
        listed = client.get("/api/v1/images").get_json()["results"]
        clip = next(r["id"] for r in listed if r["path"].endswith("anim.gif"))
        photo = next(r["id"] for r in listed if not r["path"].endswith("anim.gif"))
        api = client.post("/api/v1/search", data={"image_id": str(clip)}).get_json()
        page = client.post(
            "/search", data={"image_id": str(clip)}, headers={"X-Requested-With": "fetch"}
        ).get_data(as_text=True)
        form = client.get(f"/?from={clip}").get_data(as_text=True)
        photo_api = client.post("/api/v1/search", data={"image_id": str(photo)}).get_json()
        photo_form = client.get(f"/?from={photo}").get_data(as_text=True)
    finally:
        app.extensions["imgsearch"].close()
    assert [r["id"] for r in api["results"]] == [clip], api
    assert api["note"].startswith(f"No other results: image {clip} is a video"), api
    assert "compared with the library&#39;s videos and animations only" in page
    assert re.search(r'id="region-hint" hidden>', form), form
    assert "note" not in photo_api and len(photo_api["results"]) >= 2  # a photo finds clips too
    assert re.search(r'id="region-hint">Drag on the photo', photo_form)


def test_pages_say_a_reindex_is_unfinished_where_its_vectors_are_dropped(
    tmp_path, models_dir, data_dir
):
    """A new user's audit: a re-index stopped once its old vectors were dropped left every
    page saying "Empty library. No image has been indexed yet" (and /library "4 images
    indexed" above it) while the API said 503 ``reindexing``. The pages now say that."""

    from search.store import Store

    _indexed_views(tmp_path, models_dir, data_dir, 4)
    db = tmp_path / "lib" / "imgsearch.sqlite3"
    store = Store.open(f"sqlite:///{db}")
    try:
        store.health.set_reindex("mobilenet_v3_small_075")  # interrupted: nobody writes
    finally:
        store.close()
    with sqlite3.connect(db) as con:  # the old model's vectors, dropped as a re-index does
        con.execute("DELETE FROM embeddings")
    app = create_app(Settings(library=tmp_path / "lib", model_path=(models_dir,)))
    try:
        client = app.test_client()
        pages = {
            url: client.get(url).get_data(as_text=True)
            for url in ("/", "/browse", "/clusters", "/library")
        }
    finally:
        app.extensions["imgsearch"].close()
    for url, text in pages.items():
        assert "Empty library" not in text, (url, text)
        assert 'data-code="reindexing"' in text and "mobilenet_v3_small_075" in text, (url, text)


def test_explore_pages_show_a_changed_file_as_changed(tmp_path, models_dir, data_dir):
    """A new user's audit: the Clusters and Outliers pages showed a broken thumbnail (a 409)
    for a photo whose file was replaced since indexing, where Browse and the results say
    "File changed"; a deleted one keeps its "File missing"."""
    import shutil

    photos = tmp_path / "photos"
    photos.mkdir()
    sources = sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[:6]
    for path in sources:
        shutil.copyfile(path, photos / path.name)
    run_index(tmp_path / "lib", models_dir, photos)
    changed, gone = photos / sources[2].name, photos / sources[4].name
    shutil.copyfile(sources[0], changed)  # another photo's bytes: another size
    assert changed.stat().st_size != sources[2].stat().st_size
    gone.unlink()
    app = create_app(Settings(library=tmp_path / "lib", model_path=(models_dir,)))
    try:
        client = app.test_client()
        ids = {
            Path(h["path"]).name: h["id"] for h in client.get(f"{API}/images").get_json()["results"]
        }
        pages = {
            u: client.get(u).get_data(as_text=True)
            for u in ("/clusters?method=kmeans&k=2", "/outliers")
        }
    finally:
        app.extensions["imgsearch"].close()
    for url, text in pages.items():
        assert text.count('aria-label="File changed: ' + changed.name) == 1, url
        assert text.count('aria-label="File missing: ' + gone.name) == 1, url
        assert f"/api/v1/images/{ids[changed.name]}/thumbnail" not in text, url
        assert f"/api/v1/images/{ids[sources[1].name]}/thumbnail" in text, url


def test_a_search_by_image_id_without_the_model_answers_from_stored_vectors(
    tmp_path, models_dir, data_dir
):
    """A new user's audit: with the model folder moved away, `similar 3`, the similar API
    and the image page answered from the stored vectors while ``POST /api/v1/search`` with
    ``image_id=3`` was a 503 ``model_unavailable``: it now answers as they do, and says so;
    a lookup by id (API, page, CLI) too (the next audit found it still a 503)."""
    from search.library import MODEL_DIR_KEY
    from search.store import Store

    photos = _indexed_views(tmp_path, models_dir, data_dir, 4)
    store = Store.open(f"sqlite:///{tmp_path / 'lib' / 'imgsearch.sqlite3'}")
    try:
        store.set_meta(MODEL_DIR_KEY, str(tmp_path / "moved"))  # the models it remembers: gone
    finally:
        store.close()
    app = create_app(Settings(library=tmp_path / "lib", model_path=(tmp_path / "moved",)))
    try:
        client = app.test_client()
        similar = client.get(f"{API}/images/1/similar?k=3").get_json()
        found = client.post(f"{API}/search", data={"image_id": "1", "k": "3"})
        looked_up = client.post(f"{API}/lookup", data={"image_id": "1"})
        page = client.post("/lookup", data={"image_id": "1"}).get_data(as_text=True)
        uploaded = upload(client, sorted(photos.iterdir())[0])
    finally:
        app.extensions["imgsearch"].close()
    # the lookup by id answered as the search does (it was a 503), here and on the CLI
    assert looked_up.status_code == 200, looked_up.get_data(as_text=True)
    lookup_body = looked_up.get_json()
    assert (
        lookup_body["model_unavailable"] is True and "model cannot be loaded" in lookup_body["note"]
    )
    assert {m["id"] for m in lookup_body["results"]} == {2, 3, 4}
    assert "model cannot be loaded" in page and "stored vectors" in page
    from click.testing import CliRunner

    from cli.main import cli

    args = ["--library", str(tmp_path / "lib")]  # the models it remembers: gone
    result = CliRunner().invoke(cli, [*args, "lookup", "1", "--json"])
    assert result.exit_code == 0, result.output
    assert "model cannot be loaded" in result.stderr
    assert {m["id"] for m in __import__("json").loads(result.stdout)["results"]} == {2, 3, 4}
    assert found.status_code == 200, found.get_data(as_text=True)
    body = found.get_json()
    assert [h["id"] for h in body["results"]] == [h["id"] for h in similar["results"]]
    assert [h["score"] for h in body["results"]] == [h["score"] for h in similar["results"]]
    assert "model cannot be loaded" in body["note"] and "stored" in body["note"]
    assert uploaded.status_code == 503  # an upload has no stored vectors


def _indexed_views(tmp_path: Path, models_dir: Path, data_dir: Path, n: int) -> Path:
    """``photos/`` with the first ``n`` UKBench views, indexed into ``lib/``."""
    import shutil

    photos = tmp_path / "photos"
    photos.mkdir()
    for path in sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[:n]:
        shutil.copyfile(path, photos / path.name)
    run_index(tmp_path / "lib", models_dir, photos)
    return photos
