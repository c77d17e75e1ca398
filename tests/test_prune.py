"""Cached thumbnails and key points that no image needs any more: `remove` and `index` delete
those of the images they removed or replaced; `imgsearch prune` also those of sizes and
extraction versions no longer made, of images removed while a server was making them, and a
killed process's temporary files (the explore results' too). Everything a library image can
still ask for, and anything written in the last minute, is kept; the database is untouched; a
read-only library is refused."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from search.library import KeyPointCache, Library, ThumbnailCache
from search.settings import Settings
from tests.cli_process import run_cli
from tests.cli_runner import library_runner
from tests.indexer_helpers import copy_photos, photo_paths

HOURS_AGO = time.time() - 7200


def _contents(library: Path) -> dict[str, tuple[int, str]]:
    """``{file name: (id, sha256)}`` of the library's images."""
    with Library.open(Settings(library=library)) as opened:
        paths = {i: Path(opened.store.reads.file_of(i)[1]).name for i in _ids(opened)}
        return {paths[i]: (i, sha) for i, sha in opened.store.reads.contents().items()}


def _ids(opened: Library) -> list[int]:
    return sorted(opened.store.reads.contents())


def _old(*paths: Path) -> None:
    for path in paths:
        os.utime(path, (HOURS_AGO, HOURS_AGO))


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def library(tmp_path: Path, data_dir: Path, models_dir: Path):  # type: ignore[no-untyped-def]
    """Five indexed photos (two under ``old/``), each with a thumbnail and a key-point entry
    made while they were as indexed, all written two hours ago."""
    run = library_runner(tmp_path / "library", models_dir)
    pictures = tmp_path / "Pictures"
    photos = photo_paths(data_dir, 6)
    copy_photos(photos[:3], pictures)
    copy_photos(photos[3:5], pictures / "old")
    run("index", "--no-progress", str(pictures))
    settings = Settings(library=run.library)
    thumbnails = ThumbnailCache(settings.thumbnail_dir)
    key_points = KeyPointCache(settings.key_point_dir)
    made = {}
    for name, (image_id, sha) in _contents(run.library).items():
        thumbnail = thumbnails.get(image_id, next(pictures.rglob(name)), size=160, sha256=sha)
        entry = key_points.path_for(sha)
        entry.parent.mkdir(parents=True, exist_ok=True)
        entry.write_bytes(b"key points of " + name.encode())  # the names are what count
        _old(thumbnail, entry)
        made[name] = (thumbnail, entry)
    return run, pictures, photos[5], made


def test_remove_and_index_delete_the_cached_files_they_make_stale(library) -> None:  # type: ignore[no-untyped-def]
    run, pictures, other_photo, made = library
    old = sorted(p.name for p in (pictures / "old").glob("*.jpg"))
    stale = [path for name in old for path in made[name]]
    removed = json.loads(run("remove", "--json", str(pictures / "old")).stdout)
    assert (removed["removed"], removed["pruned"]) == (2, 4)
    assert not any(path.exists() for path in stale)
    assert all(path.exists() for name in made if name not in old for path in made[name])

    # A file replaced by another photo: the same image id, a new sha256; its old thumbnail
    # and key points can never be read again.
    replaced = sorted(pictures.glob("*.jpg"))[0]
    shutil.copyfile(other_photo, replaced)
    summary = json.loads(run("index", "--json", "--no-progress", str(pictures)).stdout)
    assert (summary["updated"], summary["pruned"]) == (1, 2)
    assert summary["pruned_bytes"] > 0
    assert not any(path.exists() for path in made[replaced.name])
    assert all(p.exists() for name in made if name not in {*old, replaced.name} for p in made[name])

    # Nothing removed or replaced: nothing walked, nothing deleted.
    again = json.loads(run("index", "--json", "--no-progress", str(pictures)).stdout)
    assert (again["updated"], again["removed"], again["pruned"]) == (0, 0, 0)


def test_prune_keeps_what_images_need_and_deletes_the_rest(library, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run, pictures, _, made = library
    settings = Settings(library=run.library)
    contents = _contents(run.library)
    thumbs, points = settings.thumbnail_dir, settings.key_point_dir
    explore = run.library / "explore"
    result = explore / "graph-30.npz"  # a result: kept, however old
    name = sorted(contents)[-1]
    live_id, live_sha = contents[name]

    # What a library no longer asks for, beside what it does: an image removed while a
    # server made its thumbnail again (it still had it in its results), other versions,
    # sizes and extractions, a killed process's temporary files.
    old = sorted(p.name for p in (pictures / "old").glob("*.jpg"))
    run("remove", str(pictures / "old"))
    stale = [
        *(path for old_name in old for path in made[old_name]),
        ThumbnailCache(thumbs).path_for(live_id, "0" * 16, 160),  # another version
        made[name][0].with_name(f"{live_id}-{'f' * 16}-77.jpg"),  # a size not served
        KeyPointCache(points).path_for(live_sha).with_name(f"{live_sha}-orb0-00000000.npz"),
        points / live_sha[:2] / ".tmp-killed.npz",
        thumbs / "0000" / ".tmp-killed.jpg",
        explore / "tmpk1ll3d.tmp",  # an explore result a full disk cut short
    ]
    for path in [*stale, result]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"stale")
        _old(path)
    fresh = KeyPointCache(points).path_for("ab" * 32)  # no image has it, written just now
    fresh.parent.mkdir(parents=True, exist_ok=True)
    fresh.write_bytes(b"a server's, for an image this prune cannot see yet")
    beside = thumbs / "README"  # not in a shard: never the cache's
    beside.write_text("mine")

    kept = [made[n] for n in contents if n not in old]
    needed_thumbs = {thumbnail.relative_to(thumbs).as_posix() for thumbnail, _ in kept}
    needed_points = {entry.relative_to(points).as_posix() for _, entry in kept}
    needed_points.add(fresh.relative_to(points).as_posix())
    all_thumbs, all_points = _files(thumbs), _files(points)
    assert needed_thumbs < all_thumbs and needed_points < all_points

    dry = json.loads(run("prune", "--dry-run", "--json").stdout)
    assert _files(thumbs) == all_thumbs and _files(points) == all_points  # nothing deleted
    by_cache = {c["cache"]: c for c in dry["caches"]}
    removed_thumbs = len(all_thumbs) - len(needed_thumbs) - 1  # the README is not counted
    assert by_cache["thumbnails"]["removed"] == removed_thumbs
    assert by_cache["key points"]["removed"] == len(all_points) - len(needed_points)
    assert (by_cache["explore results"]["removed"], by_cache["explore results"]["kept"]) == (1, 1)

    # As a user runs it: a separate process, from the library's parent folder.
    after = _contents(run.library)
    done = run_cli(["--library", "library", "prune"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"thumbnails: deleted {removed_thumbs} thumbnails" in done.stdout
    assert _files(thumbs) == needed_thumbs | {"README"}
    assert _files(points) == needed_points
    assert _files(explore) == {result.name}
    assert _contents(run.library) == after  # the database untouched
    empty_shards = [p for p in points.iterdir() if p.is_dir() and not any(p.iterdir())]
    assert not empty_shards

    again = json.loads(run("prune", "--json").stdout)
    assert [c["removed"] for c in again["caches"]] == [0, 0, 0]


def test_prune_refuses_a_read_only_library(library, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run, pictures, _, made = library
    run("remove", str(pictures / "old"))
    for path in made[sorted(p.name for p in (pictures / "old").glob("*.jpg"))[0]]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"made again by a server after the removal")
        _old(path)
    points = Settings(library=run.library).key_point_dir
    kept = _files(points)
    done = run_cli(
        ["--library", str(run.library), "prune"], cwd=tmp_path, env={"IMGSEARCH_READ_ONLY": "1"}
    )
    assert done.returncode == 1
    assert "read-only" in done.stderr and "Traceback" not in done.stderr
    assert _files(points) == kept
    missing = run_cli(["--library", str(tmp_path / "nowhere"), "prune"], cwd=tmp_path)
    assert missing.returncode == 1 and "no library database" in missing.stderr
    assert not (tmp_path / "nowhere").exists()
