"""Searches refused while a re-index is unfinished say where it stands: just finished (ask
again), interrupted (what to run), and how many images the new model has embedded."""

from __future__ import annotations

import shutil

import pytest
from engine_library import index_library, make_settings

from search.query import SearchEngine
from search.store import ReindexingError


@pytest.fixture(scope="module")
def engine(tmp_path_factory, data_dir, models_dir, new_database_url):  # type: ignore[no-untyped-def]
    """Six UKBench photos indexed by the real indexer (on each store back end)."""
    base = tmp_path_factory.mktemp("reindex")
    photos = base / "photos"
    photos.mkdir()
    for path in sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[:6]:
        shutil.copy(path, photos / path.name)
    settings = make_settings(base / "library", models_dir, new_database_url())
    index_library(settings, [photos])
    with SearchEngine.open(settings) as engine:
        yield engine


def test_a_reindex_that_ends_while_a_reader_looks_is_not_called_interrupted(engine):
    """A reader that saw the re-index mark and then found no writer called the re-index
    "interrupted; run `imgsearch index`" although it had just finished (the run clears the
    mark, then lets go of the library: the parallel suite met it); it now looks again."""
    health = engine.store.health
    model = health.serving_state().model
    health.set_reindex(model.name)
    seen = health.serving_state()
    health.set_reindex(None)  # the run ends between the reader's two looks
    with pytest.raises(ReindexingError, match="has just finished") as refused:
        engine.guard.live(seen)
    assert "interrupted" not in str(refused.value)
    health.set_reindex(model.name)  # a mark left with no writer alive: interrupted
    try:
        with pytest.raises(ReindexingError, match="was interrupted"):
            engine.guard.live(health.serving_state())
    finally:
        health.set_reindex(None)
    assert engine.search_image(engine.records.image_file_path(1), k=1)  # served again


def test_a_reindex_counts_only_the_new_models_vectors(engine):
    """Between the re-index mark and the old vectors' removal (two steps of
    ``Library.switch_model``), a refused search said "509 of 509 images embedded", then "0 of
    509": the vectors still there are the old model's, and count as none."""
    health = engine.store.health
    images = engine.store.counts()["images"]
    health.set_reindex("another-model")  # marked; the old model's vectors not dropped yet
    try:
        with pytest.raises(ReindexingError, match=f"\\(0 of {images} images embedded\\)"):
            engine.guard.live(health.serving_state())
    finally:
        health.set_reindex(None)
    model = health.serving_state().model
    health.set_reindex(model.name)  # the new model bound: its vectors count
    try:
        with pytest.raises(ReindexingError, match=f"\\({images} of {images} images embedded"):
            engine.guard.live(health.serving_state())
    finally:
        health.set_reindex(None)
