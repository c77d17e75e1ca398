"""A collection folder renamed since indexing: `imgsearch index NEW` indexes its photos at
their new paths, while the old folder's rows stay (a folder that is gone may be an unmounted
drive) until `imgsearch remove OLD`. An audit's `dedup` then listed every photo as an exact
copy of its own old row (60 groups, 60 "duplicates" marked FILE MISSING) and advised running
`imgsearch index`, which changes nothing there."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from search.dedup import DedupImage, find_duplicates, keep_present, leave_out_moved
from tests.cli_process import run_cli


def test_a_renamed_folder_is_no_folder_of_copies(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    old, new = tmp_path / "trip", tmp_path / "trip 2024"
    old.mkdir()
    sources = sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[:4:3]
    for source in sources:
        shutil.copyfile(source, old / source.name)
    shutil.copyfile(sources[0], old / "copy of the first.jpg")  # a real duplicate
    library = ["--library", "library", "--model-path", str(models_dir)]
    assert run_cli([*library, "index", "--no-progress", "trip"], tmp_path).returncode == 0
    old.rename(new)
    assert run_cli([*library, "index", "--no-progress", "trip 2024"], tmp_path).returncode == 0

    done = run_cli([*library, "dedup", "--json"], tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    groups = [g for g in report["groups"] if g["members"]]
    assert len(groups) == 1, report  # the real copy, once: no photo is a copy of its old row
    paths = {groups[0]["keeper"], *(m["path"] for m in groups[0]["members"])}
    assert all(Path(p).parent == new for p in paths), paths
    reason = groups[0]["reason"]
    assert "the same bytes as the best file by the rules" in reason or "gone" not in reason
    assert "3 row(s) of files no longer where they were indexed" in done.stderr, done.stderr
    assert "imgsearch remove FOLDER" in done.stderr


def test_a_gone_member_stays_when_no_file_there_holds_its_bytes() -> None:
    """Only a gone row whose bytes are a file of its group that is there is left out: a
    deleted copy of other bytes (a re-encoded one) stays listed, marked by the report."""
    images = [
        DedupImage(1, "/new/a.jpg", 9, 4, 3, sha256="a"),
        DedupImage(2, "/old/a.jpg", 9, 4, 3, sha256="a"),  # moved: its bytes are /new/a.jpg
        DedupImage(3, "/old/a small.jpg", 5, 2, 1, sha256="b"),  # deleted, other bytes
    ]
    vectors = [[1.0, 0.0]] * 3
    import numpy as np

    result = find_duplicates(images, np.array(vectors, np.float32))
    gone = {"/old/a.jpg", "/old/a small.jpg"}
    kept = leave_out_moved(keep_present(result, gone.__contains__), gone.__contains__)
    (group,) = kept.groups
    assert group.keeper.path == "/new/a.jpg"
    assert [m.image.path for m in group.members] == ["/old/a small.jpg"]
    assert kept.stats["moved_left_out"] == 1
    assert leave_out_moved(result, lambda path: False) is result  # all there: unchanged


def test_a_touched_file_is_no_changed_file(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """A file whose modification time moved but whose bytes did not (`touch`, a copy made
    without its times) stays in its group: `dedup` left such files out as "changed since
    indexing (their files hold other bytes now)" - 41 of README's quick-start library once
    ../shared was copied again - and warned that the report did not match the disk. A file
    of other bytes of the same size is still left out."""
    import os

    photos = tmp_path / "photos"
    photos.mkdir()
    source = sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[0]
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        shutil.copyfile(source, photos / name)
    library = ["--library", "library", "--model-path", str(models_dir)]
    assert run_cli([*library, "index", "--no-progress", "photos"], tmp_path).returncode == 0
    later = (photos / "b.jpg").stat().st_mtime + 3600
    os.utime(photos / "b.jpg", (later, later))
    data = bytearray((photos / "c.jpg").read_bytes())
    data[len(data) // 2] ^= 0xFF  # other bytes, the same size
    (photos / "c.jpg").write_bytes(bytes(data))
    os.utime(photos / "c.jpg", (later, later))

    done = run_cli([*library, "dedup", "--json"], tmp_path)
    assert done.returncode == 0, done.stderr
    (group,) = json.loads(done.stdout)["groups"]
    listed = {Path(group["keeper"]).name, *(Path(m["path"]).name for m in group["members"])}
    assert listed == {"a.jpg", "b.jpg"}, group
    assert "1 file(s) changed since indexing were left out" in done.stderr, done.stderr
    assert "no longer as indexed" not in done.stderr, done.stderr
