"""`imgsearch index` / `reindex` on the command line: hostile files recorded as failed with
their reasons while the rest is indexed, hidden files, excludes, symlink loops, the library
inside its own collection, the JSON summary, model switching."""

from __future__ import annotations

import io
import json
import os
import re
import struct
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from cli.main import cli
from search.library import Library
from search.settings import Settings
from tests.cli_process import ENTRY, REPO, run_on_a_terminal
from tests.indexer_helpers import copy_photos, photo_paths

REQUIRED_KEYS = {"added", "updated", "moved", "removed", "failed", "images_per_second"}


def png_bomb(width: int = 60_000, height: int = 60_000) -> bytes:
    """A valid 1x1 PNG whose header claims ``width`` x ``height`` (CRC fixed up)."""
    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


@pytest.fixture
def run(tmp_path: Path, models_dir: Path):  # type: ignore[no-untyped-def]
    library = tmp_path / "library"

    def invoke(*args: str, ok: bool = True):  # type: ignore[no-untyped-def]
        result = CliRunner().invoke(
            cli,
            ["--library", str(library), "--model-path", str(models_dir), *args],
            catch_exceptions=False,
        )
        if ok:
            assert result.exit_code == 0, result.output
        return result

    invoke.library = library  # type: ignore[attr-defined]
    return invoke


def index_json(run, *args: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    result = run("index", "--json", "--no-progress", *args)
    summary = json.loads(result.stdout)
    assert summary.keys() >= REQUIRED_KEYS
    return summary


def test_hostile_files_are_recorded_and_the_rest_is_indexed(run, tmp_path, data_dir) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "photos"
    good = copy_photos(photo_paths(data_dir, 4), root)
    jpeg = good[0].read_bytes()
    (root / "empty.jpg").write_bytes(b"")
    (root / "text.png").write_bytes(b"hello, I am not a picture\n")
    (root / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 3])
    (root / "bomb.png").write_bytes(png_bomb())
    (root / "jpeg-named.png").write_bytes(jpeg[::-1][::-1])  # right bytes, wrong extension
    (root / "notes.txt").write_text("never opened")
    (root / "album.jpg").mkdir()  # a folder with an image-like name is just walked
    (root / "album.jpg" / "inside.jpg").write_bytes(good[1].read_bytes())

    summary = index_json(run, str(root))
    assert (summary["added"], summary["failed"], summary["copied"]) == (6, 4, 2)
    reasons = {Path(f["path"]).name: f["error"].split(":")[0] for f in summary["failures"]}
    assert reasons == {
        "empty.jpg": "empty",
        "text.png": "not_an_image",
        "truncated.jpg": "truncated",
        "bomb.png": "too_many_pixels",
    }
    with Library.open(Settings(library=run.library)) as library:
        failed = {img.rel_path: img.error for img in library.store.reads.failed()}
        assert set(failed) == set(reasons) and failed["bomb.png"].startswith("too_many_pixels")
        assert library.store.counts() == {"images": 6, "failed": 4, "vectors": 6}
        image = library.store.reads.image(library.store.reads.image_id_at(root / "jpeg-named.png"))
        assert image is not None and image.format == "JPEG"

    # failed files are not retried while unchanged; a repaired one is picked up
    again = index_json(run, str(root))
    assert (again["failed"], again["unchanged"], again["added"]) == (0, 10, 0)
    (root / "truncated.jpg").write_bytes(good[2].read_bytes() + b"\0")
    fixed = index_json(run, str(root))
    assert (fixed["updated"], fixed["failed"], fixed["failed_total"]) == (1, 0, 3)

    text = run("index", "--no-progress", str(root / "album.jpg")).output
    # a folder of a collection indexed as a collection of its own takes its rows (once)
    assert "1 moved" in text and "0 failed" in text
    # the library's own failures, said apart from this run's
    assert "library: 7 images indexed, 3 files it could not index (`imgsearch stats`" in text
    (root / "album.jpg" / "bad.jpg").write_bytes(b"\xff\xd8\xff garbage")
    text = run("index", "--no-progress", str(root / "album.jpg")).output
    assert "1 failed" in text and "bad.jpg: not_an_image" in text


def test_hidden_excluded_loops_and_the_library_itself(run, tmp_path, data_dir, models_dir) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "photos"
    photos = photo_paths(data_dir, 6)
    copy_photos(photos[:2], root)
    copy_photos(photos[2:3], root / ".hidden-dir")
    (root / ".hidden.jpg").write_bytes(photos[3].read_bytes())
    copy_photos(photos[3:4], root / "raw")
    copy_photos(photos[4:5], root / "sub" / "tmp")
    copy_photos(photos[5:6], root / "sub")
    os.symlink(root, root / "sub" / "loop")
    os.symlink(root / "sub", root / "sub" / "tmp" / "back")

    summary = index_json(
        run, "--follow-symlinks", "--exclude", "raw", "--exclude", "*/tmp/*", str(root)
    )
    assert summary["added"] == 3 and summary["failed"] == 0
    assert sum("symlink loop" in w for w in summary["warnings"]) >= 1
    with Library.open(Settings(library=run.library)) as library:
        rels = sorted(img.rel_path for img in library.store.reads.images(range(1, 50)).values())
    assert rels == sorted([photos[0].name, photos[1].name, f"sub/{photos[5].name}"])

    # a library inside the collection: its own files (thumbnails, db) are never indexed
    inner = root / "sub" / "imgsearch-library"
    copy_photos(photos[:1], inner / "thumbnails")
    result = CliRunner().invoke(
        cli,
        [
            "--library",
            str(inner),
            "--model-path",
            str(models_dir),
            "index",
            "--json",
            "--no-progress",
            str(root),
        ],
    )
    assert result.exit_code == 0, result.output
    inner_summary = json.loads(result.stdout)
    assert inner_summary["added"] == 5  # root, sub, raw, sub/tmp images; no thumbnail


@pytest.mark.slow
def test_reindex_switches_the_model_and_reembeds(run, tmp_path, data_dir) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "photos"
    copy_photos(photo_paths(data_dir, 3), root)
    assert index_json(run, str(root))["added"] == 3
    refused = run("index", "--model", "mobilenet_v3_small_075", str(root), ok=False)
    assert refused.exit_code == 1 and "reindex --model mobilenet_v3_small_075" in refused.output
    result = run("reindex", "--model", "mobilenet_v3_small_075", "--json", "--no-progress")
    summary = json.loads(result.stdout)
    assert (summary["updated"], summary["added"], summary["failed"]) == (3, 0, 0)
    with Library.open(Settings(library=run.library)) as library:
        assert library.model_stamp().name == "mobilenet_v3_small_075"
        assert library.store.counts()["vectors"] == 3
    assert index_json(run)["unchanged"] == 3  # no PATH: every known collection
    assert index_json(run, "--index", "hnsw")["unchanged"] == 3
    with Library.open(Settings(library=run.library)) as library:
        assert library.index().kind == "hnsw" and library.index().ntotal == 3
    (root / "sub").mkdir()
    nested = index_json(run, str(root / "sub"))
    assert any("lies inside the collection" in w for w in nested["warnings"])


def test_errors_are_clear(run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    missing = run("index", str(tmp_path / "nope"), ok=False)
    assert missing.exit_code == 2 and "no such directory" in missing.output  # a usage error
    assert "Traceback" not in missing.output
    empty = run("index", ok=False)
    assert empty.exit_code == 1 and "no collections yet" in empty.output


def _run_on_a_terminal(args: list[str]) -> str:
    """Run the CLI with stderr on a 30x100 pseudo-terminal; return what the terminal got."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return run_on_a_terminal([*ENTRY, *args], env)


@pytest.mark.slow
def test_progress_bar_on_a_terminal_only(tmp_path, data_dir, models_dir) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "photos"
    copy_photos(photo_paths(data_dir, 8), root)
    common = ["--library", str(tmp_path / "lib"), "--model-path", str(models_dir), "index"]
    shown = _run_on_a_terminal([*common, str(root)])
    final = [line for line in shown.replace("\r", "\n").splitlines() if "indexing:" in line][-1]
    assert "8/8" in final and "img/s" in final and "100%" in final  # count, rate, [ETA]
    (root / "new.jpg").write_bytes(photo_paths(data_dir, 9)[8].read_bytes())
    quiet = _run_on_a_terminal([*common, "--no-progress", str(root)])
    assert "indexing:" not in quiet and "scanning:" not in quiet


def test_the_readmes_exclude_example(run, tmp_path, data_dir) -> None:  # type: ignore[no-untyped-def]
    """`imgsearch index DIR --exclude PATTERN` exactly as README's "Using it" shows it."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    example = re.search(r"^imgsearch index ~/Pictures --exclude '([^']+)'", readme, re.M)
    assert example, "README shows an --exclude example"
    root = tmp_path / "Pictures"
    photos = photo_paths(data_dir, 5)
    copy_photos(photos[0:1], root)
    copy_photos(photos[1:2], root / "tmp")
    copy_photos(photos[2:3], root / "2024" / "tmp")
    copy_photos(photos[3:4], root / "2024" / "trip" / "tmp" / "deeper")
    copy_photos(photos[4:5], root / "tmpfiles")
    summary = index_json(run, str(root), "--exclude", example.group(1))
    assert summary["added"] == 2
    with Library.open(Settings(library=run.library)) as library:
        rels = sorted(img.rel_path for img in library.store.reads.images(range(1, 50)).values())
    assert rels == sorted([photos[0].name, f"tmpfiles/{photos[4].name}"])


@pytest.mark.parametrize("pattern", ["!", "[", "photos/[ab"])
def test_a_bad_exclude_pattern_fails_before_any_work(run, tmp_path, pattern) -> None:  # type: ignore[no-untyped-def]
    """A pattern that is invalid or can never match (an unclosed '[') is a usage error."""
    result = run("index", str(tmp_path), "--exclude", pattern, ok=False)
    assert result.exit_code == 2 and "Invalid value for '--exclude'" in result.output
    assert not run.library.exists()


def test_an_index_run_leaves_the_decoders_cores(monkeypatch):
    from cli.index_cmds import indexing_threads
    from search.settings import Settings

    monkeypatch.setattr("cli.index_cmds.usable_cores", lambda: 2)
    assert indexing_threads(Settings.from_env({})) == 1  # the other core decodes
    monkeypatch.setattr("cli.index_cmds.usable_cores", lambda: 16)
    assert indexing_threads(Settings.from_env({})) == 8
    assert indexing_threads(Settings.from_env({"IMGSEARCH_THREADS": "3"})) == 3
