"""Search results whose file was moved, deleted or replaced since it was indexed are marked as
such, in the CLI's tables and JSON (search and lookup) and in the API's results (a file-system
audit, 2026-12-07: a moved photo was listed as a normal hit, "1.0000= exact copy", at a path
with no file)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from search.settings import Settings
from tests.cli_process import run_cli
from tests.web_library import API
from web.app import create_app


def test_hits_whose_file_is_gone_or_changed_are_marked(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    sources = sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))
    names = ("moved.jpg", "piped.jpg", "other.jpg", "kept.jpg")
    for name, source in zip(names, sources[:4], strict=True):
        shutil.copyfile(source, photos / name)
    library = ["--library", "library", "--model-path", str(models_dir)]
    assert run_cli([*library, "index", "--no-progress", "photos"], tmp_path).returncode == 0
    (photos / "moved.jpg").rename(tmp_path / "moved.jpg")  # the query: its own old entry
    (photos / "piped.jpg").unlink()
    os.mkfifo(photos / "piped.jpg")
    shutil.copyfile(sources[5], photos / "other.jpg")  # another photo in its place

    table = run_cli([*library, "search", "-k", "4", "moved.jpg"], tmp_path)
    found = run_cli([*library, "search", "-k", "4", "--json", "moved.jpg"], tmp_path)
    assert table.returncode == 0 and found.returncode == 0, table.stderr + found.stderr
    lines = table.stdout.splitlines()
    rows = {n: next(line for line in lines if f"{photos / n} " in line) for n in names}
    assert f"{photos / 'moved.jpg'} [FILE MISSING]" in rows["moved.jpg"]
    assert "1.0000=" in rows["moved.jpg"]  # still the exact copy it was
    assert "[FILE MISSING]" in rows["piped.jpg"]
    assert "[FILE CHANGED]" in rows["other.jpg"]
    assert "[FILE" not in rows["kept.jpg"]
    assert "([FILE MISSING]: no file at this path now" in table.stdout

    def flags(results: list[dict]) -> dict[str, set[str]]:
        marks = ("file_missing", "file_changed")
        return {Path(r["path"]).name: {m for m in marks if r.get(m) is True} for r in results}

    expected = {
        "moved.jpg": {"file_missing"},
        "piped.jpg": {"file_missing"},
        "other.jpg": {"file_changed"},
        "kept.jpg": set(),
    }
    assert flags(json.loads(found.stdout)["results"]) == expected

    looked = run_cli([*library, "lookup", "--others", "4", "--json", "moved.jpg"], tmp_path)
    assert looked.returncode == 0, looked.stderr
    assert flags(json.loads(looked.stdout)["results"]) == expected
    listed = run_cli([*library, "lookup", "--others", "4", "moved.jpg"], tmp_path).stdout
    assert f"{photos / 'moved.jpg'} [FILE MISSING]" in listed
    assert "[FILE CHANGED]" in next(line for line in listed.splitlines() if "other.jpg" in line)
    assert "([FILE MISSING]: no file at this path now" in listed

    app = create_app(Settings(library=tmp_path / "library", model_path=(models_dir,)))
    try:
        client = app.test_client()
        upload = {"image": ((tmp_path / "moved.jpg").open("rb"), "moved.jpg"), "k": "4"}
        searched = client.post(f"{API}/search", data=upload).get_json()
        lookup = {"image": ((tmp_path / "moved.jpg").open("rb"), "moved.jpg"), "others": "4"}
        looked_up = client.post(f"{API}/lookup", data=lookup).get_json()
        ids = {Path(r["path"]).name: r["id"] for r in searched["results"]}
        # an image's own JSON marks its file as the lists do (it lacked the marks)
        details = [client.get(f"{API}/images/{ids[name]}").get_json() for name in names]
    finally:
        app.extensions["imgsearch"].close()
    assert flags(searched["results"]) == expected
    assert flags(looked_up["results"]) == expected
    assert flags(details) == expected
