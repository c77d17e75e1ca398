"""Issue 15 item 6: protocol details of the served API (a real `imgsearch serve`)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import requests

from tests.served import indexed_library, serve

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("protocol")
    library = indexed_library(folder, data_dir, models_dir, 3)
    photos = folder / "photos"
    with serve(library, models_dir) as running:
        running.photos = photos  # type: ignore[attr-defined]
        yield running


def _over_the_limit(served, path: bytes) -> tuple[bytes, bytes]:  # type: ignore[no-untyped-def]
    """A chunked upload to ``path`` just over waitress's limit: the answer's head and body."""
    host, port = served.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as conn:
        conn.sendall(
            b"POST " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"x" * (1024 * 1024)
        for _ in range(34):  # just over waitress's limit (32 MiB + slack), then wait
            conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < 20:
            data = conn.recv(65536)
            if not data:
                break
            answer += data
    head, _, body = answer.partition(b"\r\n\r\n")
    return head, body


def test_a_chunked_upload_over_the_limit_gets_json_413(served) -> None:  # type: ignore[no-untyped-def]
    head, body = _over_the_limit(served, b"/api/v1/search")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert b"Content-Type: application/json" in head, head
    error = json.loads(body)["error"]
    assert error["code"] == "too_large" and error["message"].endswith("the limit is 32 MiB."), error


def test_the_search_forms_upload_over_the_limit_gets_a_page(served) -> None:  # type: ignore[no-untyped-def]
    """The page's form posts to /search: a client without scripts (which check the size
    first) was answered the API's JSON (a new user's audit)."""
    head, body = _over_the_limit(served, b"/search")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert b"Content-Type: text/html" in head, head
    assert b"Upload too large: the limit is 32 MiB." in body and b'href="/"' in body
    assert b'<link rel="stylesheet" href="/static/app.css">' in body  # styled as the others


def test_too_many_form_parts_say_so(served) -> None:  # type: ignore[no-untyped-def]
    fields = [(f"f{i}", "1") for i in range(1001)]
    answer = requests.post(f"{served.url}/api/v1/search", files=fields, timeout=60)
    assert answer.status_code == 413
    assert "too many parts" in answer.json()["error"]["message"]


def test_405_names_the_allowed_methods(served) -> None:  # type: ignore[no-untyped-def]
    answer = requests.get(f"{served.url}/api/v1/search", timeout=30)
    assert answer.status_code == 405 and "POST" in answer.headers["Allow"]
    assert answer.json()["error"]["status"] == 405
    page = requests.delete(f"{served.url}/api/v1/stats", timeout=30)
    assert page.status_code == 405 and "GET" in page.headers["Allow"]


def test_openapi_matches_what_is_served(served) -> None:  # type: ignore[no-untyped-def]
    doc = requests.get(f"{served.url}/api/v1/openapi.json", timeout=30).json()
    exif = doc["components"]["schemas"]["Image"]["properties"]["exif_datetime"]
    assert "format" not in exif and "offset" in exif["description"]
    form = doc["paths"]["/search"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert form["schema"]["properties"]["image_id"]["minimum"] == 1
    labels = doc["paths"]["/labels"]["get"]["parameters"][0]["schema"]
    assert labels["minLength"] == 1


def test_a_file_replaced_by_a_non_image_is_not_served_as_an_image(served) -> None:  # type: ignore[no-untyped-def]
    info = requests.get(f"{served.url}/api/v1/images/1", timeout=30).json()
    original = requests.get(f"{served.url}/api/v1/images/1/file", timeout=30)
    assert original.status_code == 200 and original.headers["Content-Type"] == "image/jpeg"
    path = served.photos / Path(info["rel_path"]).name
    saved = path.read_bytes()
    try:
        path.write_text("<html><script>alert(1)</script></html>")
        answer = requests.get(f"{served.url}/api/v1/images/1/file", timeout=30)
        assert answer.status_code == 409, (answer.status_code, answer.headers)
        assert answer.headers["Content-Type"] == "application/json"
        assert answer.json()["error"]["code"] == "file_changed"
    finally:
        path.write_bytes(saved)


def test_a_file_replaced_by_a_huge_image_gets_409_not_500(served) -> None:  # type: ignore[no-untyped-def]
    """A library file replaced by an image of more pixels than Pillow opens (30000 x 30000)
    made /images/ID/file answer 500: the format check let Pillow's DecompressionBombError
    escape. The header tells its format (PNG, no longer the JPEG indexed): 409."""
    from tests.hostile import png_header_only

    info = requests.get(f"{served.url}/api/v1/images/1", timeout=30).json()
    path = served.photos / Path(info["rel_path"]).name
    saved = path.read_bytes()
    try:
        path.write_bytes(png_header_only(30000, 30000))
        answer = requests.get(f"{served.url}/api/v1/images/1/file", timeout=30)
        assert answer.status_code == 409, (answer.status_code, answer.text)
        assert answer.json()["error"]["code"] == "file_changed"
    finally:
        path.write_bytes(saved)
