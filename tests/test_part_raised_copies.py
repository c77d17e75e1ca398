"""A part of the query (a collage's cell) raises a copy's score only where its match is
evidence: a flat part (a blank cell, a patch of one colour) matches any flat picture of its
colour by its vector, far past the duplicate decision - such a picture was flagged as the best
copy of queries of other scenes - so a uniform picture is never raised by a part; and a lesser
copy a part raised is asked of that part's key points (the engine's witness saw no parts
before), and refuted, is ranked by the whole query's score again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from search.descriptor import NOT_IN_ITS_PART, DescriptorConfig, QueryRegions, ScoredHit
from search.query import SearchEngine
from tests.engine_library import index_library, make_settings
from tests.synthetic_scorer import near_unit, random_units, synthetic_scorer


def _flat(size: tuple[int, int], colour: tuple[int, int, int], seed: int) -> Image.Image:
    """One colour with a little sensor noise (its key points are the noise's corners)."""
    noise = np.random.default_rng(seed).normal(0, 3, (size[1], size[0], 3))
    return Image.fromarray(np.clip(np.array(colour, float) + noise, 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def flat_cell_library(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path):  # type: ignore[no-untyped-def]
    """Ten photos and a flat lime picture indexed; the query is a 2x2 collage of two photos
    the library lacks, one it holds (cell 1) and a lime cell of a slightly other green."""
    root = tmp_path_factory.mktemp("flat-cell")
    (root / "photos").mkdir()
    photos = sorted((data_dir / "hymenoptera" / "images" / "val").rglob("*.jpg"))
    for photo in photos[:10]:
        Image.open(photo).convert("RGB").save(root / "photos" / f"{photo.stem}.jpg", quality=92)
    _flat((640, 480), (150, 230, 70), 1).save(root / "photos" / "lime.jpg", quality=90)
    cells = [Image.open(p).convert("RGB").resize((400, 300)) for p in (photos[20], photos[5])]
    cells += [Image.open(photos[21]).convert("RGB").resize((400, 300))]
    cells += [_flat((400, 300), (140, 235, 60), 2)]
    collage = Image.new("RGB", (806, 606), "white")
    for n, cell in enumerate(cells):
        collage.paste(cell, ((n % 2) * 406, (n // 2) * 306))
    collage.save(root / "query.jpg", quality=90)
    settings = make_settings(root / "lib", models_dir)
    index_library(settings, [root / "photos"])
    return root, settings, photos[5].stem


def test_a_flat_cell_of_a_collage_is_no_copy_of_a_flat_picture(flat_cell_library) -> None:  # type: ignore[no-untyped-def]
    root, settings, held = flat_cell_library
    with SearchEngine.open(settings) as engine:
        hits = engine.search_image(root / "query.jpg", k=20)  # every image
    by_name = {Path(h.path).stem: h for h in hits}
    # the photo the collage holds: found in its cell, its key points match that cell's
    assert hits[0].path.endswith(f"{held}.jpg") and hits[0].duplicate and hits[0].part
    # the flat picture matched the lime cell's vector (0.98) but none of its key points:
    # no copy, and ranked by the whole collage's score, as the library's other photos are
    lime = by_name["lime"]
    assert not lime.duplicate and lime.part is None
    assert lime.copy_score is not None and lime.copy_score < 0.5


def test_a_flat_picture_is_not_raised_by_a_part_and_a_refuted_part_match_falls_back() -> None:
    """The scorer: a part's match raises a photo's copy score (a collage's picture), never a
    uniform picture's (any flat patch of its colour matches it); a lesser copy that a part
    raised and whose key points that part refutes says so and is ranked by the whole query's
    score again, its part forgotten."""
    rng = np.random.default_rng(0)
    library = random_units(rng, 12, 64)  # 0 a photo, 1 a flat picture, 2 a look-alike
    parts = np.stack([near_unit(rng, library[n], 0.85) for n in (0, 1, 2)])  # z 8.5
    query = near_unit(rng, library[5], 0.2)[None]  # the whole collage: no copy of any
    config = DescriptorConfig(rotations=1, frames=False, labels=0.0, expand=1)
    asked: list[tuple[int, int | None]] = []

    def witness(
        image_id: int,
        better: list[int],
        part: int | None = None,
        after: int = 0,
        spare: bool = False,
    ) -> bool:
        asked.append((image_id, part))
        return image_id != 2  # the look-alike's key points are not those of its part

    def search(uniform: tuple[int, ...]) -> dict[int, ScoredHit]:
        scorer = synthetic_scorer(library, config, spread=0.1, uniform=uniform)
        regions = QueryRegions(parts=lambda: (parts, 3))
        hits = scorer.search(query, k=12, regions=regions, witness=witness)
        return {h.id: h for h in hits}

    flat_too = search(())  # (were the flat picture a photo, its part would raise it)
    assert flat_too[1].part == 1 and flat_too[1].copy > 0.8
    hits = search((1,))
    assert hits[0].part == 0 and hits[0].duplicate and hits[0].copy > 0.8
    assert hits[1].part is None and not hits[1].duplicate and hits[1].copy < 0.3
    assert (2, 2) in asked  # the look-alike its part raised: asked of that part's key points
    assert hits[2].part is None and not hits[2].duplicate and hits[2].copy < 0.3
    assert hits[2].lookalike == NOT_IN_ITS_PART
    assert list(hits).index(2) > list(hits).index(0)
