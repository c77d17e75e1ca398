"""Switching a library's model (`imgsearch reindex --model`) is all or nothing: the mark that
refuses searches, the old vectors dropped and the new model recorded are one transaction. A
full disk between the mark and the rest had left a library whose every search was refused
("run `imgsearch index` to finish it") while `index` changed nothing."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from search.library import Library
from search.settings import Settings
from tests.cli_runner import library_runner
from tests.indexer_helpers import copy_photos, photo_paths

OTHER = "mobilenet_v3_small_075"


def _state(run) -> tuple[str, str | None, int]:  # type: ignore[no-untyped-def]
    stats = json.loads(run("stats", "--json").stdout)
    return stats["model"]["name"], stats["reindex"], stats["vectors"]


def test_a_switch_stopped_by_a_full_disk_changes_nothing(
    tmp_path: Path, data_dir: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = library_runner(tmp_path / "library", models_dir)
    photos = copy_photos(photo_paths(data_dir, 3), tmp_path / "photos")
    run("index", "--no-progress", str(tmp_path / "photos"))
    before = _state(run)

    def disk_full(session):  # type: ignore[no-untyped-def]
        raise OperationalError("DELETE", {}, sqlite3.OperationalError("database or disk is full"))

    monkeypatch.setattr("search.store.write.clear_embeddings_in", disk_full)
    said = run("reindex", "--no-progress", "--model", OTHER, code=1).output
    assert "disk is full" in said, said
    monkeypatch.undo()
    assert _state(run) == before  # the old model, no mark, every vector
    assert run("search", "--json", str(photos[0])).stdout  # still answered


def test_an_index_run_finishes_a_switch_left_at_its_mark(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """A library an earlier version left with the mark alone (its old model's vectors
    intact): `imgsearch index`, as the refusal says, finishes the switch."""
    run = library_runner(tmp_path / "library", models_dir)
    photos = copy_photos(photo_paths(data_dir, 3), tmp_path / "photos")
    run("index", "--no-progress", str(tmp_path / "photos"))
    settings = Settings(library=tmp_path / "library", model_path=(models_dir,))
    with Library.open(settings) as library:
        library.store.health.set_reindex(OTHER)
    run("index", "--no-progress")
    assert _state(run) == (OTHER, None, 3)
    found = json.loads(run("search", "--json", str(photos[0])).stdout)["results"]
    assert found[0]["exact"], found[0]
