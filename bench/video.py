"""Video benchmark: stills find their video, copies of a video are grouped, indexing speed.

Makes test videos from the shared photos with PyAV (H.264 slideshows with cuts, pans and
zooms; copies re-encoded at another bitrate, at half size, trimmed; unrelated clips), then

1. stills: a library of the originals, the unrelated clips and some photos; stills from random
   frames of the originals (any frame, not only sampled ones) are searched: is the video rank
   1, and is its timestamp within 1 s of the still's?
2. dedup: a library of originals, copies and unrelated clips; `imgsearch dedup --json`'s
   video groups against the truth: pair precision and recall;
3. speed: a 720p H.264 video indexed by `imgsearch index` vs decoding it alone (PyAV, same run,
   plain and with the indexer's fast-decode options), and the indexer's peak RSS for a short
   and a 3x longer video (bounded by the frame batch, not the length).

    python bench/video.py [--videos 8] [--stills 60] [--seconds 30]
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


def decode_seconds(path: Path, fast: bool) -> float:
    import av

    from models.video import FAST_DECODE

    start = time.monotonic()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if fast:
            stream.codec_context.options = dict(FAST_DECODE)
        for _frame in container.decode(stream):
            pass
    return time.monotonic() - start


def index_run(work: Path, name: str, video: Path) -> tuple[dict, int]:
    folder = work / f"col_{name}"
    folder.mkdir()
    os.link(video, folder / video.name)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    summary, wall = cli(work / f"lib_{name}", "index", str(folder), "--json")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    summary["wall"] = wall
    return summary, max(peak, before) // 1024


def speed_figures(work: Path, seconds: int) -> dict[str, object]:
    size, fps = (1280, 720), 30
    shots = max(2, seconds // 5)
    short = work / "short720.mp4"
    long_ = work / "long720.mp4"
    write_video(short, slideshow(photos()[:shots], size, 5.0, fps, 7), size, fps)
    write_video(long_, slideshow(photos()[: shots * 3], size, 5.0, fps, 7), size, fps)
    plain = decode_seconds(short, fast=False)
    fast = decode_seconds(short, fast=True)
    summary, rss_short = index_run(work, "short", short)
    _long, rss_long = index_run(work, "long", long_)
    duration = shots * 5.0
    return {
        "video_seconds": duration,
        "decode_plain_s": round(plain, 2),
        "decode_fast_s": round(fast, 2),
        "index_s": summary["seconds"],
        "index_wall_s": round(summary["wall"], 2),
        "realtime_factor_index": round(duration / summary["seconds"], 1),
        "realtime_factor_decode_plain": round(duration / plain, 1),
        "realtime_factor_decode_fast": round(duration / fast, 1),
        "index_vs_plain_decode": round(summary["seconds"] / plain, 2),
        "peak_rss_mb_short": rss_short,
        "peak_rss_mb_3x_longer": rss_long,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--stills", type=int, default=60)
    parser.add_argument("--seconds", type=int, default=30, help="720p video length")
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory(prefix="imgsearch-video-") as tmp:
        work = Path(tmp)
        figures, made = stills_figures(work, args.videos, args.stills)
        print("stills:", json.dumps(figures), flush=True)
        print("dedup:", json.dumps(dedup_figures(work, made)), flush=True)
        if not args.skip_speed:
            print("speed:", json.dumps(speed_figures(work, args.seconds)), flush=True)
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
