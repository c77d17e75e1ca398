"""Query-side regional evidence, the per-state row cache and turned model inputs: cheap checks
with synthetic vectors (no model, no library)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from models.views import tiles, turn, turn_input
from search.descriptor import (
    Calibration,
    Descriptor,
    DescriptorConfig,
    PreparedImage,
    QueryRegions,
    QueryScorer,
    RowCache,
    StoredImage,
)

DIM = 256  # random unit vectors: cosines of sd 1/16, the background below


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.normal(size=(n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _scorer(library: np.ndarray, reads: list[int] | None = None, cache: RowCache | None = None):
    """A scorer over ``library`` rows (plain space; background of random unit vectors)."""
    config = DescriptorConfig(whiten=False, labels=0.0, expand=0, rotations=1, frames=False)
    descriptor = Descriptor(config, calibration=Calibration(0.0, 0.0625, 0.0, 0.0625))

    def neighbours(rows: np.ndarray, k: int) -> np.ndarray:
        return np.argsort(-(rows @ library.T), axis=1)[:, :k]

    def stored(ids):  # type: ignore[no-untyped-def]
        if reads is not None:
            reads.extend(ids)
        return {i: StoredImage(library[i]) for i in ids}

    return QueryScorer(descriptor, neighbours, stored, candidates=5, cache=cache)


def test_a_tile_that_is_a_sure_copy_finds_the_picture_the_whole_query_misses() -> None:
    """A collage: the whole query matches nothing; one of its tiles is the library photo."""
    rng = np.random.default_rng(0)
    library = _unit(rng, 40)
    query = _unit(rng, 1)  # unrelated to every stored image
    tile_rows = np.concatenate([_unit(rng, 3), library[7:8] * 0.98 + _unit(rng, 1) * 0.02])
    scorer = _scorer(library)
    plain = scorer.search(query, k=3)
    assert 7 not in [h.id for h in plain]
    hits = scorer.search(query, k=3, regions=QueryRegions(lambda: (tile_rows, 0)))
    assert scorer.regional is True
    assert hits[0].id == 7 and hits[0].z is not None and hits[0].z > 6


def test_a_weak_tile_match_changes_nothing_and_a_sure_answer_asks_no_tiles() -> None:
    rng = np.random.default_rng(1)
    library = _unit(rng, 40)
    query = _unit(rng, 1)
    weak = library[3:4] * 0.35 + _unit(rng, 1) * 0.94  # z ~ 5.5: look-alike level
    weak /= np.linalg.norm(weak)
    scorer = _scorer(library)
    before = scorer.search(query, k=5)
    after = scorer.search(query, k=5, regions=QueryRegions(lambda: (weak, 0)))
    assert [h.id for h in after] == [h.id for h in before]
    assert np.allclose([h.copy for h in after], [h.copy for h in before], atol=1e-6)
    asked: list[int] = []

    def tiles_asked() -> tuple[np.ndarray, int]:
        asked.append(1)
        return weak, 0

    sure = library[11:12]  # the query is a stored image's copy: settled by its own view
    hits = scorer.search(sure * 0.99 + _unit(rng, 1) * 0.01, k=3, regions=QueryRegions(tiles_asked))
    assert hits[0].id == 11 and not asked and scorer.regional is False


def test_row_cache_serves_the_next_query_and_stays_in_budget() -> None:
    rng = np.random.default_rng(2)
    library = _unit(rng, 30)
    reads: list[int] = []
    cache = RowCache()
    scorer = _scorer(library, reads, cache)
    query = _unit(rng, 1)
    first = scorer.search(query, k=5)
    count = len(reads)
    assert count and len(cache) == count
    again = scorer.search(query, k=5)
    assert again == first and len(reads) == count  # nothing read twice
    small = RowCache(budget=5 * PreparedImage(library[:1]).nbytes)
    small.put({i: PreparedImage(library[i : i + 1]) for i in range(20)})
    assert 0 < len(small) <= 5
    assert small.take([19])[0]  # the newest entries stay
    small.forget([19])
    assert not small.take([19])[0]


def test_turned_model_input_is_the_turned_image_input() -> None:
    """A quarter-turned view's model input made from the upright one equals the input made
    from the turned image (central crop and square resize commute with quarter turns)."""
    from models.onnx_model import RESAMPLE

    rng = np.random.default_rng(3)
    image = Image.fromarray(rng.integers(0, 255, (300, 410, 3), dtype=np.uint8))

    def prepare(img: Image.Image) -> np.ndarray:
        w, h = img.size
        box = (w * 0.0625, h * 0.0625, w * 0.9375, h * 0.9375)
        return np.asarray(img.resize((224, 224), RESAMPLE, box=box))

    upright = prepare(image)
    for degrees in (90, 180, 270):
        made = turn_input(upright, degrees).astype(int)
        assert np.abs(made - prepare(turn(image, degrees)).astype(int)).max() <= 1
    parts = tiles(image, 2)
    assert [p.size for p in parts] == [(205, 150)] * 4


def test_turned_model_input_is_numpys_quarter_turn_exactly() -> None:
    """The turned views are turned pixel by pixel (each pixel's channels kept together):
    the very arrays numpy's element-wise quarter turn gives, for the uint8 input of the
    classifier models and the float32 input of the embedder, from strided inputs too."""
    rng = np.random.default_rng(5)
    inputs = [
        rng.integers(0, 256, (224, 224, 3), dtype=np.uint8),
        rng.random((224, 224, 3), dtype=np.float32),
        rng.integers(0, 256, (200, 240, 3), dtype=np.uint8)[:, ::-1],  # not contiguous
    ]
    for tensor in inputs:
        for degrees in (0, 90, 180, 270, 360, -90, 450):
            made = turn_input(tensor, degrees)
            expected = np.rot90(tensor, -(degrees % 360) // 90)
            assert made.dtype == tensor.dtype and made.shape == expected.shape
            assert np.array_equal(made, expected)
