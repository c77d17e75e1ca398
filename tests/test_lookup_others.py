"""`imgsearch lookup IMAGE --others N` lists N nearest other images when the library has them:
with N above 50 it listed fewer (47 of 60), the lookup reading only the 50 nearest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_process import run_cli
from tests.indexer_helpers import copy_photos, photo_paths

pytestmark = pytest.mark.slow


def test_lookup_lists_as_many_others_as_asked(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    photos = copy_photos(photo_paths(data_dir, 60), tmp_path / "photos")
    done = run_cli(["--model-path", str(models_dir), "index", "photos"], tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    for query in (str(photos[0]), "1"):  # a file, and an image id
        found = run_cli(["lookup", query, "--others", "100", "--json"], tmp_path)
        assert found.returncode == 0, found.stderr
        counts = json.loads(found.stdout)["counts"]
        # every other image: a file is found as itself too, an id looks for the others only
        assert sum(counts.values()) == (60 if query != "1" else 59), counts
        few = json.loads(run_cli(["lookup", query, "--others", "3", "--json"], tmp_path).stdout)
        assert few["counts"]["similar"] == 3, few["counts"]
