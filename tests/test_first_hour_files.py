"""A new user's first hour, continued (``tests/test_first_hour.py``): a clip searched in a
library of photos, report files, and collections and files gone from disk after indexing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import requests

from tests import first_hour
from tests.cli_process import run_cli
from tests.first_hour import card_of, fetch, library_paths

user = first_hour.user  # module fixtures: each test module has its own folder and server
server = first_hour.server
URL = "https://example.com/a.jpg"


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


def test_the_cli_says_why_a_clip_found_nothing_in_a_library_of_photos(user, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`search anim.gif` explained an empty answer in a library without videos, but
    `lookup anim.gif` printed three sections of 0 and no word: both say it now."""
    cwd = user[0]
    clip = tmp_path / "anim.gif"
    clip.write_bytes(_animated_gif())
    for command, what in (("search", "no results"), ("lookup", "no matches")):
        done = run_cli([command, str(clip)], cwd)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"{what}: {clip} is a video"), done.stdout
        assert "videos and animations only" in done.stdout and ": 0" not in done.stdout


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
    assert status == 404 and "cannot be a query" in body and "imgsearch index" in body, body
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
    # /images/ID/similar says so too (it said nothing; `imgsearch similar ID` neither)
    assert similar["file_missing"] is True and similar["note"] == body["note"], similar
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
    there = requests.get(f"{server}/api/v1/images/{kept}/similar?k=3", timeout=60).json()
    assert "file_missing" not in there and "note" not in there


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
    # the image page offers it (an audit found no button where the file was gone)
    image_page = requests.get(f"{server}/images/{gone}", timeout=60).text
    assert ">Find copies</button>" in image_page and f'name="image_id" value="{gone}"' in image_page
    done = run_cli(["lookup", str(gone), "--json"], cwd)
    assert done.returncode == 0, done.stderr
    assert [r["id"] for r in json.loads(done.stdout)["results"]] == found
    (note,) = done.stderr.strip().splitlines()
    assert f"image {gone} is no longer on disk" in note and "imgsearch index" in note
    done = run_cli(["lookup", str(kept), "--json"], cwd)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    looked = json.loads(done.stdout)
    assert "file_missing" not in looked and looked["query"]["sha256"]
    assert kept not in [r["id"] for r in looked["results"]]  # where *else*: not itself
    for args, status, says in (
        (["lookup", "999999"], 1, "no image with id 999999"),
        (["lookup", "no-such.jpg"], 2, "'no-such.jpg' does not exist"),
        (["lookup", "photos"], 2, "is a directory"),
        # a URL is named as typed (a path object had made it "https:/example.com/a.jpg")
        (["lookup", URL], 2, f"'{URL}' does not exist. (URLs are not downloaded"),
        # a path argument that names no file: a usage error (2) in every command
        (["search", URL], 2, f"'{URL}' does not exist. (URLs are not downloaded"),
        (["similar", URL], 2, f"{URL} is not an image of this library, and no file has that"),
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
    # exact copies only: no copy score was used (it said "at copy score >= 0.639")
    assert "1 group(s), 1 exact copy (same bytes)" in after.stderr, after.stderr
    assert "copy score" not in after.stderr
    # ... nor in its JSON (it gave the calibrated threshold) or HTML report
    report = json.loads(run_cli(["dedup", "--exact-only", "--json"], cwd).stdout)
    assert report["threshold"] is None and report["stats"]["duplicates"] == 1, report
    html = run_cli(["dedup", "--exact-only", "-o", "out/exact.html"], cwd)
    assert html.returncode == 0, html.stderr
    page = (cwd / "out" / "exact.html").read_text()
    assert "exact copies only (same bytes)" in page and "cosine to the keeper" not in page
    # `-o -` is stdout, as for other tools (it wrote a file named "-")
    for args in (["dedup", "--exact-only", "-o", "-"], ["clusters", "--json", "-o", "-"]):
        dashed = run_cli(args, cwd)
        assert dashed.returncode == 0 and json.loads(dashed.stdout), dashed.stderr
        assert not (cwd / "-").exists()


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
    ``is_file()`` themselves beside ``disk_change``: cards (results, explore pages) now ask
    ``listed_state``, which is ``disk_change`` first; a folder standing at the path is gone."""
    from types import SimpleNamespace

    from search.query import disk_change
    from web.present import card_file_state

    def card(path: object, size: int | None = None) -> str | None:
        return card_file_state(SimpleNamespace(path=path, size=size))

    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"x" * 100)
    assert disk_change(photo) is None and card(str(photo)) is None
    assert disk_change(photo, 99) == "changed" and card(str(photo), 99) == "changed"
    photo.unlink()
    photo.mkdir()  # a folder where the file was: gone for every caller
    assert disk_change(photo) == "gone" and disk_change(photo, 100, None) == "gone"
    assert card(str(photo)) == "gone" and card(str(tmp_path / "none.jpg")) == "gone"
    assert card(None) is None and card("") is None
