"""A collection's folder replaced by a link to its new place is still one collection.

The photos moved to another disk and a link was left behind (``mv Pictures BigDisk && ln -s
BigDisk Pictures``): the plain nightly `imgsearch index` recorded a second collection at the
real path and kept the old one, reachable through the link - every file twice, each search
hit listed twice, `dedup` reporting every photo as a duplicate of itself, without a word."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cli_process import run_cli
from tests.indexer_helpers import copy_photos, photo_paths

pytestmark = pytest.mark.slow


def _ids_by_path(cwd: Path, query: Path, k: int) -> dict[str, int]:
    """The ids of the ``k`` hits of ``query`` by path (each file listed once)."""
    found = run_cli(["search", "--json", "-k", str(k), str(query)], cwd)
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)["results"]
    assert len(hits) == k, hits
    ids = {hit["path"]: hit["id"] for hit in hits}
    assert len(ids) == k, hits  # no file listed twice
    return ids


def _recorded_once(cwd: Path, real: Path, images: int) -> None:
    """One collection, at ``real``, with each file once; no file a duplicate of itself."""
    stats = json.loads(run_cli(["stats", "--json"], cwd).stdout)
    roots = [(c["root"], c["images"]) for c in stats["collections"]]
    assert roots == [(str(real), images)], roots
    assert (stats["images"], stats["vectors"]) == (images, images), stats
    report = run_cli(["dedup", "--format", "csv"], cwd)
    assert report.returncode == 0, report.stderr
    assert not report.stdout.strip().splitlines()[1:], report.stdout


@pytest.mark.parametrize("named", [False, True], ids=["nightly", "named"])
def test_a_folder_moved_behind_a_link_keeps_its_collection(
    tmp_path: Path, data_dir: Path, models_dir: Path, named: bool
) -> None:
    photos = photo_paths(data_dir, 3)
    copy_photos(photos, tmp_path / "Pictures")
    first = run_cli(["--model-path", str(models_dir), "index", "Pictures"], tmp_path)
    assert first.returncode == 0, first.stderr
    query = tmp_path / "Pictures" / photos[0].name
    before = _ids_by_path(tmp_path, query, 3)
    shutil.move(tmp_path / "Pictures", tmp_path / "BigDisk")
    (tmp_path / "Pictures").symlink_to("BigDisk")

    run = run_cli(["index", "--json", *(["Pictures"] if named else [])], tmp_path)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert (summary["added"], summary["copied"], summary["unchanged"]) == (0, 0, 3), summary
    (said,) = summary["warnings"]
    assert f"{tmp_path / 'Pictures'} is a link to {tmp_path / 'BigDisk'}" in said, said
    _recorded_once(tmp_path, tmp_path / "BigDisk", 3)
    after = _ids_by_path(tmp_path, query, 3)  # same rows, same vectors, at the real path
    assert after == {p.replace("/Pictures/", "/BigDisk/"): i for p, i in before.items()}
    again = json.loads(run_cli(["index", "--json"], tmp_path).stdout)
    assert (again["unchanged"], again["warnings"]) == (3, []), again


def test_two_collections_of_one_folder_become_one(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """A library the old runs left with both collections (or one indexed by each path): the
    next run folds them into one, each file keeping one row (the older), nothing embedded
    again; a removal recorded through the old path still holds."""
    photos = photo_paths(data_dir, 4)
    copy_photos(photos[:3], tmp_path / "Pictures")
    copy_photos(photos, tmp_path / "BigDisk")
    model = ["--model-path", str(models_dir)]
    for folder in ("Pictures", "BigDisk"):
        done = run_cli([*model, "index", folder], tmp_path)
        assert done.returncode == 0, done.stderr
    pictures, big = tmp_path / "Pictures", tmp_path / "BigDisk"
    before = _ids_by_path(tmp_path, pictures / photos[0].name, 7)
    removed = run_cli(["remove", str(pictures / photos[2].name)], tmp_path)
    assert removed.returncode == 0, removed.stderr
    shutil.rmtree(pictures)
    pictures.symlink_to("BigDisk")

    run = run_cli(["index", "--json"], tmp_path)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert (summary["added"], summary["copied"], summary["updated"]) == (0, 0, 0), summary
    # removed through the old path: still out (its row in BigDisk goes too)
    assert (summary["skipped_removed"], summary["removed"]) == (1, 1), summary
    (said,) = summary["warnings"]
    assert "merged into it" in said and "2 were recorded in both" in said, said
    _recorded_once(tmp_path, big, 3)
    after = _ids_by_path(tmp_path, big / photos[0].name, 3)
    kept = {  # the older rows (Pictures was indexed first), with their vectors
        str(big / photos[0].name): before[str(pictures / photos[0].name)],
        str(big / photos[1].name): before[str(pictures / photos[1].name)],
        str(big / photos[3].name): before[str(big / photos[3].name)],
    }
    assert after == kept, (after, before)


def test_a_folded_collection_keeps_its_excludes(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """`index Pictures --exclude private/`, the folder moved to BigDisk (indexed there too,
    before the excludes were thought of) and a link left: the fold dropped the old
    collection's patterns with it, and the nightly run put private/ back into search."""
    photos = photo_paths(data_dir, 4)
    for top in ("Pictures", "BigDisk"):
        copy_photos(photos[:2], tmp_path / top)
        copy_photos(photos[2:], tmp_path / top / "private")
    model = ["--model-path", str(models_dir)]
    for args in (["Pictures", "--exclude", "private/"], ["BigDisk"]):
        done = run_cli([*model, "index", *args], tmp_path)
        assert done.returncode == 0, done.stderr
    shutil.rmtree(tmp_path / "Pictures")
    (tmp_path / "Pictures").symlink_to("BigDisk")

    run = run_cli(["index", "--json"], tmp_path)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    (said,) = summary["warnings"]
    assert "merged into it" in said and "--exclude patterns kept: private/" in said, said
    assert summary["excludes"] == [
        {
            "collection": str(tmp_path / "BigDisk"),
            "patterns": ["private/"],
            "remembered": True,
            "replaced": [],
        }
    ], summary
    stats = json.loads(run_cli(["stats", "--json"], tmp_path).stdout)
    assert (stats["images"], stats["vectors"]) == (2, 2), stats  # private/ left out again
    again = json.loads(run_cli(["index", "--json"], tmp_path).stdout)
    assert (again["added"], again["unchanged"], again["warnings"]) == (0, 2, []), again


def test_a_subfolder_moved_behind_a_link_is_named_when_its_images_go(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """An audit moved `2019/` to another disk and linked it back: the nightly run said
    "4 removed" and nothing more (folder links are not followed without --follow-symlinks).
    It now names the link, the count, and what brings them back."""
    photos = photo_paths(data_dir, 3)
    copy_photos(photos[:2], tmp_path / "Pictures" / "2019")
    copy_photos(photos[2:], tmp_path / "Pictures" / "2020")
    assert run_cli(["--model-path", str(models_dir), "index", "Pictures"], tmp_path).returncode == 0
    shutil.move(tmp_path / "Pictures" / "2019", tmp_path / "disk" / "2019")
    (tmp_path / "Pictures" / "2019").symlink_to(tmp_path / "disk" / "2019")
    (tmp_path / "Pictures" / "empty-link").symlink_to(tmp_path / "disk")  # nothing indexed

    summary = json.loads(run_cli(["index", "--json"], tmp_path).stdout)
    assert (summary["removed"], summary["unchanged"]) == (2, 1), summary
    (said,) = summary["warnings"]
    target = tmp_path / "disk" / "2019"
    assert said == (
        f"{tmp_path / 'Pictures' / '2019'}: a link to a folder ({target}), not followed: its 2 "
        f"indexed images are removed from the library; index it as a collection of its own "
        f"(`imgsearch index {target}`)"
    )
    again = json.loads(run_cli(["index", "--json"], tmp_path).stdout)
    assert again["warnings"] == []


def test_a_link_to_a_folder_not_followed_is_said(tmp_path: Path, models_dir: Path, data_dir):  # type: ignore[no-untyped-def]
    """A folder linked into a collection (a phone's folder into Pictures) was left out without a
    word, even with -v (an audit): the summary names it and how to take it."""
    photos, elsewhere = tmp_path / "pictures", tmp_path / "phone"
    for folder, n in ((photos, 0), (elsewhere, 1)):
        folder.mkdir()
        source = sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[n]
        shutil.copyfile(source, folder / source.name)
    (photos / "phone").symlink_to(elsewhere)
    args = ["--library", "lib", "--model-path", str(models_dir), "index", "pictures"]
    done = run_cli([*args, "--no-progress"], tmp_path)
    assert done.returncode == 0, done.stderr
    said = done.stdout + done.stderr
    assert f"1 link to a folder not followed: {photos / 'phone'}" in said, said
    assert "--follow-symlinks" in said
    again = run_cli([*args, "--json"], tmp_path)
    assert json.loads(again.stdout)["unfollowed_links"] == [str(photos / "phone")]
