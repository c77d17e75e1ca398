"""An unchanged library's re-run of ``imgsearch index``: what the check for animations indexed
as stills by an older imgsearch costs, measured in the same run.

    python bench/index_rerun.py [--data ../shared/data] [--rounds 5] [--baseline-tree DIR]

Indexes ``--data`` once into a temp library, then alternates whole-process re-runs (wall from
spawn to exit, CPU of the child from ``wait4``):

* ``rerun``: ``imgsearch index`` as every nightly run does (the collections were checked: one
  metadata read each, no file opened);
* ``first after upgrade``: the same after forgetting that the collections were checked, as the
  first run of this imgsearch over a library of an older one (the headers of every still GIF /
  WebP / PNG row are read);
* ``baseline`` (with ``--baseline-tree``, another checkout's root, e.g. ``git archive main``):
  that code's re-run of the same library.

Prints the median of each and its ratio to ``rerun``.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ENTRY = "from cli.main import main; main()"


def run(tree: Path, args: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one ``imgsearch ARGS`` process from ``tree``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMGSEARCH_")}
    env["PYTHONPATH"] = str(tree)
    start = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-c", ENTRY, *args], cwd=tree, env=env, stdout=subprocess.DEVNULL
    )
    _pid, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"imgsearch {' '.join(args)} failed in {tree}")
    return wall, usage.ru_utime + usage.ru_stime


def forget_checks(database: Path) -> int:
    """Drop the 'collection checked for animations' marks; returns how many."""
    with sqlite3.connect(database) as connection:
        done = connection.execute("DELETE FROM library_meta WHERE key LIKE 'animations_checked:%'")
        return done.rowcount


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--models", type=Path, default=REPO.parent / "shared" / "models")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline-tree", type=Path)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rerun-") as work:
        library = Path(work) / "lib"
        args = ["--library", str(library), "--model-path", str(options.models.resolve())]
        args += ["index", "--no-progress", str(options.data.resolve())]
        print(f"indexing {options.data} once ...", flush=True)
        run(REPO, args)
        database = library / "imgsearch.sqlite3"
        with sqlite3.connect(database) as connection:
            stills = connection.execute(
                "SELECT count(*) FROM images WHERE status = 'ok' AND duration_ms IS NULL "
                "AND upper(format) IN ('GIF', 'WEBP', 'PNG')"
            ).fetchone()[0]
            images = connection.execute("SELECT count(*) FROM images").fetchone()[0]
        print(f"{images} files, {stills} still GIF / WebP / PNG rows to check after an upgrade")
        kinds: dict[str, list[tuple[float, float]]] = {"rerun": [], "first after upgrade": []}
        if options.baseline_tree:
            kinds["baseline"] = []
        for _round in range(options.rounds):
            kinds["rerun"].append(run(REPO, args))
            assert forget_checks(database) > 0
            kinds["first after upgrade"].append(run(REPO, args))
            if options.baseline_tree:
                kinds["baseline"].append(run(options.baseline_tree.resolve(), args))
        load = os.getloadavg()
        base_wall = statistics.median(w for w, _c in kinds["rerun"])
        base_cpu = statistics.median(c for _w, c in kinds["rerun"])
        for name, runs in kinds.items():
            wall = statistics.median(w for w, _c in runs)
            cpu = statistics.median(c for _w, c in runs)
            print(
                f"{name:20s} wall {wall:6.2f} s ({wall / base_wall:4.2f}x)  "
                f"CPU {cpu:6.2f} s ({cpu / base_cpu:4.2f}x)  [median of {len(runs)}]"
            )
        print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


if __name__ == "__main__":
    main()
