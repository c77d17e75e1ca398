"""Issue 15 items 5 and 7 through a real `imgsearch serve` and real CLI subprocesses: ids
beyond SQL's integers, hostile Host headers, corrupt databases (no 500, no traceback), and who
gets in (token outside loopback, Host allow-list, cross-origin POSTs, no absolute paths).
"""

from __future__ import annotations

import random
import re
import shutil
import socket
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
import requests

from tests.served import indexed_library, run_cli, serve

pytestmark = pytest.mark.slow

BIG = "9223372036854775808"  # 2**63: one more than SQLite's largest integer


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path) -> Path:
    return indexed_library(tmp_path_factory.mktemp("hardening"), data_dir, models_dir, 6)


@pytest.fixture(scope="module")
def served(library: Path, models_dir: Path):  # type: ignore[no-untyped-def]
    with serve(library, models_dir) as running:
        yield running


def _no_500(response: requests.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])


def test_ids_beyond_sql_integers_are_404_or_400_not_500(served, library, models_dir) -> None:  # type: ignore[no-untyped-def]
    url = served.url
    for path in (
        f"/api/v1/images/{BIG}",
        f"/api/v1/images/{BIG}/similar",
        f"/api/v1/images/{BIG}/thumbnail",
        f"/api/v1/images/{BIG}/file",
        f"/images/{BIG}",
        "/api/v1/images/99999999999999999999999",
    ):
        answer = requests.get(url + path, timeout=30)
        assert answer.status_code == 404, (path, answer.status_code, answer.text[:200])
    for endpoint in ("/api/v1/search", "/api/v1/lookup"):
        answer = requests.post(url + endpoint, data={"image_id": BIG}, timeout=30)
        assert answer.status_code == 400 and "image_id" in answer.json()["error"]["message"]
    page = requests.get(f"{url}/?from={BIG}", timeout=30)
    _no_500(page)
    cli = run_cli(library, models_dir, "similar", BIG)
    assert cli.returncode == 1 and f"no image with id {BIG}" in cli.stderr
    assert "Traceback" not in cli.stderr + served.output


def test_a_foreign_host_header_gets_400_everywhere(served) -> None:  # type: ignore[no-untyped-def]
    for path in ("/", "/library", "/static/app.css", "/api/v1/stats", "/nope"):
        answer = requests.get(served.url + path, headers={"Host": "evil.example"}, timeout=30)
        assert answer.status_code == 400, (path, answer.status_code, answer.text[:200])
        assert "host name" in answer.text and "evil.example" in answer.text
    ok = requests.get(served.url + "/", headers={"Host": "localhost:1234"}, timeout=30)
    assert ok.status_code == 200


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6")
def test_serve_on_ipv6_loopback_accepts_its_own_host(library: Path, models_dir: Path) -> None:
    try:
        probe = socket.socket(socket.AF_INET6)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.skip("cannot bind ::1 here")
    with serve(library, models_dir, host="::1") as running:
        assert running.url.startswith("http://[::1]:")
        for path in ("/", "/api/v1/stats", "/static/app.css"):
            answer = requests.get(running.url + path, timeout=30)
            assert answer.status_code == 200, (path, answer.status_code, answer.text[:200])


def test_cross_origin_posts_are_refused(served) -> None:  # type: ignore[no-untyped-def]
    url = served.url
    form = {"image_id": "1", "k": "2"}
    evil = requests.post(
        f"{url}/api/v1/search", data=form, timeout=30, headers={"Origin": "http://evil.example"}
    )
    assert evil.status_code == 403 and evil.json()["error"]["code"] == "cross_origin"
    fetch = requests.post(
        f"{url}/search", data=form, timeout=30, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert fetch.status_code == 403
    same = requests.post(
        f"{url}/api/v1/search",
        data=form,
        timeout=30,
        headers={"Origin": url, "Sec-Fetch-Site": "same-origin"},
    )
    assert same.status_code == 200, same.text
    script = requests.post(f"{url}/api/v1/search", data=form, timeout=30)
    assert script.status_code == 200
    # `Origin: null` (a form of our own pages under no-referrer; or a sandboxed frame) passes
    # only with the browser's own word that the request comes from this origin.
    for fetch_site, status in (("same-origin", 200), ("cross-site", 403), (None, 403)):
        headers = {"Origin": "null", **({"Sec-Fetch-Site": fetch_site} if fetch_site else {})}
        answer = requests.post(f"{url}/api/v1/search", data=form, timeout=30, headers=headers)
        assert answer.status_code == status, (fetch_site, answer.text[:200])


def test_cross_site_scripts_cannot_run_similar_image_queries(served) -> None:  # type: ignore[no-untyped-def]
    """A security audit's page on another origin kept six `fetch()`es of
    `/api/v1/images/N/similar` running (no-cors GETs: never refused), slowing the user's own
    searches 4x. Such a GET from a script, an image tag or a frame of another site is refused;
    following a link to an image page from another site still opens it."""
    url = served.url
    cross = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "empty"}
    for path in ("/api/v1/images/1/similar", "/images/1"):
        answer = requests.get(url + path, headers=cross, timeout=30)
        assert answer.status_code == 403, (path, answer.status_code, answer.text[:200])
        assert "Cross-origin requests for similar images are refused" in answer.text
        framed = {**cross, "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"}
        assert requests.get(url + path, headers=framed, timeout=30).status_code == 403
        ours = {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}
        assert requests.get(url + path, headers=ours, timeout=30).status_code == 200
        assert requests.get(url + path, timeout=30).status_code == 200  # a script, curl
    link = {
        "Sec-Fetch-Site": "cross-site",
        "Sec-Fetch-Mode": "navigate",
        "Sec-Fetch-Dest": "document",
    }
    assert requests.get(url + "/images/1", headers=link, timeout=30).status_code == 200
    reads = ("/api/v1/images/1", "/api/v1/images/1/thumbnail", "/api/v1/stats")
    for path in reads:  # cheap reads: as before (the browser's CORS rules keep them unread)
        assert requests.get(url + path, headers=cross, timeout=30).status_code == 200, path


def test_outside_loopback_a_token_is_needed_and_paths_stay_private(
    library: Path, models_dir: Path
) -> None:
    with serve(library, models_dir, host="0.0.0.0") as running:
        url = running.url  # a browser cannot open the wildcard address: 127.0.0.1 is shown
        assert url.startswith("http://127.0.0.1:"), running.output
        assert "http://0.0.0.0" not in running.output
        assert f"http://{socket.gethostname()}:" in running.output  # for other machines
        found = re.search(r"access token (\S+) \(open http://", running.output)
        assert found, running.output
        token = found.group(1)
        assert len(token) >= 24
        for path in ("/", "/api/v1/stats", "/api/v1/images/1/file"):
            answer = requests.get(url + path, timeout=30, allow_redirects=False)
            assert answer.status_code == 401, (path, answer.status_code)
            assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        wrong = requests.get(
            f"{url}/api/v1/stats",
            timeout=30,
            headers={"Authorization": "Bearer " + "x" * len(token)},
        )
        assert wrong.status_code == 401
        auth = {"Authorization": f"Bearer {token}"}
        stats = requests.get(f"{url}/api/v1/stats", headers=auth, timeout=30).json()
        assert "database" not in stats and "library" not in stats
        assert all(not c["root"].startswith("/") for c in stats["collections"])
        hits = requests.post(
            f"{url}/api/v1/search", data={"image_id": "1"}, headers=auth, timeout=30
        ).json()["results"]
        assert hits and all(not h["path"].startswith("/") for h in hits), hits
        assert (
            requests.get(f"{url}/api/v1/images/1", headers=auth, timeout=30)
            .json()["path"]
            .endswith(".jpg")
        )
        # a browser: ?token= once, then a cookie; a token of an earlier start (or mistyped)
        # is said to be wrong (it was told the server "needs its access token", as if none)
        stale = requests.get(f"{url}/library?token=x{token}", timeout=30)
        assert stale.status_code == 401 and "is not this server" in stale.text
        browser = requests.Session()
        first = browser.get(f"{url}/library?token={token}", timeout=30, allow_redirects=False)
        assert first.status_code == 303 and first.headers["Location"].endswith("/library")
        assert "HttpOnly" in first.headers["Set-Cookie"]
        assert "SameSite=Strict" in first.headers["Set-Cookie"]
        for path in ("/library", "/images/1", "/"):
            page = browser.get(url + path, timeout=30)
            assert page.status_code == 200 and str(library.parent) not in page.text, path
        assert browser.get(f"{url}/api/v1/images/1/thumbnail", timeout=30).status_code == 200
        # the Host allow-list stays: names it was not told about are refused
        evil = requests.get(f"{url}/", headers={"Host": "evil.example", **auth}, timeout=30)
        assert evil.status_code == 400
        assert "Traceback" not in running.output


def _corrupt(library: Path, tmp: Path, how: str) -> Path:
    copy = tmp / how
    shutil.copytree(library, copy)
    db = copy / "imgsearch.sqlite3"
    with closing(sqlite3.connect(db)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(db.read_bytes())
    if how == "truncated":
        data = data[: len(data) // 2 + 100]
    elif how == "bad_header":
        data[:16] = b"garbage!garbage!"
    else:  # flipped bytes in every page after the first
        rng = random.Random(1)
        for _ in range(300):
            data[rng.randrange(4096, len(data))] ^= 0xFF
    db.write_bytes(bytes(data))
    return copy


@pytest.mark.parametrize("how", ["truncated", "bad_header", "flipped"])
def test_a_corrupt_database_is_reported_never_a_traceback(
    how: str, library: Path, models_dir: Path, tmp_path: Path, data_dir: Path
) -> None:
    broken = _corrupt(library, tmp_path, how)
    query = str(sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[0])
    for args in (["stats"], ["search", query], ["index", "--no-progress"], ["similar", "1"]):
        done = run_cli(broken, models_dir, *args)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr
        assert "is damaged" in done.stderr and "imgsearch db check" in done.stderr, done.stderr
        assert "imgsearch index" in done.stderr  # how to recover
    check = run_cli(broken, models_dir, "db", "check")
    assert check.returncode == 1 and "is damaged" in check.stderr and "To recover" in check.stderr
    intact = run_cli(library, models_dir, "db", "check")
    assert intact.returncode == 0 and "ok" in intact.stdout
