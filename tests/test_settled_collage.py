"""A collage that one of its pictures settles is still looked at for its other pictures - but
only when that picture fills a part of the query, so a copy of a whole photo pays nothing.

The scorer embeds the query's collage cells (``QueryRegions.cells``) only when its best copy
is under ``LOCAL_WITNESS_Z`` and its plain cosine with the query's views is under
``REGION_COSINE``; each cell's best match then goes to the key points of its cell.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from models import ImageAnalyzer, collage_cells, open_model
from search.descriptor import (
    DescriptorConfig,
    QueryRegions,
    QueryScorer,
)
from tests.synthetic_scorer import near_unit, random_units, synthetic_scorer


def _scorer(library: np.ndarray) -> QueryScorer:
    """Plain space; z = cosine / 0.1 (robust and calibrated): a sure copy from cosine 0.6,
    ``LOCAL_WITNESS_Z`` (10) beyond any cosine."""
    config = DescriptorConfig(whiten=False, labels=0.0, expand=0, rotations=1, frames=False)
    return synthetic_scorer(library, config, 0.1, candidates=5, whitened=False)


class _Check:
    """The key points: record what is asked, confirm image 7."""

    def __init__(self) -> None:
        self.asked: list[tuple[list[tuple[int, int]], bool]] = []

    def __call__(self, ids, copy, tiles, tiles_only=False):  # type: ignore[no-untyped-def]
        self.asked.append(([(int(i), p) for i, p in tiles], tiles_only))
        out = np.array(copy, np.float32)
        if 7 in list(ids) and any(i == 7 for i, _ in tiles):
            out[list(ids).index(7)] = 0.99
        return out


def _regions(query: np.ndarray, cells: np.ndarray, calls: list[str]) -> QueryRegions:
    def parts() -> tuple[np.ndarray, int]:
        calls.append("parts")
        return cells, len(cells)

    def cell_rows() -> np.ndarray:
        calls.append("cells")
        return cells

    return QueryRegions(parts, cell_rows, lambda: query)


def test_a_collage_settled_by_one_picture_has_its_other_cells_checked() -> None:
    rng = np.random.default_rng(3)
    library = random_units(rng, 40)
    query = near_unit(rng, library[5], 0.7)[None]  # a sure copy (z 7) filling part of the query
    cells = np.stack([near_unit(rng, library[5], 0.95), near_unit(rng, library[7], 0.3)])
    calls: list[str] = []
    check = _Check()
    hits = _scorer(library).search(query, k=3, regions=_regions(query, cells, calls), local=check)
    assert calls == ["cells"]  # settled by its views: the cells alone, no tiles
    assert check.asked == [([(5, 0), (7, 1)], True)]  # each cell's best, by its cell alone
    assert {h.id for h in hits[:2]} == {5, 7}  # the second picture found by its cell


def test_a_copy_of_the_whole_photo_embeds_no_cells() -> None:
    rng = np.random.default_rng(4)
    library = random_units(rng, 40)
    query = near_unit(rng, library[5], 0.9)[None]  # z 9: under LOCAL_WITNESS_Z, but plain 0.9
    cells = np.stack([near_unit(rng, library[7], 0.3), random_units(rng, 1)[0]])
    calls: list[str] = []
    check = _Check()
    hits = _scorer(library).search(query, k=3, regions=_regions(query, cells, calls), local=check)
    assert calls == [] and check.asked == []  # nothing embedded, no key points asked
    assert hits[0].id == 5 and all(h.id != 7 for h in hits)


def test_a_query_without_cells_asks_nothing_more() -> None:
    rng = np.random.default_rng(5)
    library = random_units(rng, 40)
    query = near_unit(rng, library[5], 0.7)[None]
    calls: list[str] = []
    check = _Check()
    cells = np.zeros((0, 256), np.float32)
    hits = _scorer(library).search(query, k=3, regions=_regions(query, cells, calls), local=check)
    assert calls == ["cells"] and check.asked == [] and hits[0].id == 5


def test_a_query_embeds_its_cells_alone_when_asked(data_dir: Path, models_dir: Path) -> None:
    """``ViewSet.cells``: one model input per collage cell (no tiles, no halves), named as the
    query's pieces (where a hit's key points are cut from); nothing for a plain photo."""
    photos = sorted((data_dir / "hymenoptera" / "images" / "val").rglob("*.jpg"))[:4]
    canvas = Image.new("RGB", (2 * 200 + 12, 2 * 150 + 12), "white")
    for n, photo in enumerate(photos):
        tile = ImageOps.fit(Image.open(photo).convert("RGB"), (200, 150))
        canvas.paste(tile, (4 + (n % 2) * 204, 4 + (n // 2) * 154))
    with ImageAnalyzer(open_model(None, [models_dir], threads=1), decode_workers=0) as analyzer:
        views = analyzer.analyze_views(canvas, rotations=(0,))
        cells = views.cells()
        boxes = collage_cells(canvas) or []
        assert len(boxes) == 4 and cells.shape == (4, views.embeddings.shape[1])
        w, h = canvas.size
        assert views.pieces == tuple((a / w, b / h, c / w, d / h) for a, b, c, d in boxes)
        alone = analyzer.analyze(canvas.crop(boxes[0])).embedding
        assert float(cells[0] @ alone) > 0.99  # the cell's own picture, as a query of it
        plain = analyzer.analyze_views(Image.open(photos[0]).convert("RGB"), rotations=(0,))
        assert plain.cells().shape == (0, views.embeddings.shape[1]) and plain.pieces == ()
