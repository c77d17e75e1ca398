"""Different photos blurred alike look alike to the model: a blind hold-out's dedup put six
heavily blurred photos of different things in one group (and `lookup` called each of them a
look-alike). A pair of two bare pictures (too few key points each to refute by a transform)
whose layouts differ is now refuted as two detailed ones are; a blurred copy of a detailed
photo still is not."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from PIL import Image, ImageFilter

from cli.main import cli
from tests.web_library import run_index


def test_blurred_different_photos_are_not_grouped_a_copy_is(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    sources = sorted((data_dir / "hymenoptera" / "images" / "val" / "bees").glob("*.jpg"))[:16]
    for n, source in enumerate(sources):
        with Image.open(source) as image:
            image = image.convert("RGB")
            blurred = image.filter(ImageFilter.GaussianBlur(max(image.size) * 0.025))
            blurred.save(photos / f"blur{n}.jpg", quality=90)
            if n == 0:
                image.save(photos / "sharp.jpg", quality=95)
                image.save(photos / "soft.jpg", quality=40)  # a re-save: a copy it is
    run_index(tmp_path / "lib", models_dir, photos)
    done = CliRunner().invoke(cli, ["--library", str(tmp_path / "lib"), "dedup", "--json"])
    assert done.exit_code == 0, done.output
    groups = [
        {Path(g["keeper"]).stem, *(Path(m["path"]).stem for m in g["members"])}
        for g in json.loads(done.stdout)["groups"]
    ]
    for group in groups:  # blur3 and blur5 were grouped: two different bees
        assert len({name for name in group if name.startswith("blur")}) <= 1, groups
    assert any({"sharp", "soft"} <= group for group in groups), groups
