"""Animated GIF benchmark: indexing speed against decoding alone, and stills finding their GIF.

Makes animated GIFs from the shared photos with Pillow (slideshows of panning / zooming shots
with hard cuts, 480x360, 20 fps, 10 s by default), then

1. speed: one GIF decoded alone (Pillow: every frame composited, ``seek`` + ``load``, the
   floor of any reader), sampled and embedded (``indexer.video.embed_video``, in this
   process), and indexed by `imgsearch index` (a whole run into a fresh library: SQL, FAISS,
   calibration included), each timed ``--repeat`` times in turn in the same run, the fastest
   kept: wall and CPU seconds (this process and its threads; the index run's own figures), and
   the index run's peak RSS;
2. stills: a library of ``--gifs`` GIFs and 20 photos; stills of random frames that were NOT
   sampled are searched: is the GIF rank 1, and is its timestamp within 1 s of the still's?

    python bench/animation.py [--gifs 4] [--stills 20] [--seconds 10] [--fps 20] [--repeat 3]
                              [--only-speed]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from search.evaluation import animation_stills, make_animation  # noqa: E402

SHARED = Path(os.environ.get("IMGSEARCH_SHARED", ROOT.parent / "shared"))
MODELS = SHARED / "models"
IMGSEARCH = str(Path(sys.executable).parent / "imgsearch")
SIZE = (480, 360)
INDEX = ("index", "--json")
PEAK_RSS = (
    "import resource, subprocess, sys; done = subprocess.run(sys.argv[1:]); "
    "print('peak_rss_kib', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
    "file=sys.stderr); sys.exit(done.returncode)"
)
PEAK = (sys.executable, "-c", PEAK_RSS)


def photos() -> list[Path]:
    return sorted((SHARED / "data" / "hymenoptera" / "images").rglob("*.jpg"))


def make_gif(path: Path, seconds: float, fps: int, first: int, shots: int = 4) -> int:
    chosen = photos()[first : first + shots]
    return make_animation(chosen, path, size=SIZE, shot_s=seconds / shots, fps=fps, seed=first)


def clocked(work) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    wall, cpu = time.monotonic(), time.process_time()
    work()
    return time.monotonic() - wall, time.process_time() - cpu


def decode_all(path: Path) -> int:
    """Every frame composited by Pillow, nothing else (what any GIF reader must do)."""
    from PIL import Image

    with Image.open(io.BytesIO(path.read_bytes())) as im:
        count = 0
        while True:
            im.load()
            count += 1
            try:
                im.seek(count)
            except EOFError:
                return count


def index_run(work: Path, gif: Path) -> tuple[dict, int]:
    folder = work / "col_speed"
    if not folder.is_dir():
        folder.mkdir()
        os.link(gif, folder / gif.name)
    library = work / f"lib_speed_{time.monotonic_ns()}"
    done = subprocess.run(
        [
            *PEAK,
            IMGSEARCH,
            "--library",
            str(library),
            "--model-path",
            str(MODELS),
            *INDEX,
            str(folder),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    peak = int(done.stderr.rsplit("peak_rss_kib", 1)[1].split()[0]) // 1024
    return json.loads(done.stdout), peak


def speed_figures(work: Path, seconds: float, fps: int, repeat: int) -> dict[str, object]:
    from indexer.video import VideoOptions, embed_video
    from models import open_model

    gif = work / "speed.gif"
    frames = make_gif(gif, seconds, fps, first=100)
    model = open_model(None, [MODELS])
    kept, _facts = embed_video(model, str(gif), VideoOptions())  # warm: imports, first session
    best: dict[str, tuple[float, float]] = {}
    runs = {
        "decode_all": lambda: decode_all(gif),
        "embed_video": lambda: embed_video(model, str(gif), VideoOptions()),
    }
    index_wall = index_cpu = float("inf")
    peak = 0
    for _ in range(repeat):
        for name, work_ in runs.items():
            wall, cpu = clocked(work_)
            old = best.get(name, (float("inf"), float("inf")))
            best[name] = (min(old[0], wall), min(old[1], cpu))
        summary, peak_run = index_run(work, gif)
        index_wall = min(index_wall, summary["seconds"])
        index_cpu = min(index_cpu, summary["cpu_seconds"])
        peak = max(peak, peak_run)
    decode_wall, decode_cpu = best["decode_all"]
    figures: dict[str, object] = {
        "gif": f"{seconds:g} s, {fps} fps, {SIZE[0]}x{SIZE[1]}, {frames} frames, "
        f"{gif.stat().st_size / 2**20:.1f} MiB",
        "sampled_frames_kept": len(kept),
    }
    for name, (wall, cpu) in [*best.items(), ("index_run", (index_wall, index_cpu))]:
        figures[name] = {
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),
            "realtime_x_wall": round(seconds / wall, 1),
            "vs_decode_all_wall": round(wall / decode_wall, 2),
            "vs_decode_all_cpu": round(cpu / decode_cpu, 2),
        }
    figures["index_peak_rss_mb"] = peak
    return figures


def stills_figures(work: Path, gifs: int, stills: int, seconds: float, fps: int) -> dict:
    from models import AnimationReader
    from search.query import SearchEngine
    from search.settings import Settings

    folder = work / "col_stills"
    folder.mkdir()
    made = []
    for n in range(gifs):
        made.append(folder / f"anim{n}.gif")
        make_gif(made[-1], seconds, fps, first=4 * n)
    for photo in photos()[-20:]:
        os.link(photo, folder / photo.name)
    library = work / "lib_stills"
    subprocess.run(
        [IMGSEARCH, "--library", str(library), "--model-path", str(MODELS), *INDEX, str(folder)],
        capture_output=True,
        check=True,
    )
    settings = Settings(library=library, model_path=(MODELS,))
    rank1 = within = total = 0
    errors: list[int] = []
    with SearchEngine.open(settings) as engine:
        per_gif = -(-stills // gifs)
        for n, gif in enumerate(made):
            with AnimationReader(gif) as reader:  # the frames indexing samples
                sampled = {still.timestamp_ms for still in reader.sample()}
            taken = animation_stills(gif, work / "stills", per_gif, seed=n, skip=sampled)
            for still, truth_ms in taken[: max(0, stills - total)]:
                total += 1
                hits = engine.search_image(str(still), k=3)
                if hits and Path(hits[0].path).name == gif.name:
                    rank1 += 1
                    error = abs(int(hits[0].timestamp_ms or 0) - truth_ms)
                    errors.append(error)
                    within += error <= 1000
    errors.sort()
    return {
        "gifs": gifs,
        "stills": total,
        "rank1": rank1,
        "within_1s": within,
        "median_error_ms": errors[len(errors) // 2] if errors else None,
        "max_error_ms": errors[-1] if errors else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gifs", type=int, default=4)
    parser.add_argument("--stills", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--fps", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only-speed", action="store_true")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-animation-") as tmp:
        work = Path(tmp)
        speed = speed_figures(work, args.seconds, args.fps, args.repeat)
        print(json.dumps({"speed": speed}, indent=2), flush=True)
        if args.only_speed:
            return
        found = stills_figures(work, args.gifs, args.stills, args.seconds, args.fps)
        print(json.dumps({"stills": found}, indent=2), flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end", flush=True)


if __name__ == "__main__":
    main()
