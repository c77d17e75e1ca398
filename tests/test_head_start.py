"""`imgsearch index` of a new library decodes its first photos before the library is opened
(indexer/head_start.py): the first decode comes before SQLAlchemy is even imported, and the
library it makes holds exactly what a run without the head start writes."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_process import REPO, cli_env, run_cli
from tests.indexer_helpers import copy_photos, photo_paths

PROBE = """
import logging, sys
class Seen(logging.Filter):
    def filter(self, record):
        if 'first file goes to the decoders' in record.getMessage():
            sys.__stderr__.write('SQLALCHEMY_LOADED %s\\n' % ('sqlalchemy' in sys.modules))
        return True
for name in ('indexer.head_start', 'indexer.pipeline'):
    logging.getLogger(name).addFilter(Seen())
sys.argv = ['imgsearch', *sys.argv[1:]]
from cli.main import main
main()
"""


def photo_set(data_dir: Path, folder: Path) -> Path:
    """Photos of every kind a run meets: web-size JPEGs, framed photos (screenshots,
    captions), PNG and WebP, a byte copy, a truncated file, a video-named non-video."""
    copy_photos(photo_paths(data_dir, 12), folder / "ants")
    copy_photos(sorted((data_dir / "near_duplicates").rglob("*.*"))[:40], folder / "near")
    first = sorted((folder / "ants").iterdir())[0]
    shutil.copyfile(first, folder / "copy_of_first.jpg")
    (folder / "truncated.jpg").write_bytes(first.read_bytes()[:3000])
    return folder


def library_rows(library: Path) -> dict[str, tuple[object, ...]]:
    """Every image row by path, with its vector, framed-photo row and labels (ids, times and
    collection numbers left out)."""
    db = sqlite3.connect(f"file:{library / 'imgsearch.sqlite3'}?mode=ro", uri=True)
    try:
        rows: dict[str, tuple[object, ...]] = {}
        for row in db.execute(
            "SELECT i.id, i.rel_path, i.file_size, i.mtime_ns, i.sha256, i.pixel_sha256, "
            "i.width, i.height, i.format, i.exif_datetime, i.status, i.error, "
            "i.quality_flags, i.brightness, i.contrast, i.luma_p5, i.luma_p95, i.sharpness, "
            "e.vector, f.left, f.top, f.right, f.bottom, f.fill, f.dominant, f.vector "
            "FROM images i LEFT JOIN embeddings e ON e.image_id = i.id "
            "LEFT JOIN image_frames f ON f.image_id = i.id"
        ):
            labels = db.execute(
                "SELECT rank, label, score FROM image_labels WHERE image_id = ? ORDER BY rank",
                (row[0],),
            ).fetchall()
            rows[row[1]] = (*row[2:], tuple(labels))
        return rows
    finally:
        db.close()


@pytest.mark.slow
def test_a_new_library_decodes_before_sqlalchemy_and_writes_the_same_rows(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    photos = photo_set(data_dir, tmp_path / "photos")
    empty = tmp_path / "empty"
    empty.mkdir()
    common = ["--model-path", str(models_dir)]
    index = ["index", "--json", "--no-progress", "--descriptor", "whiten=off"]

    # a new library: the head start decodes while SQLAlchemy loads
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "-v", "--library", "new", *common, *index, str(photos)],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "SQLALCHEMY_LOADED False" in done.stderr, done.stderr
    assert "INFO indexer.head_start: the first file goes to the decoders" in done.stderr
    early = json.loads(done.stdout)

    # the same photos into a library that existed before the run: no head start
    for folder in (empty, photos):
        run = run_cli(["-v", "--library", "old", *common, *index, str(folder)], tmp_path)
        assert run.returncode == 0, run.stderr
    assert "indexer.head_start" not in run.stderr
    assert "INFO indexer.pipeline: the first file goes to the decoders" in run.stderr
    late = json.loads(run.stdout)

    for key in ("added", "failed", "copied", "images_total", "failed_total"):
        assert early[key] == late[key], key
    assert (early["added"], early["failed"], early["copied"]) == (52, 1, 1)
    new, old = library_rows(tmp_path / "new"), library_rows(tmp_path / "old")
    assert new.keys() == old.keys()
    assert sum(row[-2] is not None for row in new.values()) >= 3  # framed photos among them
    for path in new:
        assert new[path] == old[path], path  # the same bytes: vectors bit for bit


def test_an_existing_library_or_another_executor_gets_no_head_start(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    photos = copy_photos(photo_paths(data_dir, 3), tmp_path / "photos")[0].parent
    args = ["-v", "--library", "lib", "--model-path", str(models_dir), "index", "--no-progress"]
    first = run_cli([*args, str(photos)], tmp_path)
    assert first.returncode == 0, first.stderr
    assert "indexer.head_start: the first file" in first.stderr
    (photos / "more.jpg").write_bytes(photo_paths(data_dir, 4)[3].read_bytes())
    again = run_cli([*args, str(photos)], tmp_path)
    assert again.returncode == 0, again.stderr
    assert "indexer.head_start" not in again.stderr
    assert "1 added" in again.stdout and "3 unchanged" in again.stdout


def test_head_start_is_importable_without_sqlalchemy() -> None:
    code = (
        "import sys, indexer.head_start; "
        "print(sorted(m for m in ('sqlalchemy', 'onnxruntime', 'faiss') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=cli_env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
