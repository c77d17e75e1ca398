"""A link and the file it leads to are one file, not two copies: an audit's `dedup` made a
favourites folder's link the keeper and listed the photo itself as its duplicate - deleting
the "duplicate" deleted the only copy and left a broken link."""

from __future__ import annotations

import csv
import io
import os
import shutil
from pathlib import Path

import numpy as np

from search.dedup import DedupImage, find_duplicates, one_entry_per_file
from tests.cli_process import run_cli


def test_links_to_a_file_of_the_group_are_left_out_and_never_keep_it(tmp_path: Path) -> None:
    photo = tmp_path / "2024" / "IMG_0001.jpg"
    photo.parent.mkdir()
    photo.write_bytes(b"the photo")
    (tmp_path / "0_favourites").mkdir()
    link = tmp_path / "0_favourites" / "best_of.jpg"
    link.symlink_to(photo)
    hard = tmp_path / "2024" / "IMG_0001 hard link.jpg"
    os.link(photo, hard)
    copy = tmp_path / "backup" / "IMG_0001.jpg"
    copy.parent.mkdir()
    copy.write_bytes(b"the photo")  # a real second copy: its own file
    paths = [link, photo, hard, copy]  # the link sorts first: every rule ties, path decides
    images = [DedupImage(i + 1, str(p), 9, 4, 3, sha256="same") for i, p in enumerate(paths)]
    vectors = np.tile(np.eye(1, 8, dtype=np.float32), (4, 1))
    before = find_duplicates(images, vectors)
    assert before.groups[0].keeper.path == str(link)

    after = one_entry_per_file(before)
    (group,) = after.groups
    assert group.keeper.path in (str(photo), str(hard))  # two names of the file: either
    assert group.reason.endswith(f"{link} is a link to it")
    assert [m.image.path for m in group.members] == [str(copy)]
    assert after.stats["links_left_out"] == 2 and after.stats["duplicates"] == 1
    plain = find_duplicates(images[1:2] + images[3:], vectors[:2])
    assert one_entry_per_file(plain) is plain  # no two entries of one file: as it was


def test_dedup_never_lists_a_photo_as_the_duplicate_of_a_link_to_it(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    photos = tmp_path / "photos"
    (photos / "2024").mkdir(parents=True)
    (photos / "0_favourites").mkdir()
    shutil.copyfile(
        data_dir / "ukbench_subset" / "images" / "ukbench00010.jpg", photos / "2024" / "a.jpg"
    )
    (photos / "0_favourites" / "best.jpg").symlink_to("../2024/a.jpg")
    library = ["--library", str(tmp_path / "library"), "--model-path", str(models_dir)]
    assert run_cli([*library, "index", "photos"], tmp_path).returncode == 0
    done = run_cli([*library, "dedup", "--format", "csv"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert list(csv.DictReader(io.StringIO(done.stdout))) == []  # one file: no duplicate
    assert "1 link(s) to files of their group were left out" in done.stderr
