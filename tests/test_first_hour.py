"""A new user's first hour with a real collection, as a subprocess from a working folder
with the default ./imgsearch-library: links in and out of the collection, odd file names,
files gone from disk after indexing, the served pages of such images."""

from __future__ import annotations

import json
import os
import re
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.cli_process import run_cli, served
from tests.indexer_helpers import photo_paths

NEWLINE_NAME = "two\nlines.jpg"


def fetch(url: str) -> tuple[int, str]:
    """GET ``url``: its status and body text (errors included)."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


@pytest.fixture(scope="module")
def user(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path) -> Any:
    """A working folder with ``photos/`` (4 photos, a link to one of them, a link to a photo
    outside the folder, a name with a newline) and ``phone/`` (1 photo), indexed from there
    by the CLI as two collections."""
    cwd = tmp_path_factory.mktemp("first-hour")
    photos = cwd / "photos"
    photos.mkdir()
    sources = photo_paths(data_dir, 7)
    for source in sources[:4]:
        shutil.copyfile(source, photos / source.name)
    shutil.copyfile(sources[4], photos / NEWLINE_NAME)
    elsewhere = cwd / "elsewhere"
    elsewhere.mkdir()
    shutil.copyfile(sources[5], elsewhere / "outside.jpg")
    (photos / "inside-link.jpg").symlink_to(photos / sources[0].name)
    (photos / "outside-link.jpg").symlink_to(elsewhere / "outside.jpg")
    (cwd / "phone").mkdir()  # a second collection
    shutil.copyfile(sources[6], cwd / "phone" / sources[6].name)
    done = run_cli(
        ["--model-path", str(models_dir), "index", "--no-progress", "--json", "photos", "phone"],
        cwd,
    )
    assert done.returncode == 0, done.stderr
    return cwd, json.loads(done.stdout), sources


@pytest.fixture(scope="module")
def server(user) -> Any:  # type: ignore[no-untyped-def]
    """``imgsearch serve`` from the user's folder, for the whole module (it follows the
    changes the tests make to the photos and the library)."""
    with served([], user[0]) as url:
        yield url


def library_paths(url: str) -> dict[str, int]:
    """Every image of the library by its file name -> id, as the served API lists them."""
    status, body = fetch(f"{url}/api/v1/images?per_page=100")
    assert status == 200, body
    return {Path(hit["path"]).name: hit["id"] for hit in json.loads(body)["results"]}


def test_a_link_out_of_the_collection_is_skipped_with_a_warning(user, server) -> None:  # type: ignore[no-untyped-def]
    """A link to a photo outside the collection was indexed, but its thumbnail, file and
    ``similar`` then failed ("leads outside"): now it is left out, and the summary says why
    and what to index instead; a link inside the collection is indexed and usable."""
    cwd, summary, _sources = user
    assert summary["added"] == 7 and summary["failed"] == 0
    (warning,) = [w for w in summary["warnings"] if "outside-link.jpg" in w]
    assert "outside the collection" in warning and str(cwd / "elsewhere") in warning
    names = library_paths(server)
    assert "outside-link.jpg" not in names and "inside-link.jpg" in names
    similar = run_cli(["similar", "--json", "-k", "3", str(names["inside-link.jpg"])], cwd)
    assert similar.returncode == 0, similar.stderr
    for image_id in names.values():
        status, body = fetch(f"{server}/api/v1/images/{image_id}/thumbnail")
        assert status == 200, body


def test_a_newline_in_a_file_name_stays_on_its_row(user) -> None:  # type: ignore[no-untyped-def]
    """A file name with a newline broke the result tables (its row went on at the start of
    the next line); it is now shown escaped, each result one row, in every table."""
    cwd, _summary, _sources = user
    for args in (
        ["search", "-k", "6", f"photos/{NEWLINE_NAME}"],
        ["lookup", "--others", "5", f"photos/{NEWLINE_NAME}"],
    ):
        done = run_cli(args, cwd)
        assert done.returncode == 0, done.stderr
        rows = [line for line in done.stdout.splitlines() if line[:4].strip().isdigit()]
        assert len(rows) == 6, done.stdout
        (row,) = [line for line in rows if "lines.jpg" in line]
        assert "photos/two\\nlines.jpg" in row, done.stdout
        assert not any(line.startswith("lines.jpg") for line in done.stdout.splitlines())


def test_similar_of_a_photo_outside_the_library_says_what_to_run(user, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """``imgsearch similar FILE`` (README: "or an image id") with a photo that is not in the
    library said only "... is not an image of this library"; it now says what to run."""
    cwd, _summary, sources = user
    photo = tmp_path / "new photo.jpg"
    shutil.copyfile(sources[1], photo)
    done = run_cli(["similar", str(photo)], cwd)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "is not an image of this library" in line
    assert line.endswith(f"imgsearch search '{photo}'"), line


def test_db_check_of_a_server_that_cannot_be_reached_does_not_call_it_damaged(
    tmp_path: Path,
) -> None:
    """``db check`` with a PostgreSQL URL nobody answers said "... is damaged:" (an alarm
    about a database it never reached, over three lines); now the one-line connection error
    every other command gives."""
    pytest.importorskip("psycopg")
    url = "postgresql://nobody@127.0.0.1:1/library"
    for args in (["db", "check"], ["db", "check", "--json"]):
        done = run_cli(["--database-url", url, *args], tmp_path, timeout=60)
        assert done.returncode == 1, done.stdout
        (line,) = done.stderr.strip().splitlines()
        assert "connection failed" in line and "damaged" not in done.stdout + line, line


@pytest.mark.slow
def test_a_collection_around_another_one_is_warned_of_either_way(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """``index DIR/sub`` then ``index DIR`` records the photos of sub twice: the warning came
    only in the other order (``index DIR`` then ``index DIR/sub``)."""
    (tmp_path / "photos" / "sub").mkdir(parents=True)
    for source in photo_paths(data_dir, 2):
        shutil.copyfile(source, tmp_path / "photos" / "sub" / source.name)
    model = ["--model-path", str(models_dir)]
    for folder in ("photos/sub", "photos"):
        done = run_cli([*model, "index", "--no-progress", "--json", folder], tmp_path)
        assert done.returncode == 0, done.stderr
    warnings = json.loads(done.stdout)["warnings"]
    assert any("holds the collection" in w and w.endswith("vector)") for w in warnings), warnings


@pytest.mark.slow
def test_a_removal_in_nested_collections_is_listed_once(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """``index DIR`` then ``index DIR/sub`` records sub's photos in both collections; a
    ``remove`` of one of them was then listed twice by ``remove``, ``stats`` and ``remove
    --undo`` (once per collection): each path is now listed once, with all its images."""
    (tmp_path / "photos" / "sub").mkdir(parents=True)
    sources = photo_paths(data_dir, 3)
    shutil.copyfile(sources[0], tmp_path / "photos" / sources[0].name)
    for source in sources[1:]:
        shutil.copyfile(source, tmp_path / "photos" / "sub" / source.name)
    model = ["--model-path", str(models_dir)]
    for folder in ("photos", "photos/sub"):
        done = run_cli([*model, "index", "--no-progress", folder], tmp_path)
        assert done.returncode == 0, done.stderr
    target = f"photos/sub/{sources[1].name}"
    removed = run_cli(["remove", "--json", target], tmp_path)
    assert removed.returncode == 0, removed.stderr
    absolute = str(tmp_path / target)
    assert json.loads(removed.stdout) == {
        "removed": 2,
        "paths": [{"path": absolute, "images": 2}],
    }
    stats = run_cli(["stats", "--json"], tmp_path)
    assert [r["path"] for r in json.loads(stats.stdout)["removed_paths"]] == [absolute]
    text = run_cli(["stats"], tmp_path).stdout
    assert text.count(absolute) == 1, text
    undone = run_cli(["remove", "--undo", "--json", target], tmp_path)
    assert undone.returncode == 0, undone.stderr
    assert [(u["path"], u["images"]) for u in json.loads(undone.stdout)["undone"]] == [
        (absolute, 2)
    ]


@pytest.mark.slow
def test_a_photo_named_like_a_video_is_indexed_and_served_as_the_photo(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """A JPEG saved as ``photo.mp4`` was indexed as a one-frame video (``photo.mp4 @ 00:00.0``,
    a video player on its card that cannot play it, its file served as video/mp4) while the
    same bytes uploaded were a photo: now it is the photo it holds, by its content, an exact
    copy of the JPEG it came from."""
    sources = photo_paths(data_dir, 2)
    (tmp_path / "photos").mkdir()
    for source in sources:
        shutil.copyfile(source, tmp_path / "photos" / source.name)
    shutil.copyfile(sources[0], tmp_path / "photos" / "photo.mp4")
    model = ["--model-path", str(models_dir)]
    done = run_cli([*model, "index", "--no-progress", "--json", "photos"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert (json.loads(done.stdout)["added"], json.loads(done.stdout)["failed"]) == (3, 0)
    found = run_cli(["search", "--json", "-k", "3", "photos/photo.mp4"], tmp_path)
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)["results"]
    exact = {Path(hit["path"]).name: hit for hit in hits if hit["exact"]}
    assert set(exact) == {"photo.mp4", sources[0].name}, hits
    assert exact["photo.mp4"]["media"] == "image" and "timestamp_ms" not in exact["photo.mp4"]
    with served([], tmp_path) as url:
        image_id = exact["photo.mp4"]["id"]
        answer = requests.get(f"{url}/api/v1/images/{image_id}/file", timeout=30)
        assert answer.status_code == 200 and answer.headers["Content-Type"] == "image/jpeg"
        thumb = requests.get(f"{url}/api/v1/images/{image_id}/thumbnail", timeout=30)
        assert thumb.status_code == 200 and thumb.headers["Content-Type"] == "image/jpeg"
        card = card_of(fetch(f"{url}/browse")[1], image_id)
        assert "<video" not in card and "@ 00:00" not in card, card


def test_the_address_of_a_results_page_opens_the_search_page(server) -> None:  # type: ignore[no-untyped-def]
    """``/search`` and ``/lookup`` (where the form posts its results: a bookmark, a reload of
    a form sent without scripts, ``/search?k=abc`` typed) were "405 Method not allowed";
    they open the search page in that mode."""
    for path, mode in (("/search?k=abc", "similar"), ("/lookup", "lookup")):
        status, body = fetch(server + path)
        assert status == 200 and "<title>Search · imgsearch</title>" in body, body
        assert re.search(rf'id="mode-{mode}"[^>]*checked', body), body


def test_an_avif_or_heic_photo_uploaded_is_searched_as_a_photo(
    user, server, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """An uploaded AVIF photo was taken for a video (its ``ftyp`` box is MP4's): the search
    answered no results at all, and with a region "a region is for a photo; a video ...".
    It is searched as a photo now, and finds the library photo it was made from."""
    from PIL import features

    _cwd, _summary, sources = user
    if not features.check("avif"):
        pytest.skip("this Pillow has no AVIF encoder")
    from PIL import Image

    avif = tmp_path / "photo.avif"
    with Image.open(sources[1]) as photo:
        photo.convert("RGB").save(avif, quality=90)
    for roi in ("", "0.1,0.1,0.9,0.9"):
        with avif.open("rb") as handle:
            answer = requests.post(
                f"{server}/api/v1/search",
                files={"image": ("photo.avif", handle, "image/avif")},
                data={"k": "3", "roi": roi} if roi else {"k": "3"},
                timeout=60,
            )
        assert answer.status_code == 200, answer.text
        results = answer.json()["results"]
        assert results and Path(results[0]["path"]).name == sources[1].name, results
        assert results[0]["media"] == "image"


def test_the_api_refuses_unknown_and_repeated_fields(user, server) -> None:  # type: ignore[no-untyped-def]
    """``curl -F k=5 -F k=6`` searched with k=5, ``-F min-score=0.9`` (a typo) searched with no
    minimum, two ``-F image=@...`` searched with the first and ``GET /images?page=1&page=2``
    answered page 1, each without a word: now 400 JSON naming the field; the quality filters
    may still repeat."""
    cwd, _summary, sources = user
    photo = (cwd / "photos" / sources[1].name).read_bytes()
    cases = [
        ("search", [("k", "5"), ("k", "6")], 1, "'k' was given 2 times"),
        ("search", [("min-score", "0.9")], 1, "'min-score' is not a field of /api/v1/search"),
        ("lookup", [], 2, "'image' was given 2 times"),
        ("lookup", [("k", "5")], 1, "'k' does not apply to a lookup"),
    ]
    for endpoint, data, images, said in cases:
        answer = requests.post(
            f"{server}/api/v1/{endpoint}",
            files=[("image", ("q.jpg", photo, "image/jpeg"))] * images,
            data=data,
            timeout=60,
        )
        assert answer.status_code == 400, (endpoint, data, answer.text)
        assert answer.headers["Content-Type"] == "application/json"
        assert said in answer.json()["error"]["message"], answer.text
    status, body = fetch(f"{server}/api/v1/images?page=1&page=2")
    assert status == 400 and "'page' was given 2 times" in body, body
    flags = [("flag", "dark"), ("flag", "blurry"), ("k", "3")]
    answer = requests.post(
        f"{server}/api/v1/search", files={"image": photo}, data=flags, timeout=60
    )
    assert answer.status_code == 200 and answer.json()["query"]["flag"] == ["dark", "blurry"]


def test_the_api_refuses_query_parameters_a_get_endpoint_does_not_read(user, server) -> None:  # type: ignore[no-untyped-def]
    """``GET /api/v1/images/ID/similar?min-score=0.9`` (a typo) answered with no minimum,
    ``/api/v1/clusters?methd=kmeans`` with density, each without a word, although the POSTs
    refuse a field they do not know: every GET endpoint now does too (400 naming it and what
    it reads); the sign-in link's ``token`` still passes."""
    _cwd, _summary, sources = user
    image_id = library_paths(server)[sources[1].name]
    cases = [
        (f"/api/v1/images/{image_id}/similar?min-score=0.9", "'min-score'", "min_score"),
        ("/api/v1/clusters?methd=kmeans", "'methd'", "method"),
        ("/api/v1/images?perpage=5", "'perpage'", "per_page"),
        (f"/api/v1/images/{image_id}?k=3", "'k'", "it takes none"),
        ("/api/v1/outliers?count=5", "'count'", "n, k"),
    ]
    for url, named, told in cases:
        status, body = fetch(f"{server}{url}")
        assert status == 400 and named in body and told in body, (url, body)
    for url in (
        f"/api/v1/images/{image_id}/similar?min_score=0.5&k=2&flag=dark",
        "/api/v1/clusters?method=kmeans&k=2",
        f"/api/v1/images/{image_id}/thumbnail?size=320",
        "/api/v1/stats?token=x",
    ):
        status, body = fetch(f"{server}{url}")
        assert status == 200, (url, body[:300])


def test_a_broken_clip_is_named_a_video_without_ffmpeg_numbers(user, server) -> None:  # type: ignore[no-untyped-def]
    """An MP4 that FFmpeg cannot open, uploaded, said "Not a readable image: not a readable
    video ([Errno 1094995529] Invalid data found when processing input: '<none>')", and the
    CLI the same errno: now "Not a readable video (Invalid data found when processing
    input)."."""
    pytest.importorskip("av")
    cwd, _summary, _sources = user
    broken = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x07" * 4000
    answer = requests.post(
        f"{server}/api/v1/search", files={"image": ("clip.mp4", broken)}, timeout=60
    )
    assert answer.status_code == 415 and answer.json()["error"]["code"] == "not_a_video"
    message = answer.json()["error"]["message"]
    assert message.startswith("Not a readable video (") and "Errno" not in message, message
    (cwd / "broken.mp4").write_bytes(broken)
    try:
        done = run_cli(["search", "broken.mp4"], cwd)
    finally:
        (cwd / "broken.mp4").unlink()
    assert done.returncode == 1 and "Errno" not in done.stderr, done.stderr
    assert done.stderr.startswith("Error: broken.mp4: not a readable video ("), done.stderr


def test_previous_of_a_page_past_the_end_goes_to_the_last_page(server) -> None:  # type: ignore[no-untyped-def]
    """``/browse?page=50`` (an old link, a typed number) said "past the end" and offered
    "Previous" to page 49, past the end again: it now leads to the last page."""
    status, body = fetch(f"{server}/browse?page=50")
    assert status == 200 and "past the end of the library" in body, body
    (previous,) = re.findall(r'<a class="button" rel="prev" href="([^"]+)"', body)
    assert previous.endswith("page=1"), previous
    assert fetch(f"{server}{previous.replace('&amp;', '&')}")[0] == 200


def _animated_gif() -> bytes:
    """A 4-frame animated GIF (a clip to the search: compared with videos only)."""
    import io

    from PIL import Image

    frames = [Image.new("RGB", (64, 64), (40 * i, 90, 200 - 40 * i)) for i in range(4)]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], duration=200)
    return gif.getvalue()


def test_a_clip_searched_in_a_library_of_photos_says_why_nothing_came(server) -> None:  # type: ignore[no-untyped-def]
    """An animated GIF (or a video) searched on the web page of a library without videos said
    "No image is similar enough. Lower the minimum similarity, or widen the region" - neither
    helps: a clip is compared with the library's videos only. The page now says so (as the
    CLI does), and so does "Find copies" of it."""
    gif = _animated_gif()
    answer = requests.post(
        f"{server}/search",
        files={"image": ("anim.gif", gif, "image/gif")},
        headers={"Origin": server},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    assert "videos and animations only, not with its photos" in answer.text
    assert "Lower the minimum similarity" not in answer.text
    # "Find copies" of it said "No other image in the library" (of a library of 7 photos)
    answer = requests.post(
        f"{server}/lookup",
        files={"image": ("anim.gif", gif, "image/gif")},
        data={"mode": "lookup"},
        headers={"Origin": server},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    assert "No other image in the library" not in answer.text
    assert "No other video or animation in the library" in answer.text


def test_the_api_says_why_a_clip_found_nothing_in_a_library_of_photos(user, server) -> None:  # type: ignore[no-untyped-def]
    """The API answered a clip searched in a library without videos with empty results and
    no word, where the CLI and the web page explain it: its JSON now has the same ``note``."""
    gif = _animated_gif()
    answer = requests.post(
        f"{server}/api/v1/search",
        files={"image": ("anim.gif", gif, "image/gif")},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["results"] == [], body
    assert "videos and animations only, not with its photos" in body["note"], body
    with open(user[2][1], "rb") as photo:  # a photo query has no note
        plain = requests.post(f"{server}/api/v1/search", files={"image": photo}, timeout=60)
    assert plain.status_code == 200 and "note" not in plain.json()


def test_clusters_output_named_html_is_an_html_report(user) -> None:  # type: ignore[no-untyped-def]
    """``imgsearch clusters -o clusters.html`` wrote the plain-text listing into the .html
    file (a browser shows it as one run-on line), while ``dedup --output x.html`` wrote HTML:
    the format now follows the file's name here too (.json: JSON, other names: text)."""
    cwd, _summary, _sources = user
    done = run_cli(["clusters", "-o", "reports/clusters.html"], cwd)
    assert done.returncode == 0, done.stderr
    assert (cwd / "reports" / "clusters.html").read_text(encoding="utf-8").startswith("<!doc")
    done = run_cli(["clusters", "-o", "reports/clusters.html", "--format", "text"], cwd)
    assert done.returncode == 0, done.stderr
    assert not (cwd / "reports" / "clusters.html").read_text(encoding="utf-8").startswith("<")


def test_clusters_output_of_another_format_is_refused(user) -> None:  # type: ignore[no-untyped-def]
    """``imgsearch clusters -o clusters.pdf`` wrote the plain-text listing into a .pdf file
    (the eval --plot pr.txt defect the other way round): a name the report cannot be written
    as is refused before the work, exit 2, naming --output; .txt is text."""
    cwd, _summary, _sources = user
    done = run_cli(["clusters", "-o", "reports/clusters.pdf"], cwd)
    assert done.returncode == 2 and "--output" in done.stderr and ".txt" in done.stderr
    assert "Traceback" not in done.stderr and not (cwd / "reports" / "clusters.pdf").exists()
    done = run_cli(["clusters", "-o", "reports/clusters.txt"], cwd)
    assert done.returncode == 0, done.stderr
    assert "unclustered: 7 images" in (cwd / "reports" / "clusters.txt").read_text(encoding="utf-8")


def test_a_collection_whose_folder_is_gone_stops_no_nightly_index(user) -> None:  # type: ignore[no-untyped-def]
    """A collection's folder renamed (or a drive not mounted) made every later ``imgsearch
    index`` - the README's nightly run - fail with "no such directory", even after
    ``imgsearch remove`` of it: now the other collections are indexed, the missing one's
    images are kept, and a warning says what to do."""
    cwd, summary, _sources = user
    (cwd / "phone").rename(cwd / "phone-2020")
    try:
        done = run_cli(["index", "--no-progress", "--json"], cwd)
    finally:
        (cwd / "phone-2020").rename(cwd / "phone")
    assert done.returncode == 0, done.stderr
    again = json.loads(done.stdout)
    assert again["images_total"] == summary["images_total"] and again["removed"] == 0
    (warning,) = [w for w in again["warnings"] if "not there" in w]
    assert str(cwd / "phone") in warning and "imgsearch remove" in warning


def test_the_page_of_an_image_whose_file_is_gone_or_changed_says_so(user, server) -> None:  # type: ignore[no-untyped-def]
    """An image page showed a broken picture and buttons that failed for a file deleted or
    replaced after indexing; it now says what happened and what to run (last in this module:
    it changes the photos)."""
    cwd, _summary, sources = user
    names = library_paths(server)
    gone, changed, kept = sources[3].name, sources[2].name, sources[1].name
    (cwd / "photos" / gone).unlink()
    with (cwd / "photos" / changed).open("ab") as handle:
        handle.write(b"\0" * 100)
    pages = {name: fetch(f"{server}/images/{names[name]}") for name in (gone, changed, kept)}
    for name, words in ((gone, "no longer on disk"), (changed, "changed on disk")):
        status, body = pages[name]
        assert status == 200 and words in body and "imgsearch index" in body, body
        assert "Open original" not in body and "Similar images" in body
    status, body = pages[kept]
    assert status == 200 and "not as it was indexed" not in body and "Open original" in body


def card_of(body: str, image_id: int) -> str:
    """The HTML of the card (``<li class="card...">`` or an explore tile) that links to
    image ``image_id`` on a page."""
    for card in re.findall(r'<li class="(?:card|tile-card)[^"]*">.*?</li>', body, re.S):
        if f'href="/images/{image_id}"' in card:
            return card
    raise AssertionError(f"no card of image {image_id} on the page")


def test_cards_of_a_deleted_file_say_file_missing_instead_of_a_broken_thumbnail(
    user,  # type: ignore[no-untyped-def]
    server,
) -> None:
    """Cards of a file deleted after indexing showed a broken-image icon in Browse, search
    results and the image page's similar images (their thumbnail is a 404): they now show a
    "File missing" placeholder and request no thumbnail; other cards keep theirs (after the
    test above, which deleted the file)."""
    cwd, _summary, sources = user
    names = library_paths(server)
    gone, kept = names[sources[3].name], names[sources[1].name]
    assert not (cwd / "photos" / sources[3].name).exists()
    status, _body = fetch(f"{server}/api/v1/images/{gone}/thumbnail")
    assert status == 404
    pages = {
        "browse": fetch(f"{server}/browse")[1],
        "similar images": fetch(f"{server}/images/{kept}")[1],
    }
    with (cwd / "photos" / sources[1].name).open("rb") as photo:
        found = requests.post(
            f"{server}/search",
            files={"image": photo},
            data={"k": "20"},
            headers={"Origin": server},
            timeout=60,
        )
    assert found.status_code == 200, found.text
    pages["search results"] = found.text
    for where, body in pages.items():
        card = card_of(body, gone)
        assert "File missing" in card and f"/api/v1/images/{gone}/thumbnail" not in card, where
    assert f"/api/v1/images/{kept}/thumbnail" in card_of(pages["browse"], kept)
    assert "File missing" not in card_of(pages["browse"], kept)


def test_the_search_page_from_a_deleted_file_says_so(user, server) -> None:  # type: ignore[no-untyped-def]
    """``/?from=ID`` of a file deleted since indexing (a bookmark, Back to an old search)
    showed a broken preview and a search that then failed with "file_missing": the page now
    says at once why that image cannot be a query and what to run (after the tests above)."""
    _cwd, _summary, sources = user
    names = library_paths(server)
    gone, kept = names[sources[3].name], names[sources[1].name]
    status, body = fetch(f"{server}/?from={gone}")
    assert status == 200 and "cannot be a query" in body and "imgsearch index" in body, body
    assert f"/api/v1/images/{gone}/thumbnail" not in body
    status, body = fetch(f"{server}/?from={kept}")
    assert status == 200 and f"/api/v1/images/{kept}/thumbnail" in body


def test_the_api_searches_by_a_deleted_files_id_from_its_stored_vectors(user, server) -> None:  # type: ignore[no-untyped-def]
    """``POST /api/v1/search`` with the ``image_id`` of a file deleted since indexing was a
    404 ``file_missing``, while ``imgsearch similar ID`` and the image page answer from the
    stored vectors: the API now answers as they do and says the file is missing (after the
    tests above, which deleted it); a region of it still needs the file."""
    _cwd, _summary, sources = user
    gone = library_paths(server)[sources[3].name]
    answer = requests.post(
        f"{server}/api/v1/search", data={"image_id": str(gone), "k": "3"}, timeout=60
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["file_missing"] is True and "no longer on disk" in body["note"], body
    similar = requests.get(f"{server}/api/v1/images/{gone}/similar?k=3", timeout=60).json()
    assert [(r["id"], r["score"]) for r in body["results"]] == [
        (r["id"], r["score"]) for r in similar["results"]
    ]
    assert len(body["results"]) == 3 and gone not in [r["id"] for r in body["results"]]
    region = requests.post(
        f"{server}/api/v1/search",
        data={"image_id": str(gone), "roi": "0.1,0.1,0.9,0.9"},
        timeout=60,
    )
    assert region.status_code == 404 and region.json()["error"]["code"] == "file_missing"
    assert "without 'roi'" in region.json()["error"]["message"]
    kept = library_paths(server)[sources[1].name]
    plain = requests.post(f"{server}/api/v1/search", data={"image_id": str(kept)}, timeout=60)
    assert plain.status_code == 200 and "file_missing" not in plain.json()
    assert "note" not in plain.json()


def test_lookup_by_a_deleted_files_id_answers_from_its_stored_vectors(user, server) -> None:  # type: ignore[no-untyped-def]
    """``POST /api/v1/lookup`` with the ``image_id`` of a file deleted since indexing was a
    404 while a search by that id answers from the stored vectors: the lookup now answers as
    the search does and says the file is missing; so do the lookup page and ``imgsearch lookup
    ID`` (which took only files), and so does the search page; an id of a file still there is
    looked up by its file."""
    cwd, _summary, sources = user
    names = library_paths(server)
    gone, kept = names[sources[3].name], names[sources[1].name]
    answer = requests.post(f"{server}/api/v1/lookup", data={"image_id": str(gone)}, timeout=60)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["file_missing"] is True and "no longer on disk" in body["note"], body
    assert body["query"]["image_id"] == gone and body["query"]["sha256"]
    found = [r["id"] for r in body["results"]]
    assert found and gone not in found
    similar = requests.get(f"{server}/api/v1/images/{gone}/similar?k=50", timeout=60).json()
    assert set(found) <= {r["id"] for r in similar["results"]}
    for mode in ("lookup", "similar"):  # the pages answer as the API does (search was 404)
        page = requests.post(
            f"{server}/{'search' if mode == 'similar' else mode}",
            data={"mode": mode, "image_id": str(gone)},
            headers={"Origin": server},
            timeout=60,
        )
        assert page.status_code == 200 and "file-missing-note" in page.text, page.text
    done = run_cli(["lookup", str(gone), "--json"], cwd)
    assert done.returncode == 0, done.stderr
    assert [r["id"] for r in json.loads(done.stdout)["results"]] == found
    (note,) = done.stderr.strip().splitlines()
    assert f"image {gone} is no longer on disk" in note and "imgsearch index" in note
    done = run_cli(["lookup", str(kept), "--json"], cwd)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    looked = json.loads(done.stdout)
    assert "file_missing" not in looked and kept in [r["id"] for r in looked["results"]]
    for args, status, says in (
        (["lookup", "999999"], 1, "no image with id 999999"),
        (["lookup", "no-such.jpg"], 2, "'no-such.jpg' does not exist"),
        (["lookup", "photos"], 2, "is a directory"),
    ):
        done = run_cli(args, cwd)
        assert done.returncode == status and "Traceback" not in done.stderr, done.stderr
        assert says in done.stderr.strip().splitlines()[-1], done.stderr


def test_dedup_warns_when_files_of_its_groups_are_gone(user) -> None:  # type: ignore[no-untyped-def]
    """A photo and its copy deleted since the last index were still reported as a group
    without a word: a user following a stale report can delete the last copy of a photo
    whose keeper is gone. The report now says to index first (after the test above)."""
    cwd, _summary, sources = user
    (cwd / "photos" / sources[0].name).unlink()  # and inside-link.jpg now leads nowhere
    after = run_cli(["dedup", "--exact-only"], cwd)
    assert after.returncode == 0, after.stderr
    assert "2 file(s) of these groups are no longer as indexed" in after.stderr
    assert "run `imgsearch index` first" in after.stderr


def test_dedup_and_the_image_page_use_one_as_indexed_test(tmp_path: Path) -> None:
    """`dedup`'s stale-report warning and the image page ask the same question the
    indexer asks (size and mtime within a second): a file rewritten with the same size
    counts as changed for both, as it would be re-read by the next `index`."""
    from search.query import disk_change

    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"x" * 100)
    indexed = photo.stat()
    assert disk_change(photo, indexed.st_size, indexed.st_mtime) is None
    os.utime(photo, (indexed.st_atime, indexed.st_mtime + 30))  # same size, rewritten
    assert disk_change(photo, indexed.st_size, indexed.st_mtime) == "changed"
    photo.write_bytes(b"x" * 99)
    assert disk_change(photo, indexed.st_size, None) == "changed"
    photo.unlink()
    assert disk_change(photo, indexed.st_size, indexed.st_mtime) == "gone"


def test_file_missing_cards_and_stored_searches_use_the_one_check(tmp_path: Path) -> None:
    """The cards' "File missing" and the API's search from stored vectors asked
    ``is_file()`` themselves beside ``disk_change``: they now ask ``disk_change`` without a
    size (only "is it gone?"), which a folder now standing at the path answers "gone"."""
    from search.query import disk_change
    from web.present import file_missing

    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"x" * 100)
    assert disk_change(photo) is None and not file_missing(str(photo))
    assert disk_change(photo, 99) == "changed" and not file_missing(str(photo))
    photo.unlink()
    photo.mkdir()  # a folder where the file was: gone for every caller
    assert disk_change(photo) == "gone" and disk_change(photo, 100, None) == "gone"
    assert file_missing(str(photo)) and file_missing(str(tmp_path / "none.jpg"))
    assert not file_missing(None) and not file_missing("")
