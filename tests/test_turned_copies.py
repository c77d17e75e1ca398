"""A picture kept both upright and turned: a search finds both copies (issue 16).

Any cheaper query path (fewer views for a query that already has a sure copy) must keep this:
a photo whose library holds an upright copy *and* a quarter-turned copy of it gets both as
duplicates, and so does a turned query whose library holds a copy turned the same way and an
upright one. The library is made by the real indexer (whitened: 100+ photos).
"""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest
from engine_library import hymenoptera_copy, index_library, make_settings
from PIL import Image

from search.query import SearchEngine, turns_for

PHOTO = "ukbench00012.jpg"

pytestmark = pytest.mark.slow  # indexes ~110 photos and learns a whitening


def _jpeg(image: Image.Image, side: int = 500, quality: int = 85) -> bytes:
    copy = image.convert("RGB")
    copy.thumbnail((side, side))
    out = io.BytesIO()
    copy.save(out, "JPEG", quality=quality)
    return out.getvalue()


@pytest.fixture(scope="module")
def library(tmp_path_factory, data_dir, models_dir, new_database_url):
    """100 hymenoptera photos (distractors, and the whitening's sample) and a folder of
    copies of one UKBench photo: one upright (rescaled, JPEG 80), two turned by a quarter
    turn (one of them cropped). The photo itself is not in the library."""
    base = tmp_path_factory.mktemp("turned")
    copies = base / "copies"
    copies.mkdir()
    with Image.open(data_dir / "ukbench_subset" / "images" / PHOTO) as im:
        photo = im.convert("RGB")
    w, h = photo.size
    photo.resize((w * 4 // 5, h * 4 // 5)).save(copies / "upright.jpg", quality=80)
    turned = photo.transpose(Image.Transpose.ROTATE_90)
    turned.save(copies / "turned.jpg", quality=90)
    tw, th = turned.size
    turned.crop((tw // 20, th // 20, tw - tw // 20, th - th // 20)).save(
        copies / "turned_crop.jpg", quality=90
    )
    settings = make_settings(base / "library", models_dir, new_database_url())
    index_library(settings, [hymenoptera_copy(data_dir, base / "bugs", per_class=50), copies])
    return settings, photo


def _duplicates(engine: SearchEngine, data: bytes, **kwargs: object) -> tuple[set[str], int]:
    result = engine.query_image(data, k=10, **kwargs)  # type: ignore[arg-type]
    return {Path(h.path).name for h in result.hits if h.duplicate}, result.views


def test_upright_query_finds_the_upright_and_the_turned_copy(library):
    settings, photo = library
    with SearchEngine.open(settings) as engine:
        found, views = _duplicates(engine, _jpeg(photo))
    assert views == 4  # the default embeds every view
    assert {"upright.jpg", "turned.jpg", "turned_crop.jpg"} <= found


def test_turned_query_finds_the_copy_turned_the_same_way_and_the_upright_one(library):
    settings, photo = library
    query = _jpeg(photo.transpose(Image.Transpose.ROTATE_90))
    with SearchEngine.open(settings) as engine:
        found, _views = _duplicates(engine, query)
    assert {"upright.jpg", "turned.jpg", "turned_crop.jpg"} <= found


def test_upright_first_answers_a_settled_query_from_its_upright_view(library):
    """``upright_first`` (opt-in) embeds one view for a query with a sure copy; what it
    finds of the turned copies then rests on their upright-view scores alone."""
    settings, photo = library
    with SearchEngine.open(replace(settings, upright_first=True)) as engine:
        found, views = _duplicates(engine, _jpeg(photo))
    assert views == 1 and "upright.jpg" in found


def test_a_stored_image_s_turned_views_are_embedded_from_its_file_once(library):
    """The witness of a turned find (search.descriptor.witness): the best copy's turned views,
    from its file while it is as indexed, kept for the library state; None without a file."""
    settings, _photo = library
    with SearchEngine.open(settings) as engine:
        upright = engine.records.image_id_for(settings.library.parent / "copies" / "upright.jpg")
        live = engine.guard.live(engine.store.health.serving_state())
        turns = turns_for(engine.records, engine.guard, live)
        rows = turns(upright)
        assert rows is not None and rows.shape[0] == 3  # a quarter, a half, three quarters
        assert turns(upright) is rows  # kept: the file is read once
        assert turns(987654) is None
