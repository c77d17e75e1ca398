"""A query clip longer than its bound of sampled frames is searched over its whole length: a
library video trimmed from its end is found as a copy (only the first 60 s were sampled,
and such a trim was "not a copy" at 0.27 while `dedup` paired the two at 0.998)."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest
from PIL import Image

from models import Still
from search.query.clip_match import MAX_QUERY_FRAMES, spread_stills
from tests.cli_process import run_cli
from tests.video_clips import panning_shots, write_frames


def test_a_long_clips_samples_are_spread_over_its_whole_length() -> None:
    """A clip of 1000 samples (a cut every 100) keeps at most MAX_QUERY_FRAMES of them, from
    its first to its last, evenly apart; only a still at a cut is marked as one."""
    image = Image.new("RGB", (4, 4))
    stills = [Still(n * 1000, n // 100, image) for n in range(1000)]
    kept = spread_stills(iter(stills))
    times = [s.timestamp_ms for s in kept]
    assert len(kept) == MAX_QUERY_FRAMES
    assert times[0] == 0 and times[-1] >= 990_000
    gaps = {b - a for a, b in pairwise(times)}
    assert max(gaps) <= 2 * min(gaps), gaps
    assert all(
        (s.shot == 1) == (s.timestamp_ms % 100_000 == 0 and s.timestamp_ms > 0) for s in kept
    )
    short = spread_stills(iter(stills[:40]))
    assert [s.timestamp_ms for s in short] == [s.timestamp_ms for s in stills[:40]]


@pytest.mark.slow
def test_a_trim_from_the_end_of_a_long_query_clip_is_a_copy(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """`lookup full.mp4` (100 s) lists the library's seconds 60-100 of it as a copy that
    starts at 01:00.0 of the clip, as `search` marks it one."""
    pytest.importorskip("av")
    photos = sorted((data_dir / "hymenoptera" / "images" / "val" / "bees").glob("*.jpg"))[:5]
    frames = panning_shots(photos, (160, 120), 40)  # 5 shots of 20 s at 2 fps
    (tmp_path / "col").mkdir()
    write_frames(tmp_path / "full.mp4", frames, fps=2)
    write_frames(tmp_path / "col" / "tail.mp4", frames[120:], fps=2)
    args = ["--library", str(tmp_path / "lib"), "--model-path", str(models_dir)]
    done = run_cli([*args, "index", "--no-progress", "col"], tmp_path)
    assert done.returncode == 0, done.stderr
    done = run_cli([*args, "lookup", "full.mp4", "--json"], tmp_path)
    assert done.returncode == 0, done.stderr
    (hit,) = json.loads(done.stdout)["results"]
    assert Path(hit["path"]).name == "tail.mp4" and hit["match"] == "near", hit
    assert "it starts at 01:00.0 of the clip" in hit["evidence"], hit
    done = run_cli([*args, "search", "full.mp4", "--json"], tmp_path)
    assert done.returncode == 0, done.stderr
    (hit,) = json.loads(done.stdout)["results"]
    assert hit["duplicate"] and hit["score"] >= 0.9, hit
