"""Quality flags (too dark, overexposed, blurry, tiny, almost uniform): precision and recall
per flag on generated versions of shared photos, and what measuring costs at index time.

    python bench/quality_flags.py [--data ../shared/data] [--models ../shared/models]
                                  [--sets train,val,ukbench] [--index 3]

Every photo of a set and its five degraded versions (``search.evaluation.degrade``: dark,
bright, blurry, tiny, uniform; saved as JPEG 90 like a camera or a web page would) go
through the indexer's own decode step (``ImageAnalyzer(quality=True).prepare``: the model's
JPEG draft, then :func:`models.quality.measure_quality` on those pixels). The truth of a
degraded image is its one flag, of an original none; precision and recall are counted per
flag. The thresholds were tuned on ``train`` (hymenoptera train/) only; ``val`` (hymenoptera
val/) and ``ukbench`` (ukbench_subset) are the report sets.

Cost: the seconds of ``measure_quality`` per image against the seconds of the decode step
without it and of the model pass (batches of 32), measured on the same images in this run.
``--index N``: also ``imgsearch index`` of the first set's photos into fresh libraries, whole
processes, alternating with and without the measure (the child patches
``ImageAnalyzer(quality=False)``) for N rounds: best wall and CPU seconds of each.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

REPO = Path(__file__).resolve().parent.parent
KINDS = ("dark", "bright", "blurry", "tiny", "uniform")


def set_files(data: Path, name: str) -> list[Path]:
    hym = data / "hymenoptera" / "images"
    if name in ("train", "val"):
        return sorted((hym / name).glob("*/*.jpg"))
    if name == "ukbench":
        return sorted((data / "ukbench_subset" / "images").glob("*.jpg"))
    raise SystemExit(f"unknown set {name!r}: train, val or ukbench")


def degraded_versions(path: Path) -> list[tuple[str, bytes]]:
    """(truth, JPEG bytes) of the original and its five degraded versions."""
    from models import load_image
    from search.evaluation import degrade

    photo = load_image(path, draft_size=None).image
    out = []
    for kind in ("none", *KINDS):
        image = photo if kind == "none" else degrade(photo, kind)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90)
        out.append((kind, buffer.getvalue()))
    return out


def evaluate(name: str, files: list[Path], analyzer, cost: list[float]) -> dict[str, tuple]:  # type: ignore[no-untyped-def]
    """Per flag: (tp, fp, fn); ``cost`` gathers measure and decode seconds."""
    from models.quality import FLAGS, flag_names, measure_quality

    counts = {flag: [0, 0, 0] for flag in FLAGS}
    wrong: list[str] = []
    for path in files:
        for truth, data in degraded_versions(path):
            t0 = time.perf_counter()
            prepared = analyzer.prepare(io.BytesIO(data))
            t1 = time.perf_counter()
            decoded = prepared.decoded
            measure_quality(prepared.tensor, decoded.width, decoded.height)
            t2 = time.perf_counter()
            cost[0] += t2 - t1  # the measure
            cost[1] += (t1 - t0) - (t2 - t1)  # the decode step without it (prepare measured once)
            cost[2] += 1
            found = set(flag_names(prepared.quality.flags))
            for flag in FLAGS:
                hit, want = flag in found, flag == truth
                counts[flag][0] += hit and want
                counts[flag][1] += hit and not want
                counts[flag][2] += want and not hit
            if found != ({truth} - {"none"}):
                wrong.append(f"{path.name}:{truth}->{','.join(sorted(found)) or 'none'}")
    if wrong:
        print(f"  {name}: {len(wrong)} of {6 * len(files)} wrong: {' '.join(wrong[:12])}")
    return {flag: tuple(c) for flag, c in counts.items()}


def model_seconds(analyzer, files: list[Path]) -> float:  # type: ignore[no-untyped-def]
    """Seconds per image of the model pass (batches of 32) on these photos."""
    batch = [analyzer.prepare(str(p)) for p in files[:64]]
    start = time.perf_counter()
    for i in range(0, len(batch), 32):
        analyzer._infer(batch[i : i + 32], False)
    return (time.perf_counter() - start) / len(batch)


CHILD = """
import sys
import models.analyzer as analyzer
if sys.argv.pop(1) == "off":
    init = analyzer.ImageAnalyzer.__init__
    def without(self, *args, **kwargs):
        kwargs["quality"] = False
        init(self, *args, **kwargs)
    analyzer.ImageAnalyzer.__init__ = without
from cli.main import main
main()
"""


def index_cost(files: list[Path], models: Path, rounds: int, measure: float) -> None:
    """Best wall and CPU seconds of ``imgsearch index`` with and without the measure."""
    import resource
    import shutil
    import subprocess
    import tempfile

    best: dict[str, tuple[float, float]] = {}
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMGSEARCH_")}
    env["PYTHONPATH"] = str(REPO)
    with tempfile.TemporaryDirectory() as tmp:
        photos = Path(tmp) / "photos"
        photos.mkdir()
        for path in files:
            shutil.copy(path, photos / path.name)
        for round_ in range(rounds):
            for mode in ("on", "off") if round_ % 2 == 0 else ("off", "on"):
                library = Path(tmp) / f"lib-{mode}-{round_}"
                cmd = [sys.executable, "-c", CHILD, mode, "--library", str(library)]
                cmd += ["--model-path", str(models), "index", str(photos), "--no-progress"]
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                subprocess.run(cmd, env=env, check=True, capture_output=True)
                wall = time.perf_counter() - start
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
                old = best.get(mode, (1e9, 1e9))
                best[mode] = (min(old[0], wall), min(old[1], cpu))
    (won, con), (woff, coff) = best["on"], best["off"]
    print(
        f"imgsearch index of {len(files)} photos, best of {rounds}: with the measure "
        f"{won:.2f} s wall / {con:.2f} s CPU, without {woff:.2f} s / {coff:.2f} s: "
        f"wall {100 * (won / woff - 1):+.1f} %, CPU {100 * (con / coff - 1):+.1f} % "
        f"(load average now {os.getloadavg()[0]:.1f})"
    )
    per_image = con / len(files)
    print(
        f"the measure ({measure * 1e3:.2f} ms per image in this run) is "
        f"{100 * measure / per_image:.1f} % of the whole-process index CPU per image "
        f"({per_image * 1e3:.1f} ms, start-up included)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--models", type=Path, default=REPO.parent / "shared" / "models")
    parser.add_argument("--sets", default="train,val,ukbench")
    parser.add_argument("--index", type=int, default=0, metavar="ROUNDS")
    args = parser.parse_args()
    from models import ImageAnalyzer, open_model

    model = open_model(search_path=[args.models])
    analyzer = ImageAnalyzer(model, decode_workers=0, quality=True)
    print(f"load average {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
    cost = [0.0, 0.0, 0]
    rows = []
    for name in args.sets.split(","):
        files = set_files(args.data, name)
        counts = evaluate(name, files, analyzer, cost)
        for flag, (tp, fp, fn) in counts.items():
            precision = tp / max(tp + fp, 1)
            recall = tp / max(tp + fn, 1)
            rows.append((name, len(files), flag, precision, recall, tp, fp, fn))
    role = {"train": "tuning", "val": "report", "ukbench": "report"}
    print("| set | photos (x6) | flag | precision | recall | tp / fp / fn |")
    print("|---|---|---|---|---|---|")
    for name, n, flag, precision, recall, tp, fp, fn in rows:
        print(
            f"| {name} ({role.get(name, '?')}) | {n} | {flag} | {precision:.3f} | {recall:.3f} "
            f"| {tp} / {fp} / {fn} |"
        )
    files = set_files(args.data, args.sets.split(",")[0])
    per_model = model_seconds(analyzer, files)
    measure, decode, n = cost[0] / cost[2], cost[1] / cost[2], cost[2]
    print(
        f"cost per image over {n} images: measure {measure * 1e3:.2f} ms, decode step "
        f"{decode * 1e3:.2f} ms, model pass {per_model * 1e3:.2f} ms: the measure adds "
        f"{100 * measure / (decode + per_model):.1f} % to decode + model "
        f"(load average now {os.getloadavg()[0]:.1f})"
    )
    if args.index:
        index_cost(files, args.models, args.index, measure)


if __name__ == "__main__":
    main()
