"""A library video is never read whole into memory: searched by its id (API), asked for its
similar images, looked up by id, or searched with its file on the CLI, a 700 MB video (a
short clip padded with a sparse MP4 ``free`` box: 28 KB on disk) costs the server far less
than its size in resident memory."""

from __future__ import annotations

import json
import struct
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from search.evaluation import make_video_set
from tests.cli_process import ENTRY, cli_env, run_cli
from tests.served import serving

pytestmark = pytest.mark.slow  # a video library indexed and served as subprocesses

PAD_BYTES = 700 << 20
PEAK_RSS = (
    "import resource, subprocess, sys; done = subprocess.run(sys.argv[1:]); "
    "print('peak_rss_kib', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
    "file=sys.stderr); sys.exit(done.returncode)"
)


def pad(video: Path, extra: int) -> None:
    """Append a top-level ``free`` box of ``extra`` bytes (a hole: nothing written)."""
    size = video.stat().st_size
    with video.open("r+b") as handle:
        handle.seek(size)
        handle.write(struct.pack(">I4sQ", 1, b"free", extra))
        handle.truncate(size + extra)


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of process ``pid``, in KiB."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {
        k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in lines) if k[:2] == "Vm"
    }


def call(url: str, path: str, form: dict[str, object] | None = None) -> dict:  # type: ignore[type-arg]
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    with urllib.request.urlopen(urllib.request.Request(url + path, data=data), timeout=300) as r:
        return json.load(r)  # type: ignore[no-any-return]


def test_a_large_library_video_is_never_read_whole(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("needs Linux's /proc/PID/clear_refs to reset the peak RSS")
    photos = sorted((data_dir / "hymenoptera" / "images").rglob("*.jpg"))
    made = make_video_set(
        photos, tmp_path / "col", videos=1, unrelated=0, shots=2, shot_s=1.0, size=(160, 96),
        fps=10, seed=4,
    )  # fmt: skip
    video = made.folder / made.originals[0]
    pad(video, PAD_BYTES)
    assert video.stat().st_size > PAD_BYTES
    args = ["--library", str(tmp_path / "lib"), "--model-path", str(models_dir)]
    indexed = run_cli([*args, "index", "--no-progress", "--json", str(made.folder)], tmp_path)
    assert indexed.returncode == 0, indexed.stderr
    assert json.loads(indexed.stdout)["added"] == 4, indexed.stdout  # the video, 3 copies

    # the CLI searches with the file: decoded from it, hashed streamed (an exact copy)
    found = run_cli(
        [*args, "search", str(video), "--json", "-k", "4"],
        tmp_path,
        prefix=[sys.executable, "-c", PEAK_RSS],
    )
    assert found.returncode == 0, found.stderr
    results = json.loads(found.stdout)["results"]
    assert Path(results[0]["path"]) == video and results[0]["exact"]
    video_id, copy_id = results[0]["id"], results[1]["id"]
    cli_peak = int(found.stderr.rsplit("peak_rss_kib", 1)[1].split()[0]) // 1024
    gone = run_cli([*args, "search", str(tmp_path / "missing.mp4")], tmp_path)  # not opened
    assert gone.returncode == 2 and "does not exist" in gone.stderr, gone.stderr  # usage error

    command = [*ENTRY, *args, "serve", "--host", "127.0.0.1", "--port", "0", "--threads", "2"]
    with serving(command, tmp_path, cli_env()) as server:
        pid = server.process.pid
        warm = call(server.url, "/api/v1/search", {"image_id": copy_id, "k": 4})  # model, index
        assert warm["results"], warm
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # the peak starts again from here
        before = memory_kib(pid)["VmRSS"]
        by_id = call(server.url, "/api/v1/search", {"image_id": video_id, "k": 4})["results"]
        assert by_id[0]["id"] == video_id and by_id[0]["exact"], by_id
        assert {hit["id"] for hit in by_id} >= {copy_id}
        similar = call(server.url, f"/api/v1/images/{video_id}/similar?k=3")["results"]
        assert similar and all(hit["id"] != video_id for hit in similar)
        looked = call(server.url, "/api/v1/lookup", {"image_id": video_id})
        assert looked["results"] and video_id not in {r["id"] for r in looked["results"]}
        grown = (memory_kib(pid)["VmHWM"] - before) // 1024
    print(f"700 MB video by id: server peak +{grown} MiB; CLI search peak {cli_peak} MiB")
    assert grown < 200, grown  # read whole, it alone would be 700 MiB
    assert cli_peak < 700, cli_peak
