"""A copy that a part of the query raised is believed only when that part's key points match
it - the best copy too: a flat part of a collage (a blank cell, a patch of sky) matches any flat
image of its colour by its vector, far past the duplicate decision, and such an image was
flagged as the query's best copy. Refuted, it is ranked by the whole query's score again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from search.descriptor import NOT_IN_ITS_PART, DescriptorConfig
from search.descriptor.witness import duplicate_decisions
from search.query import SearchEngine
from tests.engine_library import index_library, make_settings
from tests.synthetic_scorer import synthetic_scorer, unit_vector


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
        hits = engine.search_image(root / "query.jpg", k=5)
    by_name = {Path(h.path).stem: h for h in hits}
    # the photo the collage holds: found in its cell, its key points match that cell's
    assert hits[0].path.endswith(f"{held}.jpg") and hits[0].duplicate and hits[0].part
    # the flat picture matched the lime cell's vector (0.98) but none of its key points:
    # no copy, and ranked by the whole collage's score, as the library's other photos are
    lime = by_name["lime"]
    assert not lime.duplicate and lime.part is None
    assert lime.copy_score is not None and lime.copy_score < 0.5


def test_the_best_copy_a_part_raised_is_asked_of_that_part() -> None:
    """Duplicate decisions: a part-raised best copy (nothing better than it) is asked of its
    part's key points, even alone and far past the decision; refuted, it says so and the
    copies under it are matched with the query's key points alone."""
    # z 18 (raised by part 2), then a lesser copy in the band: z 9
    library = np.stack(
        [unit_vector(16, (0, 0.9), (1, 0.436)), unit_vector(16, (0, 0.45), (2, 0.893))]
    )
    config = DescriptorConfig(rotations=1, frames=False, labels=0.0, expand=1, regions=False)
    descriptor = synthetic_scorer(library, config, spread=0.05).descriptor
    query = unit_vector(16, (0, 1.0))[None]
    copy = (library @ query[0]).astype(np.float32)
    asked: list[tuple[int, list[int], int | None]] = []

    def witness(image_id: int, better: list[int], part: int | None = None, after: int = 0) -> bool:
        asked.append((image_id, list(better), part))
        return part is None  # the whole query's key points match; the part's do not

    def rows_of(ids):  # type: ignore[no-untyped-def]
        return library[list(ids)], np.arange(len(ids))

    alone = duplicate_decisions(
        descriptor, query, copy[:1], [0], rows_of, local=witness, evidenced={0: 2}
    )
    assert alone is not None and alone.duplicate.tolist() == [False]
    assert alone.lookalike == {0: NOT_IN_ITS_PART} and asked == [(0, [], 2)]
    asked.clear()
    both = duplicate_decisions(
        descriptor, query, copy, [0, 1], rows_of, local=witness, evidenced={0: 2}
    )
    assert both is not None and both.duplicate.tolist() == [False, True]
    assert asked == [(0, [], 2), (1, [], None)]  # not matched with the refuted one's
    asked.clear()
    plain = duplicate_decisions(descriptor, query, copy[:1], [0], rows_of, local=witness)
    assert plain is not None and plain.duplicate.tolist() == [True] and asked == []
