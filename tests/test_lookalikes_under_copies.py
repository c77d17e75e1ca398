"""A look-alike ranks under every copy, and `--min-score` keeps or drops them in that order.

A burst shot as the query (its EXIF capture time 10:00:09): the library's other shots of the
burst (10:00:00-10:00:02) were look-alikes ("another shot") but kept the rank scores that put
them above the query's copy (the photo without EXIF, flagged a copy): 0.980 and 0.958 over
0.957, and `--min-score 0.958` returned a look-alike and dropped the copy - README promises
"a look-alike ranks under every copy that kept the decision" (a new user's audit)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image, ImageEnhance

from cli.main import cli
from tests.indexer_helpers import copy_photos, photo_paths


def _shot(photo: Image.Image, shift: int, light: float) -> Image.Image:
    """Another frame of a burst: the camera moved by ``shift`` pixels, the light changed."""
    w, h = photo.size
    moved = photo.crop((shift, shift // 2, w - 20 + shift, h - 14 + shift // 2)).resize((w, h))
    return ImageEnhance.Brightness(moved).enhance(light)


def _save(image: Image.Image, path: Path, taken: str | None) -> None:
    exif = Image.Exif()
    if taken is not None:
        exif.get_ifd(0x8769)[0x9003] = taken  # DateTimeOriginal
    image.save(path, quality=92, exif=exif)


@pytest.fixture(scope="module")
def burst_library(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("burst")
    photos = photo_paths(data_dir, 40) + photo_paths(data_dir, 20, "train/bees")
    copy_photos(photos[:-1], root / "lib" / "others")
    with Image.open(photos[-1]) as im:
        bee = im.convert("RGB")
    (root / "lib" / "burst").mkdir()
    _save(bee, root / "lib" / "burst" / "original.jpg", None)  # EXIF stripped: no time
    for n, (shift, light) in enumerate([(2, 1.0), (6, 1.02), (14, 0.98)]):
        _save(
            _shot(bee, shift, light),
            root / "lib" / "burst" / f"shot{n}.jpg",
            f"2024:05:01 10:00:0{n}",
        )
    query = root / "query.jpg"
    _save(_shot(bee, 0, 1.0), query, "2024:05:01 10:00:09")
    common = ["--library", str(root / "library"), "--model-path", str(models_dir)]
    done = CliRunner().invoke(cli, [*common, "index", "--no-progress", str(root / "lib")])
    assert done.exit_code == 0, done.output
    return common, query


def _search(common: list[str], query: Path, *more: str) -> list[dict]:  # type: ignore[type-arg]
    done = CliRunner().invoke(cli, [*common, "search", "--json", "-k", "5", str(query), *more])
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)["results"]  # type: ignore[no-any-return]


def test_another_shot_ranks_under_the_copy(burst_library) -> None:  # type: ignore[no-untyped-def]
    common, query = burst_library
    hits = _search(common, query)
    names = [Path(h["path"]).name for h in hits]
    shots = [h for h in hits if h["lookalike"]]
    copies = [h for h in hits if h["duplicate"]]
    assert [Path(h["path"]).name for h in copies] == ["original.jpg"], hits
    assert {Path(h["path"]).name for h in shots} >= {"shot0.jpg", "shot1.jpg"}, hits
    assert all(s["lookalike_reason"].startswith("another shot") for s in shots), shots
    assert names.index("original.jpg") < min(names.index(Path(s["path"]).name) for s in shots)
    assert max(s["score"] for s in shots) <= copies[0]["score"], hits
    assert [h["rank"] for h in hits] == list(range(1, len(hits) + 1))
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True), hits

    # a min-score between the copy's score and a shot's former one: the copy stays first
    above = _search(common, query, "--min-score", str(copies[0]["score"]))
    assert above and Path(above[0]["path"]).name == "original.jpg", above
    over = round(copies[0]["score"] + 0.0002, 4)
    assert not [h for h in _search(common, query, "--min-score", str(over)) if h["lookalike"]]
