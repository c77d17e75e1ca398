"""Plain `imgsearch dedup` does not group two different photos that `lookup` calls look-alikes.

A new user's audit ran README's `imgsearch dedup` on the quick-start library: 4 of its 8 groups
were two different photos (two ants, two bees on flowers) at copy scores 0.65-0.85, each
listing one photo as a duplicate to delete, while `lookup` called the same pairs look-alikes.
Pairs over the threshold that the vectors do not make sure are now put to the check a search
puts its hits to (layouts alike, or key points that find one transform).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from tests.cli_process import run_cli

pytest.importorskip("cv2")
pytestmark = pytest.mark.slow  # a small library indexed by the CLI

LOOK_ALIKES = [  # pairs of different photos the vectors put close (the audit's)
    ("train/ants/1286984635_5119e80de1.jpg", "train/ants/258217966_d9d90d18d3.jpg"),
    ("val/bees/603709866_a97c7cfc72.jpg", "val/bees/603711658_4c8cd2201e.jpg"),
]


def test_plain_dedup_leaves_look_alikes_apart_and_groups_copies(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    images = data_dir / "hymenoptera" / "images"
    folder = tmp_path / "col"
    folder.mkdir()
    for pair in LOOK_ALIKES:
        for name in pair:
            Image.open(images / name).convert("RGB").save(folder / Path(name).name, quality=92)
    first, second = (images / pair[0] for pair in LOOK_ALIKES)
    Image.open(first).convert("RGB").save(folder / "ant-copy.jpg", quality=40)  # re-encoded
    ImageOps.mirror(Image.open(second).convert("RGB")).save(folder / "bee-mirror.jpg")
    for other in sorted((images / "val" / "ants").glob("*.jpg"))[:8]:
        Image.open(other).convert("RGB").save(folder / other.name, quality=92)
    args = ["--library", str(tmp_path / "lib"), "--model-path", str(models_dir)]
    assert run_cli([*args, "index", str(folder)], tmp_path).returncode == 0

    # a threshold low enough that the look-alikes' vectors pass it
    found = run_cli([*args, "dedup", "--json", "--threshold", "0.6"], tmp_path)
    assert found.returncode == 0, found.stderr
    keeper_of = {}
    for group in json.loads(found.stdout)["groups"]:
        for path in [group["keeper"], *(m["path"] for m in group["members"])]:
            keeper_of[Path(path).name] = Path(group["keeper"]).name
    for a, b in LOOK_ALIKES:
        a, b = Path(a).name, Path(b).name
        assert keeper_of.get(a) is None or keeper_of.get(a) != keeper_of.get(b), (a, b)
    assert keeper_of.get("ant-copy.jpg") == keeper_of.get(first.name) is not None
    assert keeper_of.get("bee-mirror.jpg") == keeper_of.get(second.name) is not None
    assert "refuted by local features and layouts" in found.stderr
