"""Video benchmark: stills find their video, copies of a video are grouped, indexing speed.

Makes test videos from the shared photos with PyAV (H.264 slideshows with cuts, pans and
zooms; copies re-encoded at another bitrate, at half size, trimmed; unrelated clips), then

1. stills: a library of the originals, the unrelated clips and some photos; stills from random
   frames of the originals (any frame, not only sampled ones) are searched: is the video rank
   1, and is its timestamp within 1 s of the still's?
2. dedup: a library of originals, copies and unrelated clips; `imgsearch dedup --json`'s
   video groups against the truth: pair precision and recall;
3. speed: a 720p H.264 video (30 fps, B-frames, x264's defaults) sampled and embedded
   (``indexer.video.embed_video``, in this process) and indexed by `imgsearch index` (a whole
   run in a fresh library) vs decoding every frame of it alone (PyAV, threads on), in the same
   run: each timed ``--repeat`` times in turn, the fastest kept, wall and CPU seconds (this
   process, all threads); plus decoding its reference frames only (the sampling scan's floor)
   and the indexer's peak RSS for that video and for a 3x longer one (bounded by the frame
   batch, not the length).

    python bench/video.py [--videos 8] [--stills 60] [--seconds 30] [--repeat 3] [--only-speed]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from search.evaluation import make_video_set, take_stills  # noqa: E402
from search.evaluation.sets.generated_sets import slideshow, write_video  # noqa: E402

SHARED = Path(os.environ.get("IMGSEARCH_SHARED", ROOT.parent / "shared"))
MODELS = SHARED / "models"
IMGSEARCH = str(Path(sys.executable).parent / "imgsearch")


def photos() -> list[Path]:
    return sorted((SHARED / "data" / "hymenoptera" / "images").rglob("*.jpg"))


def cli(library: Path, *args: str) -> tuple[dict, float]:
    start = time.monotonic()
    out = subprocess.run(
        [IMGSEARCH, "--library", str(library), "--model-path", str(MODELS), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout), time.monotonic() - start


def stills_figures(work: Path, videos: int, stills: int) -> dict[str, object]:
    made = make_video_set(photos(), work / "set", videos=videos, unrelated=videos // 2, seed=1)
    lib_dir = work / "stills_collection"
    lib_dir.mkdir()
    for name in made.originals + made.unrelated:
        os.link(made.folder / name, lib_dir / name)
    for photo in photos()[-40:]:
        os.link(photo, lib_dir / photo.name)
    summary, _s = cli(work / "lib_stills", "index", str(lib_dir), "--json")
    taken = take_stills([lib_dir / n for n in made.originals], work / "stills", stills, seed=2)
    rank1 = within = 0
    errors = []
    from search.query import SearchEngine
    from search.settings import Settings

    settings = Settings(library=work / "lib_stills", model_path=(MODELS,))
    with SearchEngine.open(settings) as engine:
        for still, video, truth_ms in taken:
            hits = engine.search_image(str(still), k=3)
            if hits and Path(hits[0].path).name == video.name:
                rank1 += 1
                error = abs((hits[0].timestamp_ms or 0) - truth_ms)
                errors.append(error)
                within += error <= 1000
    errors.sort()
    return {
        "library": summary["images_total"],
        "stills": len(taken),
        "rank1": rank1 / len(taken),
        "rank1_within_1s": within / len(taken),
        "median_error_ms": errors[len(errors) // 2] if errors else None,
        "max_error_ms": errors[-1] if errors else None,
    }, made


def dedup_figures(work: Path, made) -> dict[str, object]:  # type: ignore[no-untyped-def]
    _summary, _s = cli(work / "lib_dedup", "index", str(made.folder), "--json")
    report, _s = cli(work / "lib_dedup", "dedup", "--format", "json", "--no-progress")
    found = set()
    for group in report["video_groups"]:
        names = [str(Path(m["path"]).relative_to(made.folder)) for m in group["members"]]
        found |= {frozenset((a, b)) for a in names for b in names if a < b}
    truth = made.copy_pairs()
    true_pos = len(found & truth)
    return {
        "videos": len(made.originals) + len(made.copies) + len(made.unrelated),
        "true_pairs": len(truth),
        "found_pairs": len(found),
        "pair_precision": true_pos / max(1, len(found)),
        "pair_recall": true_pos / max(1, len(truth)),
    }


def clocked(work) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(wall, CPU) seconds of ``work()``; CPU of this process, all its threads."""
    wall, cpu = time.monotonic(), time.process_time()
    work()
    return time.monotonic() - wall, time.process_time() - cpu


def decode(path: Path, references_only: bool) -> None:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if references_only:
            stream.codec_context.skip_frame = "NONREF"
        for _frame in container.decode(stream):
            pass


def index_run(work: Path, name: str, video: Path) -> tuple[dict, int]:
    folder = work / f"col_{name}"
    if not folder.is_dir():
        folder.mkdir()
        os.link(video, folder / video.name)
    shutil.rmtree(work / f"lib_{name}", ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    summary, wall = cli(work / f"lib_{name}", "index", str(folder), "--json")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    summary["wall"] = wall
    return summary, max(peak, before) // 1024


def speed_figures(work: Path, seconds: int, repeat: int) -> dict[str, object]:
    from indexer.video import VideoOptions, embed_video
    from models import open_model

    size, fps = (1280, 720), 30
    shots = max(2, seconds // 5)
    short = work / "short720.mp4"
    long_ = work / "long720.mp4"
    write_video(short, slideshow(photos()[:shots], size, 5.0, fps, 7), size, fps)
    write_video(long_, slideshow(photos()[: shots * 3], size, 5.0, fps, 7), size, fps)
    model = open_model(None, [MODELS])
    embed_video(model, str(short), VideoOptions())  # warm: the session's first run, imports
    best: dict[str, tuple[float, float]] = {}
    runs = {
        "decode_all": lambda: decode(short, False),
        "decode_references": lambda: decode(short, True),
        "embed_video": lambda: embed_video(model, str(short), VideoOptions()),
    }
    index_cpu = index_wall = float("inf")
    for _ in range(repeat):
        for name, work_ in runs.items():
            wall, cpu = clocked(work_)
            old = best.get(name, (float("inf"), float("inf")))
            best[name] = (min(old[0], wall), min(old[1], cpu))
        summary, rss_short = index_run(work, "short", short)
        index_wall = min(index_wall, summary["seconds"])
        index_cpu = min(index_cpu, summary["cpu_seconds"])
    _long, rss_long = index_run(work, "long", long_)
    duration = shots * 5.0
    decode_wall, decode_cpu = best["decode_all"]
    figures: dict[str, object] = {"video_seconds": duration}
    for name, (wall, cpu) in [*best.items(), ("index_run", (index_wall, index_cpu))]:
        figures[name] = {
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),
            "realtime_x_wall": round(duration / wall, 1),
            "realtime_x_cpu": round(duration / cpu, 1),
            "vs_decode_all_wall": round(wall / decode_wall, 2),
            "vs_decode_all_cpu": round(cpu / decode_cpu, 2),
        }
    figures["peak_rss_mb_short"] = rss_short
    figures["peak_rss_mb_3x_longer"] = rss_long
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--stills", type=int, default=60)
    parser.add_argument("--seconds", type=int, default=30, help="720p video length")
    parser.add_argument("--repeat", type=int, default=3, help="speed runs (fastest kept)")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--only-speed", action="store_true")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory(prefix="imgsearch-video-") as tmp:
        work = Path(tmp)
        if not args.only_speed:
            figures, made = stills_figures(work, args.videos, args.stills)
            print("stills:", json.dumps(figures), flush=True)
            print("dedup:", json.dumps(dedup_figures(work, made)), flush=True)
        if not args.skip_speed:
            speed = speed_figures(work, args.seconds, args.repeat)
            print("speed:", json.dumps(speed, indent=1), flush=True)
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
