"""The web UI's browser tests' library and server (``tests/test_web_browser*.py``): module
fixtures, so each test module has its own."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.served import CLI, serving
from tests.web_library import WebLibrary, web_library

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def weblib(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path):
    root = tmp_path_factory.mktemp("webui")
    built = tmp_path_factory.getbasetemp() / "web-library-built"
    return web_library(root, data_dir, models_dir, None, built)


@pytest.fixture(scope="module")
def server(weblib: WebLibrary) -> Iterator[str]:
    """`imgsearch serve --port 0` in a subprocess; yields its base URL."""
    command = [
        *CLI,
        "--library",
        str(weblib.settings.library),
        "--model-path",
        str(weblib.models_dir),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--threads",
        "4",
    ]
    with serving(command, REPO, {**os.environ, "PYTHONPATH": str(REPO)}) as served:
        yield served.url
