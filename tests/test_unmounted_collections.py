"""A collection on a drive that is not mounted loses nothing.

`imgsearch reindex` with a collection's folder not there (a drive not mounted) dropped every
vector, embedded the collections that were there, and left the library refusing every search
("a re-index ... was interrupted; run `imgsearch index` to finish it", which could not: the
missing folder's images stayed without vectors). With every folder gone it dropped them all
and then failed. It is now refused before anything changes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cli_process import AS_USER, CANNOT_DROP_ROOT, run_cli
from tests.indexer_helpers import copy_photos, photo_paths

pytestmark = pytest.mark.slow


def test_reindex_refuses_a_library_with_a_collection_not_there(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    photos = photo_paths(data_dir, 4)
    copy_photos(photos[:2], tmp_path / "here")
    copy_photos(photos[2:], tmp_path / "drive")
    done = run_cli(["--model-path", str(models_dir), "index", "here", "drive"], tmp_path)
    assert done.returncode == 0, done.stderr
    query = str(tmp_path / "here" / photos[0].name)
    shutil.move(tmp_path / "drive", tmp_path / "unplugged")
    for args in (["reindex"], ["reindex", "--model", "mobilenet_v3_small_075"]):
        refused = run_cli(args, tmp_path)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        (line,) = refused.stderr.strip().splitlines()
        assert "drive is not there" in line and "nothing was changed" in line, line
        assert "imgsearch remove" in line, line
    stats = json.loads(run_cli(["stats", "--json"], tmp_path).stdout)
    assert (stats["images"], stats["vectors"]) == (4, 4), stats
    found = run_cli(["search", query, "--json"], tmp_path)
    assert found.returncode == 0, found.stderr
    shutil.move(tmp_path / "unplugged", tmp_path / "drive")
    again = run_cli(["reindex", "--json"], tmp_path)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["updated"] == 4


def test_an_empty_mount_point_keeps_its_collection(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """A drive not mounted leaves its mount point, an empty folder: a nightly `imgsearch
    index` removed every image of the collection ("6 removed"), to embed them all again once
    the drive was back. They are kept, with a warning that says how to drop them."""
    photos = photo_paths(data_dir, 3)
    mount = tmp_path / "mnt" / "photos"
    copy_photos(photos, mount)
    done = run_cli(["--model-path", str(models_dir), "index", "mnt/photos"], tmp_path)
    assert done.returncode == 0, done.stderr
    shutil.move(mount, tmp_path / "drive")
    mount.mkdir()
    (mount / "lost+found").mkdir()
    for args in (["index", "--json"], ["index", "--json", "mnt/photos"]):
        run = run_cli(args, tmp_path)
        assert run.returncode == 0, run.stderr
        summary = json.loads(run.stdout)
        assert summary["removed"] == 0, summary
        (warning,) = summary["warnings"]
        assert "no image or video files in it now" in warning and "3 images are kept" in warning
        assert f"imgsearch remove {mount}" in warning
    stats = json.loads(run_cli(["stats", "--json"], tmp_path).stdout)
    assert (stats["images"], stats["vectors"]) == (3, 3), stats
    shutil.rmtree(mount)
    shutil.move(tmp_path / "drive", mount)
    (mount / photos[0].name).unlink()  # a real deletion is still seen
    back = json.loads(run_cli(["index", "--json"], tmp_path).stdout)
    assert (back["removed"], back["unchanged"]) == (1, 2), back


def test_a_folder_emptied_by_exclude_or_with_other_files_is_still_taken_out(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """Only a folder with no file at all keeps its images: a folder whose photos were deleted
    beside a notes file removes them, as before; `--exclude '*.jpg'` leaving out every file is
    refused (it removed them with exit 0: `remove a --yes` drops a collection)."""
    photos = photo_paths(data_dir, 2)
    copy_photos(photos, tmp_path / "a")
    copy_photos(photos, tmp_path / "b")
    base = ["--model-path", str(models_dir), "index", "--json"]
    assert run_cli([*base, "a", "b"], tmp_path).returncode == 0
    refused = run_cli([*base, "--exclude", "*.jpg", "a"], tmp_path)
    assert refused.returncode == 1 and "leaves out every file of" in refused.stderr
    for photo in photos:
        (tmp_path / "b" / photo.name).unlink()
    (tmp_path / "b" / "notes.txt").write_text("moved to the NAS")
    emptied = json.loads(run_cli([*base, "b"], tmp_path).stdout)
    assert emptied["removed"] == 2, emptied


def test_reindex_refuses_an_empty_mount_point(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """A drive not mounted leaves an empty mount point, which `index` keeps like a folder
    that is not there: `reindex` dropped every vector, embedded the other collection, exited
    0 and left every search refused. It is refused before anything changes."""
    photos = photo_paths(data_dir, 4)
    copy_photos(photos[:2], tmp_path / "here")
    mount = tmp_path / "mnt" / "drive"
    copy_photos(photos[2:], mount)
    done = run_cli(["--model-path", str(models_dir), "index", "here", "mnt/drive"], tmp_path)
    assert done.returncode == 0, done.stderr
    shutil.move(mount, tmp_path / "unplugged")
    mount.mkdir()
    (mount / "lost+found").mkdir()
    refused = run_cli(["reindex"], tmp_path)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    (line,) = refused.stderr.strip().splitlines()
    assert f"{mount} holds no image or video files now" in line, line
    assert f"imgsearch remove {mount}" in line and "nothing was changed" in line, line
    stats = json.loads(run_cli(["stats", "--json"], tmp_path).stdout)
    assert (stats["images"], stats["vectors"]) == (4, 4), stats
    found = run_cli(["search", str(tmp_path / "here" / photos[0].name), "--json"], tmp_path)
    assert found.returncode == 0, found.stderr


def _interrupted_reindex(tmp_path: Path, models_dir: Path) -> None:
    """A `reindex` killed right after it dropped the vectors (before any was embedded)."""
    from search.library import Library
    from search.settings import Settings

    settings = Settings(library=tmp_path / "imgsearch-library", model_path=(models_dir,))
    with Library.open(settings) as library:
        library.switch_model("mobilenet_v3_small_075")


@pytest.mark.parametrize("unplugged", ["gone", "empty"])
def test_an_unfinished_reindex_names_the_folder_it_waits_for(
    tmp_path: Path, data_dir: Path, models_dir: Path, unplugged: str
) -> None:
    """An interrupted re-index, then a collection's folder taken away: `index` printed
    "library: 4 images indexed" and exited 0 with 2 of them unembedded, and every search was
    refused with "run `imgsearch index` to finish it", which could not. `index` now fails
    naming the folder and the way out, searches say the same, and `remove` of that
    collection lets them answer again."""
    photos = photo_paths(data_dir, 4)
    copy_photos(photos[:2], tmp_path / "here")
    drive = tmp_path / "drive"
    copy_photos(photos[2:], drive)
    done = run_cli(["--model-path", str(models_dir), "index", "here", "drive"], tmp_path)
    assert done.returncode == 0, done.stderr
    _interrupted_reindex(tmp_path, models_dir)
    shutil.move(drive, tmp_path / "unplugged")
    if unplugged == "empty":
        drive.mkdir()
    why = "is not there" if unplugged == "gone" else "holds no files now"
    way_out = f"`imgsearch remove {drive}`"

    run = run_cli(["index", "--json"], tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    summary = json.loads(run.stdout)  # what the run did is still reported
    assert summary["updated"] == 2 and summary["images_total"] == 4, summary
    assert summary["reindex_unfinished"] in run.stderr, run.stderr
    (line,) = run.stderr.strip().splitlines()
    assert f"2 images of {drive} have no vector" in line and why in line, line
    assert way_out in line, line

    query = str(tmp_path / "here" / photos[0].name)
    refused = run_cli(["search", query], tmp_path)
    assert refused.returncode == 1, refused.stdout
    assert "run `imgsearch index` to finish it" not in refused.stderr, refused.stderr
    assert f"{drive} have no vector" in refused.stderr and why in refused.stderr
    assert way_out in refused.stderr, refused.stderr

    removed = run_cli(["remove", "--yes", str(drive)], tmp_path)
    assert removed.returncode == 0, removed.stderr
    found = run_cli(["search", query, "--json"], tmp_path)
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["results"][0]["path"] == query


@pytest.mark.skipif(CANNOT_DROP_ROOT, reason="root without setpriv: modes do not apply")
def test_an_unreadable_folder_in_nested_collections_is_one_warning(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """An audit's `chmod 000` of a collection inside two others: the same "cannot list
    folder" warning three times (one per collection's walk), after a first one guessing "a
    drive not mounted?" and suggesting `imgsearch remove`. One warning now; its images kept."""
    photos = photo_paths(data_dir, 3)
    inner = tmp_path / "coll" / "a" / "b"
    copy_photos(photos[:1], tmp_path / "coll" / "a")
    copy_photos(photos[1:], inner)
    folders = ["coll", "coll/a", "coll/a/b"]
    done = run_cli(["--model-path", str(models_dir), "index", *folders], tmp_path)
    assert done.returncode == 0, done.stderr
    inner.chmod(0)
    try:
        run = run_cli(["index", "--json"], tmp_path, prefix=AS_USER)
    finally:
        inner.chmod(0o755)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["removed"] == 0, summary
    assert summary["warnings"] == [f"{inner}: cannot list folder (Permission denied); skipped"]
