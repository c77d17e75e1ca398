"""A video saved under an image's name (an MP4 as ``clip.jpg``): `index`, `search`, `lookup`,
`embed` and `classify` all said "not an image (content matches no known image format)" -
nothing said it was a video - while an API upload of the same bytes was searched as the video
it is. Videos are told by their content now, as animations are (a new user's audit,
2026-12-06)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from search.settings import Settings
from tests.cli_process import run_cli
from tests.video_clips import write_slideshow
from web.app import create_app

pytest.importorskip("av")

pytestmark = pytest.mark.slow


def test_a_video_saved_as_jpg_is_indexed_searched_and_served_as_a_video(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    photos = sorted((data_dir / "hymenoptera" / "images" / "val" / "ants").glob("*.jpg"))
    (tmp_path / "media").mkdir()
    clip = tmp_path / "media" / "clip.jpg"
    write_slideshow(photos[:3], clip.with_suffix(".mp4"), (160, 120), hold=10)
    clip.with_suffix(".mp4").rename(clip)
    still = tmp_path / "media" / photos[5].name
    still.write_bytes(photos[5].read_bytes())
    models = ["--model-path", str(models_dir)]
    done = run_cli([*models, "index", "--no-progress", "--json", "media"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["failed"] == 0, done.stdout
    done = run_cli(["search", "--json", "media/clip.jpg"], tmp_path)
    assert done.returncode == 0, done.stderr
    first = json.loads(done.stdout)["results"][0]
    assert Path(first["path"]).name == "clip.jpg" and first["media"] == "video", first
    for command, says in (("embed", "it is a video: embed it"), ("classify", "it is a video")):
        done = run_cli([*models, command, "media/clip.jpg"], tmp_path)
        assert done.returncode == 1 and says in done.stdout + done.stderr, done.stderr
    app = create_app(Settings(library=tmp_path / "imgsearch-library", model_path=(models_dir,)))
    try:
        answer = app.test_client().get(f"/api/v1/images/{first['id']}/file")
        assert answer.status_code == 200, answer.get_data(as_text=True)
        assert answer.headers["Content-Type"] == "video/mp4"
        assert answer.data == clip.read_bytes()
    finally:
        app.extensions["imgsearch"].close()
