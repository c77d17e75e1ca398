"""A region of a library photo finds that photo: it holds the region, whatever the region's
vector says. A new user's audit searched the middle of a library photo and met it at rank 61
of 509 (its vector far from the crop's); on the UKBench photos alone, 13 of 66 regions of 30 %
of the side missed their own photo in the first 10. The library files of the query's bytes are
nominated to the key points, which confirm them."""

from __future__ import annotations

from pathlib import Path

import pytest

from search.descriptor import MIN_INLIERS
from search.query import SearchEngine
from search.settings import Settings
from tests.web_library import run_index

MIDDLE = (0.35, 0.35, 0.65, 0.65)  # the middle 30 % of each side
MISSED = ("ukbench00002.jpg", "ukbench00004.jpg", "ukbench00006.jpg", "ukbench00019.jpg")


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path):  # type: ignore[no-untyped-def]
    library = tmp_path_factory.mktemp("roi-source") / "lib"
    run_index(library, models_dir, data_dir / "ukbench_subset" / "images")
    with SearchEngine.open(Settings(library=library, model_path=(models_dir,))) as opened:
        yield opened


def test_a_region_of_a_library_photo_finds_that_photo_first(engine, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    images = data_dir / "ukbench_subset" / "images"
    for name in MISSED:
        for query in (images / name, (images / name).read_bytes()):  # a file, an upload
            hits = engine.search_image(query, roi=MIDDLE, k=10)
            first = hits[0]
            assert Path(first.path).name == name, (name, [Path(h.path).name for h in hits])
            assert first.duplicate and (first.key_points or 0) >= MIN_INLIERS, first
            assert not first.exact  # a part is no exact copy of its file


def test_the_whole_photo_is_searched_as_before(engine, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """Without a region the file's bytes nominate nothing: its own row is its exact copy."""
    path = data_dir / "ukbench_subset" / "images" / MISSED[0]
    first = engine.search_image(path, k=3)[0]
    assert Path(first.path).name == MISSED[0] and first.exact
