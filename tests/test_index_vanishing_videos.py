"""Videos deleted while a run indexes them were recorded as failed ("no such file") where a
photo deleted the same way is passed over (`tests/test_index_vanishing.py`): the same for
videos - the rest is indexed, no failure is stored, the next run has nothing to tidy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import indexer.video
from cli.main import cli
from tests.video_clips import write_slideshow

pytest.importorskip("av")


def test_videos_deleted_during_a_run_are_not_failures(
    tmp_path: Path, data_dir: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clips = tmp_path / "clips"
    clips.mkdir()
    photos = sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))
    for n in range(3):
        write_slideshow(photos[2 * n : 2 * n + 2], clips / f"clip{n}.mp4", (160, 128), hold=5)
    shutil.copyfile(photos[10], clips / "still.jpg")
    doomed = clips / "clip1.mp4"
    hashed = indexer.video.file_sha256

    def deleted_first(item):  # type: ignore[no-untyped-def]
        if item.found.path == doomed:
            doomed.unlink()  # gone after the walk listed it, before it is read
        return hashed(item)

    monkeypatch.setattr(indexer.video, "file_sha256", deleted_first)
    common = ["--library", str(tmp_path / "lib"), "--model-path", str(models_dir)]
    done = CliRunner().invoke(cli, [*common, "index", "--no-progress", "--json", str(clips)])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert (summary["added"], summary["failed"]) == (3, 0), summary
    stats = json.loads(CliRunner().invoke(cli, [*common, "stats", "--json"]).stdout)
    assert stats["failed"] == 0, stats
