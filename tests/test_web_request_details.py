"""Details of requests a new user's audit found answered wrongly (2026-12-06): fields sent as
the wrong kind of multipart part were ignored for their defaults, a library file's
``Cache-Control`` said both ``public`` and ``private``, ``?download=yes`` was ignored, a
``Range`` header HTTP lets a server ignore was 416, and a region's error rounded the value it
refused (``1.0000001`` was shown as ``1``)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from flask import Flask

from search.settings import Settings
from tests.cli_process import run_cli
from tests.web_library import API, assert_error, upload
from web.app import create_app


@pytest.mark.parametrize(
    ("url", "field"),
    [(f"{API}/search", "roi"), (f"{API}/search", "k"), (f"{API}/lookup", "others")],
)
def test_a_text_field_sent_as_a_file_is_400_naming_it(client, weblib, url, field):
    body = {
        "image": (io.BytesIO(weblib.query_photo.read_bytes()), "q.jpg"),
        field: (io.BytesIO(b"0"), f"{field}.txt"),
    }
    answer = client.post(url, data=body, content_type="multipart/form-data")
    error = assert_error(answer, 400)
    assert f"'{field}' must be a text field, not a file" in error["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"image": "hello"},  # the image as text
        {"image_id": (io.BytesIO(b"1"), "id.txt")},  # the id as a file
    ],
)
def test_the_image_fields_sent_as_the_wrong_kind_are_400(client, body):
    answer = client.post(f"{API}/search", data=body, content_type="multipart/form-data")
    error = assert_error(answer, 400)
    assert "No image" not in error["message"]
    assert "must be a file" in error["message"] or "must be a text field" in error["message"]


def test_library_files_are_cached_privately_only(client, ids):
    image_id = next(iter(ids.values()))
    for path in ("file", "thumbnail"):
        answer = client.get(f"{API}/images/{image_id}/{path}")
        assert answer.status_code == 200
        directives = {d.strip() for d in answer.headers["Cache-Control"].split(",")}
        assert "private" in directives and "public" not in directives, directives


def test_download_takes_0_or_1(client, ids):
    image_id = next(iter(ids.values()))
    attached = client.get(f"{API}/images/{image_id}/file?download=1")
    assert attached.headers["Content-Disposition"].startswith("attachment")
    error = assert_error(client.get(f"{API}/images/{image_id}/file?download=yes"), 400)
    assert "'download' must be 0 or 1" in error["message"]


@pytest.mark.parametrize("header", ["bytes=0-1,3-4", "garbage", "bytes=abc"])
def test_a_range_header_a_server_may_ignore_serves_the_whole_file(client, ids, header):
    image_id = next(iter(ids.values()))
    whole = client.get(f"{API}/images/{image_id}/file")
    answer = client.get(f"{API}/images/{image_id}/file", headers={"Range": header})
    assert answer.status_code == 200 and answer.data == whole.data


def test_one_range_is_still_served_and_an_unsatisfiable_one_is_416(client, ids):
    image_id = next(iter(ids.values()))
    part = client.get(f"{API}/images/{image_id}/file", headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and len(part.data) == 10
    beyond = client.get(f"{API}/images/{image_id}/file", headers={"Range": "bytes=99999999-"})
    assert beyond.status_code == 416


def test_a_region_error_shows_the_value_as_sent(client, weblib):
    error = assert_error(upload(client, weblib.query_photo, roi="0,0,1.0000001,1"), 400, "bad_roi")
    assert "1.0000001" in error["message"], error["message"]


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/clusters?k=3", "k"),  # a k without method=kmeans showed density clusters
        ("/clusters?foo=1", "foo"),
        ("/outliers?foo=1", "foo"),
        ("/map?foo=1", "foo"),
        ("/browse?per_page=5", "per_page"),  # the API's, not the page's
        ("/browse?foo=1", "foo"),
    ],
)
def test_a_page_refuses_what_the_api_refuses(client, path, name):
    page = client.get(path)
    assert page.status_code == 400, page.data[:300]
    assert f"&#39;{name}&#39;" in page.data.decode() or f"'{name}'" in page.data.decode()


def test_the_clusters_form_may_send_its_k_with_density(client):
    assert client.get("/clusters?method=density&k=3").status_code == 200
    assert client.get("/clusters?method=kmeans&k=3").status_code == 200


def _small_library(tmp_path: Path, models_dir: Path, files: dict[str, Path]) -> tuple[Path, Flask]:
    """``tmp_path/photos`` with ``files`` (name: source) indexed through the CLI, and an app
    serving that library."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for name, source in files.items():
        shutil.copyfile(source, photos / name)
    library = tmp_path / "library"
    done = run_cli(
        ["--library", str(library), "--model-path", str(models_dir), "index", "photos"], tmp_path
    )
    assert done.returncode == 0, done.stderr
    return photos, create_app(Settings(library=library, model_path=(models_dir,)))


def test_a_file_with_other_bytes_of_the_same_size_is_not_served(tmp_path, weblib, models_dir):
    """The image page said "No picture to show: its file changed" for a file overwritten in
    place (same size, other bytes), while ``/images/ID/file`` served those other bytes."""
    photos, app = _small_library(
        tmp_path, models_dir, {"a.jpg": sorted(weblib.ukbench.glob("*.jpg"))[0]}
    )
    client = app.test_client()
    image_id = client.get(f"{API}/images").get_json()["results"][0]["id"]
    assert client.get(f"{API}/images/{image_id}/file").status_code == 200
    data = bytearray((photos / "a.jpg").read_bytes())
    data[-600:-100] = bytes(500)  # 500 bytes overwritten in place: the same size
    (photos / "a.jpg").write_bytes(bytes(data))
    assert_error(client.get(f"{API}/images/{image_id}/file"), 409, "file_changed")
    app.extensions["imgsearch"].close()


def test_a_replaced_file_never_lends_its_picture_to_the_old_entry(tmp_path, weblib, models_dir):
    """An audit replaced an indexed photo's file with another photo: browse and search cards
    showed the new picture (an ant) under the old entry's details, one of them "EXACT COPY
    100 %". A thumbnail not made yet is no longer made from another file (409), the card says
    "File changed", and a thumbnail made before the change (the indexed picture) is still
    served."""
    sources = sorted(weblib.ukbench.glob("*.jpg"))[:3]
    photos, app = _small_library(tmp_path, models_dir, {p.name: p for p in sources})
    client = app.test_client()
    ids = {Path(r["path"]).name: r["id"] for r in client.get(f"{API}/images").get_json()["results"]}
    kept = ids[sources[0].name]
    assert client.get(f"{API}/images/{kept}/thumbnail").status_code == 200  # made before
    for source in sources[:2]:  # replaced by another photo (another size)
        shutil.copyfile(sources[2], photos / source.name)
    assert client.get(f"{API}/images/{kept}/thumbnail").status_code == 200  # the indexed one
    replaced = ids[sources[1].name]
    assert_error(client.get(f"{API}/images/{replaced}/thumbnail"), 409, "file_changed")
    page = client.get("/browse").get_data(as_text=True)
    assert page.count('aria-label="File changed:') == 2, page
    app.extensions["imgsearch"].close()


def test_a_file_whose_name_holds_a_newline_is_served(tmp_path, weblib, models_dir):
    """A library file named with a newline (which file systems allow) was a 500 from
    ``/images/ID/file`` - the page's "Open original" and its video player broke - because
    its name went into the ``Content-Disposition`` header as it was."""
    source = sorted(weblib.ukbench.glob("*.jpg"))[0]
    _, app = _small_library(tmp_path, models_dir, {"photo\nx\ty.jpg": source})
    client = app.test_client()
    (row,) = client.get(f"{API}/images").get_json()["results"]
    for query in ("", "?download=1"):
        answer = client.get(f"{API}/images/{row['id']}/file{query}")
        assert answer.status_code == 200, answer.get_data(as_text=True)
        assert answer.data == source.read_bytes()
        disposition = answer.headers["Content-Disposition"]
        assert disposition.endswith("filename=photo_x_y.jpg"), disposition


def test_notices_show_commands_as_code_not_backticks(tmp_path):
    """A library never indexed: every page said "Run `imgsearch index PATH`" with the
    backticks showing; the command is set as code now, escaped like all text."""
    app = create_app(Settings(library=tmp_path / "never-made"))
    client = app.test_client()
    for path in ("/", "/browse", "/clusters", "/library"):
        page = client.get(path).get_data(as_text=True)
        command = f"imgsearch --library {tmp_path / 'never-made'} index PATH"  # its library
        assert f"<code>{command}</code>" in page, path
        assert "`imgsearch" not in page, path


def test_a_server_on_the_network_shows_removals_without_absolute_paths(
    tmp_path, weblib, models_dir
):
    """An exposed server's ``/stats`` left out the library's folder and made failures'
    paths relative to their collection, but listed `imgsearch remove`'s removals with their
    absolute paths."""
    sources = sorted(weblib.ukbench.glob("*.jpg"))[:2]
    photos, _ = _small_library(tmp_path, models_dir, {"a.jpg": sources[0], "b.jpg": sources[1]})
    removed = run_cli(
        ["--library", str(tmp_path / "library"), "remove", str(photos / "b.jpg")], tmp_path
    )
    assert removed.returncode == 0, removed.stderr
    app = create_app(Settings(library=tmp_path / "library"), token="t0ken", exposed=True)
    try:
        headers = {"Authorization": "Bearer t0ken", "Host": "127.0.0.1"}
        stats = app.test_client().get(f"{API}/stats", headers=headers).get_json()
    finally:
        app.extensions["imgsearch"].close()
    assert [r["path"] for r in stats["removed_paths"]] == ["b.jpg"], stats["removed_paths"]


@pytest.mark.parametrize("url", [f"{API}/search", f"{API}/lookup", "/search", "/lookup"])
def test_an_upload_whose_file_name_is_not_utf8_is_searched(client, weblib, url):
    """``curl -F image=@photo-\\xe9t\\xe9.jpg`` (a Latin-1 name: an old camera card, a Samba
    share; curl sends its raw bytes) was answered 400 "No image": the form parser dropped the
    whole form. The name is only a label: the photo is searched, the name shown with
    replacement characters."""
    boundary = b"b0undary"
    part = b'Content-Disposition: form-data; name="image"; filename="photo-\xe9t\xe9.jpg"'
    body = b"".join(
        [
            b"--" + boundary + b"\r\n" + part + b"\r\nContent-Type: image/jpeg\r\n\r\n",
            weblib.query_photo.read_bytes(),
            b"\r\n--" + boundary + b'\r\nContent-Disposition: form-data; name="others"\r\n\r\n2',
            b"\r\n--" + boundary + b"--\r\n",
        ]
    )
    if "search" in url:  # a search's own field
        body = body.replace(b'name="others"', b'name="k"')
    answer = client.post(url, data=body, content_type="multipart/form-data; boundary=b0undary")
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    if url.startswith(API):
        found = answer.get_json()
        assert found["query"]["filename"] == "photo-\ufffdt\ufffd.jpg"
        assert found["results"][0]["score"] > 0.99, found["results"][0]
        if "search" in url:
            assert len(found["results"]) == 2  # its other fields were read too
    else:
        assert 'class="grid' in answer.get_data(as_text=True)
