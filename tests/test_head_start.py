"""`imgsearch index` of a new library decodes its first photos before the library is opened
(indexer/head_start.py): the first decode comes before SQLAlchemy is even imported, and the
library it makes holds exactly what a run without the head start writes."""

from __future__ import annotations

import json
import re
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


def learned_state(library: Path) -> dict[str, tuple[str, bytes]]:
    """What the library learned (whitening, calibration): key -> (fingerprint, data)."""
    db = sqlite3.connect(f"file:{library / 'imgsearch.sqlite3'}?mode=ro", uri=True)
    try:
        return {
            k: (f, d)
            for k, f, d in db.execute("SELECT key, fingerprint, data FROM descriptor_state")
        }
    finally:
        db.close()


def index_twice(
    tmp_path: Path, models_dir: Path, photos: Path, descriptor: str
) -> tuple[dict, dict]:  # type: ignore[type-arg]
    """``imgsearch -v index`` of ``photos`` into a new library (``new``: head start) and into
    one made before the run (``old``); their JSON summaries."""
    empty = tmp_path / "empty"
    empty.mkdir(exist_ok=True)
    args = ["--model-path", str(models_dir), "index", "--json", "--no-progress"]
    args += ["--descriptor", descriptor]
    new = run_cli(["-v", "--library", "new", *args, str(photos)], tmp_path)
    assert new.returncode == 0, new.stderr
    assert "INFO indexer.head_start: the first file goes to the decoders" in new.stderr
    used = re.search(
        r"(\d+) files were read and decoded before the library was opened, "
        r"\1 of them used",
        new.stderr,
    )
    assert used is not None and int(used.group(1)) > 50, new.stderr  # none decoded twice
    for folder in (empty, photos):
        old = run_cli(["-v", "--library", "old", *args, str(folder)], tmp_path)
        assert old.returncode == 0, old.stderr
    assert "indexer.head_start" not in old.stderr
    return json.loads(new.stdout), json.loads(old.stdout)


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


def test_a_new_librarys_first_decode_comes_before_sqlalchemy_is_imported(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    photos = copy_photos(photo_paths(data_dir, 3), tmp_path / "photos")[0].parent
    args = ["-v", "--library", "lib", "--model-path", str(models_dir), "index", str(photos)]
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
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
    assert "3 added" in done.stdout


@pytest.mark.slow
def test_a_new_library_made_with_early_decodes_holds_the_same_rows(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    photos = photo_set(data_dir, tmp_path / "photos")
    new, old = index_twice(tmp_path, models_dir, photos, "whiten=off")
    for key in ("added", "failed", "copied", "images_total", "failed_total"):
        assert new[key] == old[key], key
    assert (new["added"], new["failed"], new["copied"]) == (52, 1, 1)
    rows = library_rows(tmp_path / "new")
    assert sum(row[-2] is not None for row in rows.values()) >= 3  # framed photos among them
    assert rows == library_rows(tmp_path / "old")  # the same bytes: vectors bit for bit


@pytest.mark.slow
def test_a_new_library_that_learns_its_whitening_learns_the_same_from_early_decodes(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """From 100 photos a first run learns the whitening from edits of its photos made from
    their decodes: the head start's early decodes give the same edits, whitening and rows."""
    photos = tmp_path / "photos"
    copy_photos(photo_paths(data_dir, 100), photos)
    new, old = index_twice(tmp_path, models_dir, photos, "default")
    assert new["learn_photos"] == old["learn_photos"] == 100
    assert new["learn_edits"] == old["learn_edits"] > 0
    learned = learned_state(tmp_path / "new")
    assert {"whitening", "calibration"} <= learned.keys()
    assert learned == learned_state(tmp_path / "old")
    assert library_rows(tmp_path / "new") == library_rows(tmp_path / "old")


@pytest.mark.slow
def test_an_existing_library_gets_no_head_start_and_reads_only_what_changed(
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
    # nothing to do: no speed is made up for it ("0 files processed in 0.2 s (0.0 img/s)")
    idle = run_cli([*args, str(photos)], tmp_path)
    assert idle.returncode == 0, idle.stderr
    first_line = idle.stdout.splitlines()[0]
    assert first_line.startswith("0 files processed in ") and "img/s" not in first_line
    assert first_line.endswith(": 0 added, 0 updated, 0 moved, 0 removed, 0 failed, 4 unchanged")


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
