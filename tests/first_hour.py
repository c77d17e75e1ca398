"""The working folder of a new user's first hour (``tests/test_first_hour*.py``): a module
fixture that indexes it with the CLI as a subprocess, and the served app over it."""

from __future__ import annotations

import json
import re
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

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


def card_of(body: str, image_id: int) -> str:
    """The HTML of the card (``<li class="card...">`` or an explore tile) that links to
    image ``image_id`` on a page."""
    for card in re.findall(r'<li class="(?:card|tile-card)[^"]*">.*?</li>', body, re.S):
        if f'href="/images/{image_id}"' in card:
            return card
    raise AssertionError(f"no card of image {image_id} on the page")
