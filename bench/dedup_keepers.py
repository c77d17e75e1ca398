"""Does ``imgsearch dedup`` keep the original? (``python bench/dedup.py keepers``)

For each copy set with known originals - ``near_duplicates`` of the shared data, and a set
that ``imgsearch eval make-copies`` writes from another photo pool (hymenoptera ``val``, seed 3)
- a fresh library is indexed and ``imgsearch dedup --json`` run on it (the CLI, as a user runs
them). The original of a cluster is its file whose name has no ``__`` (both sets name copies
``<original>__<edit>``). Printed per set: in how many clusters the original is the keeper of
its group, and each group whose keeper is a copy (with the reason dedup gave).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imgsearch(*args: str) -> str:
    """Run the CLI in a subprocess; its stdout."""
    done = subprocess.run(
        [sys.executable, "-c", "from cli.main import main; main()", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"imgsearch {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def keeper_figures(folder: Path, models: Path, keeper_rules: str | None) -> dict:  # type: ignore[type-arg]
    """Index ``folder`` into a fresh library, run dedup, score the keepers."""
    truth = json.loads((folder / "ground_truth.json").read_text())
    with tempfile.TemporaryDirectory(prefix="imgsearch-keepers-") as tmp:
        common = ["--library", str(Path(tmp) / "lib"), "--model-path", str(models)]
        imgsearch(*common, "index", "--no-progress", str(folder))
        rules = ["--keeper-rules", keeper_rules] if keeper_rules else []
        report = json.loads(imgsearch(*common, "dedup", "--no-progress", *rules))
    group_of = {}
    for group in report["groups"]:
        for path in [group["keeper"], *(m["path"] for m in group["members"])]:
            group_of[Path(path).name] = group
    kept = clusters = 0
    wrong = []
    for files in truth["clusters"].values():
        names = [Path(f).name for f in files]
        originals = [n for n in names if "__" not in Path(n).stem]
        if len(originals) != 1 or originals[0] not in group_of:
            continue  # no known original, or it joined no group
        clusters += 1
        group = group_of[originals[0]]
        if Path(group["keeper"]).name == originals[0]:
            kept += 1
        else:
            wrong.append(
                f"{Path(group['keeper']).name} kept over {originals[0]}: {group['reason']}"
            )
    return {"clusters": clusters, "kept": kept, "wrong": wrong, "groups": len(report["groups"])}


def main(data: Path, models: Path, keeper_rules: str | None = None) -> None:
    with tempfile.TemporaryDirectory(prefix="imgsearch-copies-") as tmp:
        made = Path(tmp) / "hymenoptera-val-seed3"
        imgsearch(
            "eval",
            "make-copies",
            str(data / "hymenoptera" / "images" / "val"),
            str(made),
            "--seed",
            "3",
            "--max-originals",
            "40",
            "--per-original",
            "8",
        )
        sets = {
            "near_duplicates": data / "near_duplicates",
            "make-copies hymenoptera/val seed 3": made,
        }
        for name, folder in sets.items():
            got = keeper_figures(folder, models, keeper_rules)
            share = got["kept"] / max(1, got["clusters"])
            print(
                f"{name}: the original is the keeper in {got['kept']} of {got['clusters']} "
                f"clusters ({share:.1%}; {got['groups']} groups)"
            )
            for line in got["wrong"]:
                print(f"  {line}")
