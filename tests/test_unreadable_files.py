"""A library photo the user running imgsearch cannot read (permission denied on it or on its
folder), or one replaced by a FIFO: the server and the CLI say what is wrong and what helps
(a file-system audit, 2026-12-07: they said "changed on disk" / "no longer on disk" and
"re-run the index", which changes nothing)."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.cli_process import AS_USER, CANNOT_DROP_ROOT, cli_env, run_cli
from tests.served import CLI, serving

pytestmark = pytest.mark.skipif(
    CANNOT_DROP_ROOT, reason="root without setpriv: file modes do not apply"
)
DENIED = "cannot be read (Permission denied)"
FIX = "give the user that runs imgsearch read access to the file and its folders"


@pytest.fixture()
def home(tmp_path: Path, data_dir: Path, models_dir: Path) -> Iterator[Path]:
    """``photos/`` with ``locked.jpg`` (mode 000), ``closed/inside.jpg`` (its folder mode
    000) and ``pipe.jpg`` (a FIFO now), all indexed as photos before; ``library/`` beside."""
    photos = tmp_path / "photos"
    (photos / "closed").mkdir(parents=True)
    sources = sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))
    names = ("locked.jpg", "closed/inside.jpg", "pipe.jpg", "fine.jpg")
    for name, source in zip(names, sources, strict=False):
        shutil.copyfile(source, photos / name)
    args = ["--library", "library", "--model-path", str(models_dir), "index", "--no-progress"]
    assert run_cli([*args, "photos"], tmp_path).returncode == 0
    (photos / "locked.jpg").chmod(0)
    (photos / "closed").chmod(0)
    (photos / "pipe.jpg").unlink()
    os.mkfifo(photos / "pipe.jpg")
    try:
        yield tmp_path
    finally:
        (photos / "closed").chmod(0o755)
        (photos / "locked.jpg").chmod(0o644)


def ids_of(home: Path) -> dict[str, int]:
    done = run_cli(
        ["--library", "library", "similar", "--json", "-k", "9", "photos/fine.jpg"], home
    )
    assert done.returncode == 0, done.stderr
    return {Path(h["path"]).name: h["id"] for h in json.loads(done.stdout)["results"]}


def test_the_server_says_a_file_cannot_be_read_and_what_helps(home: Path, models_dir: Path):
    ids = ids_of(home)
    command = [*AS_USER, *CLI, "--library", "library", "--model-path", str(models_dir)]
    command += ["serve", "--host", "127.0.0.1", "--port", "0", "--threads", "4"]
    with serving(command, home, cli_env()) as server:
        api = f"{server.url}/api/v1/images"
        answers = {}
        for name in ("locked.jpg", "inside.jpg", "pipe.jpg"):
            answers[name] = [
                requests.get(f"{api}/{ids[name]}/{u}", timeout=60) for u in ("file", "thumbnail")
            ]
        searched = requests.post(
            f"{server.url}/api/v1/search", data={"image_id": ids["locked.jpg"]}, timeout=60
        ).json()
        page = requests.get(f"{server.url}/images/{ids['inside.jpg']}", timeout=60).text
        pipe_page = requests.get(f"{server.url}/images/{ids['pipe.jpg']}", timeout=60).text
        # listed (an audit: the detail's flags all null, cards a broken 403 thumbnail)
        detail = requests.get(f"{api}/{ids['locked.jpg']}", timeout=60).json()
        listed = {
            u: requests.get(f"{server.url}{u}", timeout=60).text
            for u in ("/browse", "/clusters?method=kmeans&k=2", "/outliers")
        }
    for name in ("locked.jpg", "inside.jpg"):  # permission denied: 403, never "re-run"
        for answer in answers[name]:
            error = answer.json()["error"]
            assert (answer.status_code, error["code"]) == (403, "file_unreadable"), error
            assert DENIED in error["message"] and FIX in error["message"], error
            assert "changed on disk" not in error["message"]
    for answer in answers["pipe.jpg"]:
        error = answer.json()["error"]
        assert answer.status_code == 404, error
        assert "is no longer a regular file but a FIFO (named pipe)" in error["message"]
    assert searched["file_unreadable"] is True and "file_missing" not in searched
    assert DENIED in searched["note"] and FIX in searched["note"], searched
    assert searched["results"], searched  # from its stored vectors
    assert f"No picture to show: its file {DENIED}." in page
    assert 'data-code="file_unreadable"' in page  # no run of the index helps: none offered
    assert not re.search(r"run <code>imgsearch[^<]* index", page), page
    assert "no longer a regular file but a FIFO (named pipe)" in pipe_page
    assert detail.get("file_unreadable") is True and "file_missing" not in detail, detail
    for url, text in listed.items():
        assert 'aria-label="File unreadable: locked.jpg"' in text, url
        assert f"/api/v1/images/{ids['locked.jpg']}/thumbnail" not in text, url
        shown = {int(i) for i in re.findall(r"/api/v1/images/(\d+)/thumbnail", text)}
        assert shown and ids["locked.jpg"] not in shown, url  # fine.jpg's is shown


def test_the_cli_notes_say_a_file_cannot_be_read(home: Path):
    ids = ids_of(home)
    for command in ("similar", "lookup"):
        done = run_cli(
            ["--library", "library", command, str(ids["locked.jpg"])], home, prefix=AS_USER
        )
        assert done.returncode == 0, done.stderr
        assert f"note: The file of image {ids['locked.jpg']} {DENIED}" in done.stderr
        assert FIX in done.stderr and "run `imgsearch index`" not in done.stderr


def test_the_search_page_from_such_a_file_answers_as_the_api(home: Path, models_dir: Path):
    """``/?from=ID`` of a deleted file, or one replaced by a FIFO, said 409 ``file_changed``
    while the API's thumbnail, file and region search of the same id said 404
    ``file_missing`` (and 403 ``file_unreadable`` of an unreadable one, as the page did): the
    page now says what the API says, naming the image and why."""
    command = [*AS_USER, *CLI, "--library", "library", "--model-path", str(models_dir)]
    command += ["serve", "--host", "127.0.0.1", "--port", "0", "--threads", "4"]
    expected = {
        "pipe.jpg": (404, "file_missing", "is no longer a regular file but a FIFO"),
        "fine.jpg": (404, "file_missing", "is no longer on disk"),
        "locked.jpg": (403, "file_unreadable", DENIED),
        "inside.jpg": (403, "file_unreadable", DENIED),
    }
    with serving(command, home, cli_env()) as server:
        listed = requests.get(f"{server.url}/api/v1/images", timeout=60).json()["results"]
        ids = {Path(hit["path"]).name: hit["id"] for hit in listed}
        (home / "photos" / "fine.jpg").unlink()  # deleted since it was indexed
        for name, (status, code, why) in expected.items():
            image_id = ids[name]
            page = requests.get(f"{server.url}/", params={"from": image_id}, timeout=60).text
            shown = re.search(
                r'class="alert alert-(\d+)" role="alert" ?(.*?)>(.*?)</div>', page, re.S
            )
            assert shown is not None, (name, page)
            assert int(shown[1]) == status and f'data-code="{code}"' == shown[2], (name, shown[0])
            said = shown[3]
            assert f"Library image #{image_id} cannot be a query: its file {why}" in said
            api = [
                requests.get(f"{server.url}/api/v1/images/{image_id}/thumbnail", timeout=60),
                requests.post(
                    f"{server.url}/api/v1/search",
                    data={"image_id": image_id, "roi": "0,0,0.5,0.5"},
                    timeout=60,
                ),
            ]
            for answer in api:
                error = answer.json()["error"]
                assert (answer.status_code, error["code"]) == (status, code), (name, error)
                assert f"image {image_id} " in error["message"], (name, error)
