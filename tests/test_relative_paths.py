"""Relative paths are resolved once, when the settings are made: `imgsearch index photos`
then `imgsearch serve` from the same folder, with the default relative library
(./imgsearch-library), serve every page, thumbnail and file (issue 10, item 1)."""

from __future__ import annotations

import html
import re
import urllib.request
from pathlib import Path

import pytest

from search.settings import Settings
from tests.cli_process import relative_library as index_relative
from tests.cli_process import served
from tests.indexer_helpers import photo_paths

pytestmark = pytest.mark.slow


def get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=30) as response:  # an HTTP error raises
        return response.status, response.headers.get_content_type(), response.read()


@pytest.fixture(scope="module")
def relative_library(
    tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path
) -> tuple[Path, list[int]]:
    """A folder holding photos/ and the default ./imgsearch-library, indexed by the CLI run
    from that folder with relative paths only; returns (folder, image ids)."""
    cwd = tmp_path_factory.mktemp("relative")
    return cwd, index_relative(cwd, photo_paths(data_dir, 3), models_dir)


def test_settings_make_every_path_absolute(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env(
        env={"IMGSEARCH_MODEL_PATH": "m1:m2"},
        model_path="given",
        database_url="sqlite:///db/x.sqlite3",
    )
    assert settings.library == tmp_path / "imgsearch-library"
    assert settings.model_path[:4] == tuple(tmp_path / p for p in ("given", "m1", "m2", "models"))
    assert settings.database_url == f"sqlite:///{tmp_path}/db/x.sqlite3"
    monkeypatch.chdir("/")  # later cwd changes do not move anything
    assert settings.with_overrides(model="x").library == tmp_path / "imgsearch-library"


def test_serve_with_the_default_relative_library(relative_library) -> None:  # type: ignore[no-untyped-def]
    cwd, ids = relative_library
    with served([], cwd) as url:  # no --library: ./imgsearch-library, relative to cwd
        status, kind, page = get(url + "/")
        assert (status, kind) == (200, "text/html")
        for image_id in ids:
            status, kind, body = get(f"{url}/api/v1/images/{image_id}/thumbnail")
            assert (status, kind) == (200, "image/jpeg") and body[:3] == b"\xff\xd8\xff"
            status, kind, page = get(f"{url}/images/{image_id}")
            assert (status, kind) == (200, "text/html")
            for src in re.findall(r'<img[^>]+src="(/[^"]+)"', page.decode()):
                status, kind, body = get(url + html.unescape(src))  # &amp; as a browser
                assert status == 200 and kind.startswith("image/") and body, src
            status, kind, body = get(f"{url}/api/v1/images/{image_id}/file")
            assert (status, kind) == (200, "image/jpeg") and body[:3] == b"\xff\xd8\xff"
