"""Small evaluation sets cut from the shared ones, for tests of what `eval` says and takes
(its options, its model, its report) rather than of its quality: an eval in seconds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def small_ukbench_set(data_dir: Path, folder: Path) -> Path:
    """UKBench's first two groups (8 photos) with their ground truth in ``folder``."""
    truth = json.loads((data_dir / "ukbench_subset" / "ground_truth.json").read_text())
    groups = {k: v for k, v in truth["groups"].items() if k in ("0", "1")}
    names = [name for members in groups.values() for name in members]
    (folder / "images").mkdir(parents=True)
    for name in names:
        shutil.copyfile(data_dir / "ukbench_subset" / "images" / name, folder / "images" / name)
    queries = {q: r for q, r in truth["queries"].items() if q in names}
    small = {**truth, "groups": groups, "queries": queries, "distractors": []}
    (folder / "ground_truth.json").write_text(json.dumps(small))
    return folder
