"""A file dated past 2262 (a camera with a broken clock, a badly unpacked archive): its
modification time in nanoseconds overflowed the database's 64-bit column, the batch holding it
failed with a traceback and the run stopped - every file after it lost, on every run (a new
user's audit, 2026-12-06). It is kept as the latest time the column holds now, the same for
every comparison: the next run finds it unchanged, and its page does not call it a changed
file."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from search.settings import Settings
from tests.cli_process import run_cli
from web.app import create_app

pytestmark = pytest.mark.slow

YEAR_2263_NS = 9_246_182_400 * 10**9  # 2263-01-01, past what a signed 64-bit count holds


def test_a_file_dated_past_2262_is_indexed_with_the_rest(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for source in sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[:6]:
        shutil.copyfile(source, photos / source.name)
    future = photos / "ukbench00002.jpg"
    os.utime(future, ns=(YEAR_2263_NS, YEAR_2263_NS))
    assert future.stat().st_mtime_ns > 2**63 - 1
    models = ["--model-path", str(models_dir)]
    first = run_cli([*models, "index", "--no-progress", "--json", "photos"], tmp_path)
    assert first.returncode == 0 and "Traceback" not in first.stderr, first.stderr
    assert (json.loads(first.stdout)["added"], json.loads(first.stdout)["failed"]) == (6, 0)
    again = run_cli([*models, "index", "--no-progress", "--json", "photos"], tmp_path)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["unchanged"] == 6, again.stdout
    found = run_cli(["search", "--json", "-k", "1", str(future)], tmp_path)
    assert found.returncode == 0, found.stderr
    (hit,) = json.loads(found.stdout)["results"]
    assert hit["exact"] and "file_changed" not in json.loads(found.stdout), found.stdout
    app = create_app(Settings(library=tmp_path / "imgsearch-library", model_path=(models_dir,)))
    try:
        page = app.test_client().get(f"/images/{hit['id']}").get_data(as_text=True)
    finally:
        app.extensions["imgsearch"].close()
    assert "ukbench00002.jpg" in page and "changed on disk" not in page
