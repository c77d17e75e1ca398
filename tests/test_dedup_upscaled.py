"""A photo enlarged 2x (the same EXIF time, a newer file) was kept over the photo it was
enlarged from - "highest resolution" - and the original listed for deletion (an audit; a blind
hold-out: 12 of 12 sharpened 2x re-encodes). The enlargement now gives way to its photo,
while a photo kept over its own smaller rescale stays kept."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from PIL import Image

from cli.main import cli
from tests.web_library import run_index


def test_an_enlargement_gives_way_to_its_photo_and_a_rescale_to_its_original(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    sources = sorted((data_dir / "hymenoptera" / "images" / "val" / "bees").glob("*.jpg"))[:4]
    for n, source in enumerate(sources):
        with Image.open(source) as image:
            exif = image.getexif()
            exif[0x0132] = "2019:05:04 10:00:00"  # the same capture time in both
            image = image.convert("RGB")
            image.save(photos / f"up{n}.jpg", quality=92, exif=exif)
            bigger = (image.width * 2, image.height * 2)
            enlarged = image.resize(bigger, Image.Resampling.LANCZOS)
            enlarged.save(photos / f"up{n}_2x.jpg", quality=85, exif=exif)
            half = (image.width // 2, image.height // 2)
            image.resize(half, Image.Resampling.LANCZOS).save(photos / f"down{n}_half.jpg")
    run_index(tmp_path / "lib", models_dir, photos)
    done = CliRunner().invoke(cli, ["--library", str(tmp_path / "lib"), "dedup", "--json"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    groups = {Path(g["keeper"]).name: g for g in report["groups"]}
    for n in range(len(sources)):
        group = groups[f"up{n}.jpg"]  # the photo, not its enlargement
        members = {Path(m["path"]).name: m for m in group["members"]}
        assert members[f"up{n}_2x.jpg"]["decided_by"] == "resolution", group
        assert "enlarged from" in members[f"up{n}_2x.jpg"]["reason"]
    # a half-size rescale grouped with its photo is no reason to doubt the photo
    assert all(Path(g["keeper"]).stem.startswith("up") for g in report["groups"])
    assert all("_" not in Path(g["keeper"]).stem for g in report["groups"])
    assert report["stats"]["upscaled_keepers"] >= len(sources)
