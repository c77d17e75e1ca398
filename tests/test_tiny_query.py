"""A query image or region of a few pixels is a few colours to the model: it can rank the
library, but it is no evidence that anything is a copy. A 1-pixel region of a white page
was flagged a copy of a mostly white placeholder image; such hits are now look-alikes that
say why, while an exact copy stays one."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from models import RoiError
from models.roi import coerce_roi
from search.query import MIN_COPY_SIDE, SearchEngine, too_small_for_copies
from tests.engine_library import index_library, make_settings


@pytest.fixture(scope="module")
def placeholder_library(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir):
    root = tmp_path_factory.mktemp("tiny")
    folder = root / "photos"
    folder.mkdir()
    for photo in sorted((data_dir / "hymenoptera" / "images" / "val").rglob("*.jpg"))[:6]:
        Image.open(photo).convert("RGB").save(folder / photo.name)
    page = Image.new("RGB", (300, 300), "white")  # a "no image" placeholder
    ImageDraw.Draw(page).rectangle((110, 140, 190, 160), fill=(200, 200, 200))
    page.save(folder / "placeholder.png")
    settings = make_settings(root / "lib", models_dir)
    index_library(settings, [folder])
    return folder / "placeholder.png", settings


def test_a_few_pixels_are_no_copy_of_anything(placeholder_library) -> None:
    placeholder, settings = placeholder_library
    with SearchEngine.open(settings) as engine:
        whole = engine.search_image(placeholder, k=3)[0]
        assert Path(whole.path).name == "placeholder.png" and whole.exact and whole.duplicate
        hits = engine.search_image(placeholder, roi="px:0,0,1,1", k=3)
    assert Path(hits[0].path).name == "placeholder.png", hits  # it still ranks
    assert not any(hit.duplicate or hit.exact for hit in hits), hits
    top = hits[0]
    assert top.lookalike and top.vector_z is not None and top.vector_z >= 6, top
    assert top.z is not None and top.z < 6, top  # the decision's "no" is in its copy score too
    assert top.lookalike_reason == "the query region is 1x1 px, too small to tell a copy"
    assert top.to_dict()["lookalike_reason"] == top.lookalike_reason


def test_the_smallest_query_that_can_be_a_copy() -> None:
    side = MIN_COPY_SIDE
    assert too_small_for_copies(side, side, None) is None
    assert too_small_for_copies(side - 1, 500, None) == (
        f"the query image is {side - 1}x500 px, too small to tell a copy"
    )
    region = coerce_roi(f"px:10,10,{10 + side},{10 + side}")
    assert too_small_for_copies(500, 400, region) is None
    assert "region is 800x3 px" in too_small_for_copies(1000, 1000, coerce_roi("0.1,0.5,0.9,0.503"))
    with pytest.raises(RoiError):  # a region beyond the image stays an error
        too_small_for_copies(20, 20, coerce_roi("px:0,0,30,30"))


def test_a_flat_query_is_no_copy_of_a_flat_photo_or_video(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """A plain near-black square was a duplicate (z 7.3) of a black photo and of an animation
    of black frames: nearly one flat tone, it says nothing of what a picture shows (an audit
    found a green square a duplicate of an all-black GIF). Such hits are look-alikes saying
    why, photos and videos alike; the picture itself, exact, is still its copy."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for photo in sorted((data_dir / "hymenoptera" / "images" / "val").rglob("*.jpg"))[:6]:
        Image.open(photo).convert("RGB").save(folder / photo.name)
    Image.new("RGB", (300, 200), (0, 0, 0)).save(folder / "black.png")
    frames = [Image.new("RGB", (160, 120), (i, i, i)) for i in range(0, 30, 3)]
    frames[0].save(folder / "black.gif", save_all=True, append_images=frames[1:], duration=500)
    query = tmp_path / "square.png"
    Image.new("RGB", (64, 64), (8, 8, 8)).save(query)
    settings = make_settings(tmp_path / "lib", models_dir)
    index_library(settings, [folder])
    with SearchEngine.open(settings) as engine:
        hits = {Path(h.path).name: h for h in engine.search_image(query, k=3)}
        again = engine.search_image(folder / "black.png", k=3)
    itself = next(h for h in again if Path(h.path).name == "black.png")
    assert {"black.png", "black.gif"} <= set(hits), hits
    for name in ("black.png", "black.gif"):
        hit = hits[name]
        assert not hit.duplicate and hit.lookalike, hit
        assert hit.vector_z is not None and hit.vector_z >= 6, hit  # past it by its vectors
        assert hit.lookalike_reason == (
            "the query image is one flat colour: any flat picture of that colour matches it"
        )
    assert hits["black.gif"].media == "video"
    assert itself.exact and itself.duplicate, itself
