"""``imgsearch dedup --verify`` over a copy set: which edited copies join their original's group.

    python bench/dedup_kinds.py [--family unseen] [--sets photos-120] [--no-verify]

``--family``: ``holdout`` (the hold-out sets, ``bench/holdout.py``), ``unseen``
(``bench/unseen_edits.py``), ``unseen2`` (``bench/second_unseen_edits.py``) or ``unseen3``
(``bench/third_unseen_edits.py``), each over the
hold-out set ``POOL-N`` of ``--sets`` (made under /tmp when missing). The library holds every
file of the set: originals, distractors, other views of an object, burst shots, and every
edited copy; it is indexed with the default descriptor and ``imgsearch dedup --verify --json``
runs over it (``--no-verify``: plain ``dedup``), both as subprocesses (the commands a user runs).
Printed per edit kind: the share of copies in their original's group (recall) and the share of
those whose group keeps the original (not the copy, nor another copy); and over every
keeper-member pair of the report: the share that are one picture (strict precision) and one
picture or two photos of one object (same-object neutral), with the pairs that join different
pictures named. Wall and CPU time of the dedup command.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.edit_queries import kind_of  # noqa: E402
from bench.holdout import HOLDOUT_POOLS, holdout_set  # noqa: E402
from bench.second_unseen_edits import second_unseen_set  # noqa: E402
from bench.third_unseen_edits import third_unseen_set  # noqa: E402
from bench.unseen_edits import unseen_set  # noqa: E402
from search.evaluation import GroundTruth, load_truth  # noqa: E402

FAMILIES = {
    "holdout": None,
    "unseen": unseen_set,
    "unseen2": second_unseen_set,
    "unseen3": third_unseen_set,
}


def family_truth(
    ap: argparse.ArgumentParser, family: str, spec: str, seed: int, data: Path
) -> GroundTruth:
    """The ground truth of ``family``'s copy set over the hold-out set ``spec`` (POOL-N),
    made under /tmp when missing; a usage error for a malformed ``spec``."""
    pool, _, size = spec.rpartition("-")
    if pool not in HOLDOUT_POOLS or not size.isdigit():
        ap.error(f"--sets: {spec!r} is not POOL-N (POOL one of {', '.join(HOLDOUT_POOLS)})")
    truth_path = holdout_set(pool, int(size), seed, data)
    make = FAMILIES[family]
    return load_truth(make(truth_path, seed) if make else truth_path)


def imgsearch(args: list[str], library: Path, model_path: Path) -> str:
    """stdout of ``imgsearch --library LIBRARY --model-path M ARGS``; exits on failure."""
    # this checkout's code (a worktree of another commit measures that commit)
    entry = "import sys; from cli.main import main; sys.argv[0] = 'imgsearch'; main()"
    command = [sys.executable, "-c", entry, "--library", str(library), "--model-path"]
    done = subprocess.run(
        [*command, str(model_path), *args], capture_output=True, text=True, cwd=ROOT
    )
    if done.returncode != 0:
        sys.exit(f"imgsearch {' '.join(args)}: exit {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def score(truth: GroundTruth, groups: list[list[str]]) -> None:
    """Print the per-kind recall and the pairs' precision of ``groups`` (file names, the
    keeper first), and per kind how often a copy grouped with its original has the original
    as keeper (the copy, or another copy, kept instead: a deleting script loses the original)."""
    picture = {f: truth.originals.get(f, f) for f in truth.files}
    group_of = {f: n for n, members in enumerate(groups) for f in members}
    found, total, kept = Counter[str](), Counter[str](), Counter[str]()
    lost: dict[str, str] = {}  # a group's keeper -> the original it was kept over
    for copy, original in truth.originals.items():
        kind = kind_of(truth, copy)
        total[kind] += 1
        together = copy in group_of and group_of[copy] == group_of.get(original)
        found[kind] += together
        kept[kind] += together and groups[group_of[copy]][0] == original
        if together and groups[group_of[copy]][0] != original:
            lost.setdefault(groups[group_of[copy]][0], original)
    print(f"{'kind':20s} {'copies':>7s} {'in their original group':>24s} {'original kept':>14s}")
    for kind in sorted(total):
        share = f"{kept[kind] / found[kind]:14.3f}" if found[kind] else f"{'-':>14s}"
        print(f"{kind:20s} {total[kind]:7d} {found[kind] / total[kind]:24.3f} {share}")
    everything = sum(found.values())
    print(
        f"{'all':20s} {sum(total.values()):7d} {everything / sum(total.values()):24.3f} "
        f"{sum(kept.values()) / max(1, everything):14.3f}"
    )
    for keeper, original in list(lost.items())[:10]:
        print(f"  kept over its original: {keeper} (original {original})")
    same = neutral = pairs = 0
    wrong: list[tuple[str, str]] = []
    for keeper, *members in groups:
        for member in members:
            a, b = picture[keeper], picture[member]
            pairs += 1
            same += a == b
            neutral += a == b or truth.is_neutral(a, b)
            if a != b and not truth.is_neutral(a, b):
                wrong.append((keeper, member))
    if pairs:
        print(
            f"pairs {pairs}: one picture {same / pairs:.4f}, with same-object {neutral / pairs:.4f}"
        )
    kinds = Counter(
        " ~ ".join(sorted(kind_of(truth, f) if f in truth.originals else "photo" for f in pair))
        for pair in wrong
    )
    print(f"pairs of different pictures, by kinds ('photo': a stored photo): {dict(kinds)}")
    for keeper, member in wrong[:10]:
        print(f"  different pictures: {keeper} ~ {member}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--family", choices=sorted(FAMILIES), default="unseen")
    ap.add_argument("--sets", default="photos-120")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--no-verify", action="store_true", help="plain `imgsearch dedup` (default: --verify)"
    )
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--model-path", type=Path, default=ROOT.parent / "shared" / "models")
    args = ap.parse_args()
    for spec in args.sets.split(","):
        truth = family_truth(ap, args.family, spec, args.seed, args.data)
        with tempfile.TemporaryDirectory(prefix="imgsearch-dedup-kinds-") as work:
            folder = Path(work) / "photos"
            folder.mkdir()
            for name in truth.files:  # flat names: the sets' files are unique by name
                os.link(truth.root / name, folder / Path(name).name)
            library = Path(work) / "lib"
            imgsearch(["index", str(folder)], library, args.model_path)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            verify = [] if args.no_verify else ["--verify"]
            report = json.loads(imgsearch(["dedup", *verify, "--json"], library, args.model_path))
            wall = time.perf_counter() - start
            used = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = used.ru_utime + used.ru_stime - before.ru_utime - before.ru_stime
        groups = [
            [Path(g["keeper"]).name, *(Path(m["path"]).name for m in g["members"])]
            for g in report["groups"]
        ]
        by_name = {Path(f).name: f for f in truth.files}
        groups = [[by_name[n] for n in group] for group in groups]
        print(
            f"\n{args.family} {spec}: {len(truth.files)} files, {len(groups)} groups; "
            f"dedup {' '.join(verify)} {wall:.1f} s wall, {cpu:.1f} s CPU; {report['stats']}"
        )
        score(truth, groups)


if __name__ == "__main__":
    main()
