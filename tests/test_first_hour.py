"""A new user's first hour with a real collection, as a subprocess from a working folder
with the default ./imgsearch-library: links in and out of the collection, odd file names,
files gone from disk after indexing, the served pages of such images."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import requests

from tests import first_hour
from tests.cli_process import run_cli, served
from tests.first_hour import NEWLINE_NAME, card_of, fetch, library_paths
from tests.indexer_helpers import photo_paths

user = first_hour.user  # module fixtures: each test module has its own folder and server
server = first_hour.server


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
    every other command gives - and the URL's password is not in it (every command printed
    the URL whole)."""
    pytest.importorskip("psycopg")
    url = "postgresql://nobody:s3cret@127.0.0.1:1/library"
    for args in (["db", "check"], ["db", "check", "--json"], ["stats"]):
        done = run_cli(["--database-url", url, *args], tmp_path, timeout=60)
        assert done.returncode == 1, done.stdout
        (line,) = done.stderr.strip().splitlines()
        assert "connection failed" in line and "damaged" not in done.stdout + line, line
        assert "s3cret" not in done.stdout + done.stderr, (args, line)


@pytest.mark.slow
def test_a_collection_around_another_one_is_warned_of_either_way(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """``index DIR/sub`` then ``index DIR`` (or the other way round) recorded the photos of
    sub twice - every search listed them twice, `dedup` reported each as its own duplicate -
    with a warning in one order only. Each file is now recorded once, in the innermost
    collection, either way, and the run says so."""
    (tmp_path / "photos" / "sub").mkdir(parents=True)
    sources = photo_paths(data_dir, 3)
    shutil.copyfile(sources[0], tmp_path / "photos" / sources[0].name)
    for source in sources[1:]:
        shutil.copyfile(source, tmp_path / "photos" / "sub" / source.name)
    model = ["--model-path", str(models_dir)]
    for order, said in (
        (("photos/sub", "photos"), "holds the collection"),
        (("photos", "photos/sub"), "lies inside the collection"),
    ):
        library = ["--library", f"library-{order[0].replace('/', '-')}"]
        for folder in order:
            done = run_cli([*library, *model, "index", "--no-progress", "--json", folder], tmp_path)
            assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert any(said in w and "once" in w for w in summary["warnings"]), summary["warnings"]
        # photos' own file is new to the second run of one order; sub's are never added twice
        assert summary["added"] == (1 if order[0] == "photos/sub" else 0), summary
        stats = json.loads(run_cli([*library, "stats", "--json"], tmp_path).stdout)
        counts = {Path(c["root"]).name: c["images"] for c in stats["collections"]}
        assert stats["images"] == 3 and counts == {"photos": 1, "sub": 2}, stats
        report = run_cli([*library, "dedup", "--format", "csv"], tmp_path)
        rows = report.stdout.strip().splitlines()[1:]
        assert not rows, rows  # no file is a duplicate of itself
        found = run_cli(
            [*library, "search", "--json", "-k", "3", f"photos/sub/{sources[1].name}"], tmp_path
        )
        paths = [hit["path"] for hit in json.loads(found.stdout)["results"]]
        assert len(paths) == len(set(paths)) == 3, paths


@pytest.mark.slow
def test_a_removal_in_nested_collections_is_listed_once(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """``index DIR`` then ``index DIR/sub`` recorded sub's photos in both collections; a
    ``remove`` of one of them was then listed twice by ``remove``, ``stats`` and ``remove
    --undo`` (once per collection): each path is listed once (and now holds one image: the
    file is recorded once, in sub)."""
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
        "removed": 1,
        "failed": 0,
        "paths": [{"path": absolute, "images": 1, "failed": 0}],
        "unmatched": [],
        "pruned": 0,  # no thumbnail or key points made yet
        "pruned_bytes": 0,
    }
    stats = run_cli(["stats", "--json"], tmp_path)
    assert [r["path"] for r in json.loads(stats.stdout)["removed_paths"]] == [absolute]
    text = run_cli(["stats"], tmp_path).stdout
    assert text.count(absolute) == 1, text
    undone = run_cli(["remove", "--undo", "--json", target], tmp_path)
    assert undone.returncode == 0, undone.stderr
    assert [(u["path"], u["images"]) for u in json.loads(undone.stdout)["undone"]] == [
        (absolute, 1)
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
    # a library image named in it is the query (it was dropped: an empty form)
    for path, mode in (("/search?id=1", "similar"), ("/lookup?image_id=1", "lookup")):
        status, body = fetch(server + path)
        assert status == 200 and 'name="image_id" value="1"' in body, body
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
    # bytes of no format at all named .mp4 said "Not a readable image: not an image", where
    # the CLI says "not a readable video": the name counts as a file's does
    answer = requests.post(
        f"{server}/api/v1/lookup", files={"image": ("notes.mp4", b"plain text\n" * 50)}, timeout=60
    )
    assert answer.status_code == 415 and answer.json()["error"]["code"] == "not_a_video"
    assert answer.json()["error"]["message"].startswith("Not a readable video ("), answer.text
    (cwd / "broken.mp4").write_bytes(broken)
    try:
        done = run_cli(["search", "broken.mp4"], cwd)
    finally:
        (cwd / "broken.mp4").unlink()
    assert done.returncode == 1 and "Errno" not in done.stderr, done.stderr
    assert done.stderr.startswith("Error: broken.mp4: not a readable video ("), done.stderr


def test_previous_of_a_page_past_the_end_goes_to_the_last_page(server) -> None:  # type: ignore[no-untyped-def]
    """``/browse?page=50`` (an old link, a typed number) said "past the end" and offered
    "Previous" to page 49, past the end again: it now leads to the last page (a 404 page)."""
    status, body = fetch(f"{server}/browse?page=50")
    assert status == 404 and "past the end of the library" in body, body
    (previous,) = re.findall(r'<a class="button" rel="prev" href="([^"]+)"', body)
    assert previous.endswith("page=1"), previous
    assert fetch(f"{server}{previous.replace('&amp;', '&')}")[0] == 200
