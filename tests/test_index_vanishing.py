"""Files deleted while a run indexes them (`rm -r photos/val/bees` 1.5 s into a run): each was
recorded as failed - "83 files it could not index", `stats` listing 83 `unreadable: cannot
read file: no such file` rows for files that no longer existed until the next run (a new
user's audit, 2026-12-06). A file gone since the walk is passed over; the rest is indexed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import indexer.pipeline
from cli.main import cli


def test_files_deleted_during_a_run_are_not_failures(
    tmp_path: Path, data_dir: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for source in sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[:8]:
        shutil.copyfile(source, photos / source.name)
    doomed = {photos / "ukbench00002.jpg", photos / "ukbench00005.jpg"}
    read = indexer.pipeline.read_and_hash

    def deleted_first(item):  # type: ignore[no-untyped-def]
        if item.found.path in doomed:
            item.found.path.unlink()  # gone after the walk listed it, before it is read
        return read(item)

    common = ["--library", str(tmp_path / "lib"), "--model-path", str(models_dir)]
    first = tmp_path / "first"  # an existing library: no head start reads the files early
    first.mkdir()
    shutil.copyfile(data_dir / "ukbench_subset" / "images" / "ukbench00040.jpg", first / "a.jpg")
    assert CliRunner().invoke(cli, [*common, "index", "--no-progress", str(first)]).exit_code == 0
    monkeypatch.setattr(indexer.pipeline, "read_and_hash", deleted_first)
    done = CliRunner().invoke(cli, [*common, "index", "--no-progress", "--json", str(photos)])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert (summary["added"], summary["failed"]) == (6, 0), summary
    assert summary["gone"] == 2, summary  # said: renamed files were in no count (an audit)
    monkeypatch.setattr(indexer.pipeline, "read_and_hash", deleted_first)
    for source in doomed:
        shutil.copyfile(data_dir / "ukbench_subset" / "images" / source.name, source)
    text = CliRunner().invoke(cli, [*common, "index", "--no-progress", str(photos)]).output
    assert "2 files gone between the walk and their reading" in text, text
    stats = CliRunner().invoke(cli, [*common, "stats", "--json"])
    assert json.loads(stats.stdout)["failed"] == 0, stats.stdout
