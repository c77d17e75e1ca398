"""`imgsearch similar ID` says what `lookup ID` says: that an answer came from the stored
vectors of an image whose file is gone (it said nothing), and that a video or an animated
image is compared with videos only (it said "no results", as if nothing were like it)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from tests.cli_process import run_cli
from tests.indexer_helpers import photo_paths

pytestmark = pytest.mark.slow


def test_similar_explains_a_gone_file_and_a_lonely_animation(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    photos = photo_paths(data_dir, 3)
    frames = [Image.open(p).convert("RGB").resize((96, 72)) for p in photos]
    folder = tmp_path / "photos"
    folder.mkdir()
    frames[0].save(folder / "anim.gif", save_all=True, append_images=frames[1:], duration=300)
    for photo in photos:
        shutil.copyfile(photo, folder / photo.name)
    done = run_cli(["--model-path", str(models_dir), "index", "photos"], tmp_path)
    assert done.returncode == 0, done.stderr
    listed = run_cli(["similar", "photos/anim.gif"], tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("no results: ") and "is a video" in listed.stdout

    gone = folder / photos[0].name
    found = run_cli(["similar", f"photos/{gone.name}", "--json"], tmp_path)
    assert found.returncode == 0 and not found.stderr, found.stderr
    own = json.loads(found.stdout)["query"]["id"]
    gone.unlink()
    done = run_cli(["similar", str(own)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("rank"), done.stdout
    assert done.stderr.startswith(f"note: The file of image {own} is no longer on disk"), (
        done.stderr
    )
