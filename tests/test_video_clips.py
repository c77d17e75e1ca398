"""Videos made for one test each (not the shared module library of test_video.py): a
trimmed slideshow looked up, a thumbnail past the last frame, `similar` of a gone photo
found in a video, `classify` of a clip."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cli_process import run_cli
from tests.video_clips import write_slideshow

pytest.importorskip("av")

pytestmark = pytest.mark.slow


def test_lookup_with_a_trimmed_copy_of_still_shots_finds_its_original(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """A slideshow of still shots is sampled as one frame a shot when indexed, but every
    second as a lookup's clip: the trimmed copy (more frames as a clip) was checked the wrong
    way round and its original listed as "not a duplicate" at copy score 0.97, while `lookup`
    of the original and `dedup` called them copies."""
    photos = sorted((data_dir / "hymenoptera" / "images" / "val" / "bees").glob("*.jpg"))[:4]
    (tmp_path / "clips").mkdir()
    write_slideshow(photos, tmp_path / "clips" / "show.mp4", (320, 240), hold=20)
    write_slideshow(photos[1:], tmp_path / "trim.mp4", (320, 240), hold=20)  # from 00:02.0
    done = run_cli(["--model-path", str(models_dir), "index", "--no-progress", "clips"], tmp_path)
    assert done.returncode == 0, done.stderr
    done = run_cli(["lookup", "trim.mp4", "--json"], tmp_path)
    assert done.returncode == 0, done.stderr
    (hit,) = json.loads(done.stdout)["results"]
    assert Path(hit["path"]).name == "show.mp4" and hit["match"] == "near", hit
    assert abs(hit["timestamp_ms"] - 2000) <= 500, hit


def test_a_moment_after_the_last_frames_start_is_the_last_frame_and_past_the_end_says_so(
    tmp_path: Path, data_dir: Path
) -> None:
    """`?t=` of a video's thumbnail between its last frame's start and its end was 404 "no
    frame could be decoded", and so was a moment past the end."""
    from models.video import VideoError, VideoReader

    photos = sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[:2]
    clip = tmp_path / "clip.mp4"
    write_slideshow(photos, clip, (64, 48), fps=10, hold=5)  # frames at 0..900 ms, 1 s long
    with VideoReader(clip) as reader:
        last = reader.still_at(900, 64)
    for at in (950, 1000):
        with VideoReader(clip) as reader:
            assert reader.still_at(at, 64).tobytes() == last.tobytes(), at
    with VideoReader(clip) as reader, pytest.raises(VideoError, match="past the end"):
        reader.still_at(5000, 64)


def test_similar_of_a_gone_photo_finds_the_video_at_its_moment(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """`similar ID` of a photo whose file is gone (or changed) answers from its stored
    vectors: a video holding the photo scored by its first frame only (0.56 @ 00:00.0, where
    the search with the file found it at 0.997 @ 00:08.2)."""
    from click.testing import CliRunner

    from cli.main import cli

    photos = sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))
    col = tmp_path / "col"
    col.mkdir()
    write_slideshow([photos[0], photos[12], photos[30]], col / "clip.mp4", (320, 240), hold=20)
    shutil.copy(photos[30], col / "photo.jpg")
    args = ["--library", str(tmp_path / "lib"), "--model-path", str(models_dir)]
    runner = CliRunner()
    assert runner.invoke(cli, [*args, "index", "--no-progress", str(col)]).exit_code == 0

    def top() -> tuple[str, int, float]:
        done = runner.invoke(cli, [*args, "similar", str(photo_id), "--json", "-k", "1"])
        assert done.exit_code == 0, done.output
        (hit,) = json.loads(done.stdout)["results"]
        return Path(hit["path"]).name, hit["timestamp_ms"], hit["score"]

    found = runner.invoke(cli, [*args, "search", str(col / "photo.jpg"), "--json", "-k", "1"])
    photo_id = json.loads(found.stdout)["results"][0]["id"]
    with_file = top()
    assert with_file[0] == "clip.mp4" and 4000 <= with_file[1] <= 6000, with_file
    (col / "photo.jpg").rename(tmp_path / "away.jpg")
    name, at, score = top()
    assert (name, abs(at - with_file[1]) <= 500) == ("clip.mp4", True), (name, at)
    assert score == pytest.approx(with_file[2], abs=0.02)
    # a served moment past the clip's end says so, without the file's absolute path (a
    # server on the network shows paths relative to their collection: it was in the message)
    from search.settings import Settings
    from web.app import create_app

    app = create_app(Settings(library=tmp_path / "lib"), token="t0ken", exposed=True)
    try:
        client, headers = app.test_client(), {"Authorization": "Bearer t0ken", "Host": "127.0.0.1"}
        listed = client.get("/api/v1/images", headers=headers).get_json()["results"]
        clip_id = next(r["id"] for r in listed if r["path"] == "clip.mp4")
        answer = client.get(f"/api/v1/images/{clip_id}/thumbnail?t=99000", headers=headers)
    finally:
        app.extensions["imgsearch"].close()
    message = answer.get_json()["error"]["message"]
    assert answer.status_code == 404 and "past the end" in message, message
    assert str(tmp_path) not in message, message


def test_classify_of_a_video_says_it_is_one(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """`classify clip.mp4` said "not an image (content matches no known image format)",
    where `embed clip.mp4` says it is a video and what to do."""
    from click.testing import CliRunner

    from cli.main import cli

    clip = tmp_path / "clip.mp4"
    write_slideshow(
        sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[:1], clip, (64, 48)
    )
    done = CliRunner().invoke(cli, ["--model-path", str(models_dir), "classify", str(clip)])
    assert done.exit_code == 1, done.output
    assert "it is a video: classify a still of it" in done.output, done.output
