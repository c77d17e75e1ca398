"""A collage is searched by its own pictures: cells cut apart by gutters and seams.

A 3x3 grid of photos, two photos side by side or a photo pasted into another describes none of
its pictures as a whole, and the fixed 2x2 split cuts most of a 3x3 grid's photos in pieces.
:func:`models.collage_cells` finds the cells; a query left unsettled embeds them instead of
the 2x2 tiles.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter, ImageOps

from models import collage_cells
from search.descriptor import (
    DescriptorConfig,
    QueryRegions,
    QueryScorer,
)
from search.query import SearchEngine
from tests.engine_library import index_library, make_settings
from tests.synthetic_scorer import near_unit, random_units, synthetic_scorer
from web.present import copy_text

CELL, GUTTER = 150, 4


def _photos(data_dir: Path, n: int, start: int = 0) -> list[Path]:
    return sorted((data_dir / "hymenoptera" / "images" / "val").rglob("*.jpg"))[start : start + n]


def _jpeg(image: Image.Image, path: Path, quality: int = 88) -> Image.Image:
    image.save(path, quality=quality)
    return Image.open(path)


def grid(photos: list[Path], side: int = 3, gutter: int = GUTTER, cell: int = CELL) -> Image.Image:
    """``side`` x ``side`` photos (row by row) with white gutters and border."""
    size = side * cell + (side + 1) * gutter
    canvas = Image.new("RGB", (size, size), "white")
    for n, photo in enumerate(photos[: side * side]):
        tile = ImageOps.fit(Image.open(photo).convert("RGB"), (cell, cell))
        canvas.paste(
            tile, (gutter + (n % side) * (cell + gutter), gutter + (n // side) * (cell + gutter))
        )
    return canvas


def _near(found: tuple[int, int, int, int], box: tuple[int, int, int, int], slack: int = 4) -> bool:
    return all(abs(a - b) <= slack for a, b in zip(found, box, strict=True))


@pytest.mark.parametrize("gutter", [2, 6])
def test_a_grid_of_photos_is_cut_into_its_photos(
    data_dir: Path, tmp_path: Path, gutter: int
) -> None:
    collage = _jpeg(grid(_photos(data_dir, 9), gutter=gutter), tmp_path / "grid.jpg")
    cells = collage_cells(collage)
    assert cells is not None and len(cells) == 9, cells
    for n in range(9):
        left, top = gutter + (n % 3) * (CELL + gutter), gutter + (n // 3) * (CELL + gutter)
        assert any(_near(c, (left, top, left + CELL, top + CELL)) for c in cells), (n, cells)
    # 3x larger (a large picture is looked at reduced): the same cells, 3x larger
    large = collage_cells(collage.resize((collage.width * 3, collage.height * 3))) or []
    assert len(large) == 9, large
    for a, b, c, d in cells:
        assert any(_near(x, (a * 3, b * 3, c * 3, d * 3), slack=12) for x in large), large


def test_photos_side_by_side_are_cut_at_their_seam(data_dir: Path, tmp_path: Path) -> None:
    left, right = (
        Image.open(p).convert("RGB").resize((400, 300)) for p in _photos(data_dir, 2, 20)
    )
    pair = Image.new("RGB", (800, 300))
    pair.paste(left, (0, 0))
    pair.paste(right, (400, 0))
    cells = collage_cells(_jpeg(pair, tmp_path / "pair.jpg"))
    assert cells is not None and len(cells) == 2, cells
    halves = [(0, 0, 400, 300), (400, 0, 800, 300)]
    assert all(_near(c, h) for c, h in zip(sorted(cells), halves, strict=True)), cells


def test_a_photo_pasted_into_another_is_mostly_one_of_its_cells(
    data_dir: Path, tmp_path: Path
) -> None:
    photos = _photos(data_dir, 12, 30)
    found = 0
    for n in range(6):  # seams are steps of colour: two photos alike at an edge hide it
        background, photo = (Image.open(p).convert("RGB") for p in photos[2 * n : 2 * n + 2])
        canvas = background.resize((640, 480))
        left, top = 40 + 30 * n, 30 + 20 * n
        canvas.paste(photo.resize((360, 270)), (left, top))
        cells = collage_cells(_jpeg(canvas, tmp_path / f"pip{n}.jpg")) or []
        found += any(_near(c, (left, top, left + 360, top + 270)) for c in cells)
    assert found >= 4, found


def test_photos_flat_pictures_and_small_pictures_have_no_cells(data_dir: Path) -> None:
    photos = sorted((data_dir / "hymenoptera" / "images" / "val").rglob("*.jpg"))[:60]
    found = [p.name for p in photos if collage_cells(Image.open(p)) is not None]
    assert len(found) <= 2, found  # a straight full-length edge can pass for a seam
    assert collage_cells(Image.new("RGB", (640, 480), (40, 90, 160))) is None
    blurred = Image.open(photos[0]).convert("RGB").filter(ImageFilter.GaussianBlur(12))
    assert collage_cells(blurred) is None  # a smooth picture: no gutter, no seam
    small = grid(_photos(data_dir, 9)).resize((60, 60))
    assert collage_cells(small) is None  # its cells would be under MIN_SIDE
    assert collage_cells(grid(_photos(data_dir, 9)).convert("L")) is not None


def _scorer(library: np.ndarray) -> QueryScorer:
    """A scorer over ``library`` rows (plain space; background of random unit vectors)."""
    config = DescriptorConfig(whiten=False, labels=0.0, expand=0, rotations=1, frames=False)
    return synthetic_scorer(library, config, 0.0625, candidates=5, whitened=False)


def test_a_cells_weak_match_goes_to_that_cells_key_points() -> None:
    """A 3x3 grid's photo matches its original at a cosine no sure copy has: the cell's best
    matches go to the key points (of that cell) whatever their z; a quarter's do not."""
    rng = np.random.default_rng(7)
    library = random_units(rng, 40)
    scorer = _scorer(library)
    weak = 0.3 * library[7] + np.sqrt(1 - 0.09) * random_units(rng, 1)[0]  # cosine ~0.3: z ~5
    weak /= np.linalg.norm(weak)
    asked: list[list[tuple[int, int]]] = []

    def check(ids, copy, tiles):  # type: ignore[no-untyped-def]
        asked.append([(int(i), p) for i, p in tiles])
        out = np.array(copy, np.float32)
        for i, _ in tiles:
            if i == 7:
                out[list(ids).index(7)] = 0.99  # the cell's key points confirm it
        return out

    query = random_units(rng, 1)  # the whole grid matches nothing
    cells = np.concatenate(
        [random_units(rng, 2), weak[None], random_units(rng, 4)]
    )  # 3 cells, 4 tiles
    hits = scorer.search(query, k=3, regions=QueryRegions(lambda: (cells, 3)), local=check)
    assert (7, 2) in asked[0] and hits[0].id == 7  # nominated with its cell (row 2)
    quarters = np.concatenate([weak[None], random_units(rng, 3)])  # no cells: tiles alone
    scorer.search(query, k=3, regions=QueryRegions(lambda: (quarters, 0)), local=check)
    assert all(i != 7 for i, _ in asked[1])  # a quarter's weak match is not nominated


def test_a_collage_one_picture_settled_has_its_other_cells_checked() -> None:
    """One cell of a collage holds a sure copy (raised: the query is settled); the other
    cells' best matches still go to the key points of their cells, alone (no grey band)."""
    rng = np.random.default_rng(8)
    library = random_units(rng, 40)
    scorer = _scorer(library)

    asked: list[tuple[list[tuple[int, int]], bool]] = []

    def check(ids, copy, tiles, tiles_only=False):  # type: ignore[no-untyped-def]
        asked.append(([(int(i), p) for i, p in tiles], tiles_only))
        out = np.array(copy, np.float32)
        if 7 in list(ids):
            out[list(ids).index(7)] = 0.99  # the second cell's key points confirm it
        return out

    cells = np.stack(
        [near_unit(rng, library[5], 0.95), random_units(rng, 1)[0], near_unit(rng, library[7], 0.3)]
    )
    rows = np.concatenate([cells, random_units(rng, 4)]).astype(np.float32)  # 3 cells, 4 tiles
    hits = scorer.search(
        random_units(rng, 1), k=3, regions=QueryRegions(lambda: (rows, 3)), local=check
    )
    assert hits[0].id in (5, 7) and {h.id for h in hits[:2]} == {5, 7}, hits
    assert len(asked) == 1 and asked[0][1] is True and (7, 2) in asked[0][0], asked
    assert {h.id: h.part for h in hits}[5] == 0  # raised by its cell


@pytest.mark.slow
def test_a_grid_query_finds_one_of_its_photos(
    data_dir: Path, models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("cv2")
    photos = tmp_path / "photos"
    photos.mkdir()
    library = _photos(data_dir, 40)
    for photo in library:
        Image.open(photo).convert("RGB").save(photos / photo.name, quality=92)
    settings = make_settings(tmp_path / "lib", models_dir)
    index_library(settings, [photos])
    names = {p.name for p in library}
    queries = []
    for seed, side in enumerate((3, 3, 3, 4, 4, 4)):  # one photo of the library each
        rng = np.random.default_rng(seed)
        inside = [library[int(rng.integers(len(library)))]]
        others = _photos(data_dir, side * side - 1, 40 + 3 * seed)
        tiles = [*others[: seed % side], *inside, *others[seed % side :]]
        made = grid(tiles, side=side, cell=150 if side == 3 else 110)
        queries.append((_jpeg(made, tmp_path / f"grid{seed}.jpg").filename, inside))
    with SearchEngine.open(settings) as engine:
        for seed, (path, inside) in enumerate(queries):
            first = engine.search_image(path, k=5)[0]
            assert Path(first.path).name in {p.name for p in inside}, (path, first)
            assert first.duplicate, first
            # the hit says where in the query it was found: the photo's cell
            side, cell = (3, 150) if seed < 3 else (4, 110)
            size = side * cell + (side + 1) * GUTTER
            col, row = (seed % side) % side, (seed % side) // side
            left, top = GUTTER + col * (cell + GUTTER), GUTTER + row * (cell + GUTTER)
            box = (left / size, top / size, (left + cell) / size, (top + cell) / size)
            assert first.part is not None and all(
                abs(a - b) <= 0.02 for a, b in zip(first.part, box, strict=True)
            ), (first.part, box)
            assert "found in a part of the query" in copy_text(first)
            assert first.to_dict()["part"] == list(first.part)
        # three photos of the library in one grid: each flagged, found in its own cell
        three = [library[5], library[17], library[29]]
        others = _photos(data_dir, 6, 60)
        made = grid([three[0], *others[:3], three[1], *others[3:], three[2]])
        hits = engine.search_image(_jpeg(made, tmp_path / "three.jpg").filename, k=6)
        flagged = {Path(h.path).name: h.part for h in hits if h.duplicate}
        assert {p.name for p in three} <= set(flagged), flagged
        assert len({flagged[p.name] for p in three}) == 3  # three different cells
        whole = engine.search_image(photos / library[0].name, k=3)[0]
        assert whole.part is None and whole.to_dict()["part"] is None
        monkeypatch.setattr("models.views.collage_cells", lambda image: None)  # the 2x2 tiles
        firsts = [engine.search_image(path, k=5)[0] for path, _ in queries]
    found = [f for f, (_, inside) in zip(firsts, queries, strict=True) if f.duplicate]
    assert len(found) <= len(queries) // 2, found  # what the 2x2 split alone gives
    assert all(Path(f.path).name in names for f in found)


def test_a_grids_rows_are_the_lines_its_columns_share(data_dir: Path, tmp_path: Path) -> None:
    """A photo whose bottom is as white as the gutter under it hides that gutter from its own
    column, and a photo with a hard straight edge across it looks cut in two to its own
    column: the rows the other columns share cut both columns where the grid does."""
    photos = [
        ImageOps.fit(Image.open(p).convert("RGB"), (CELL, CELL)) for p in _photos(data_dir, 9)
    ]
    photos[0].paste((255, 255, 255), (0, CELL - 30, CELL, CELL))  # a white bottom over a gutter
    photos[4].paste((20, 20, 20), (0, 0, CELL, CELL // 2))  # a hard edge across the middle
    size = 3 * CELL + 2 * 2
    canvas = Image.new("RGB", (size, size), "white")
    for n, photo in enumerate(photos):
        canvas.paste(photo, ((n % 3) * (CELL + 2), (n // 3) * (CELL + 2)))
    cells = collage_cells(_jpeg(canvas, tmp_path / "grid.jpg")) or []
    for n in range(9):
        left, top = (n % 3) * (CELL + 2), (n // 3) * (CELL + 2)
        assert any(_near(c, (left, top, left + CELL, top + CELL)) for c in cells[:9]), (n, cells)


def test_edges_lined_up_across_a_strip_cut_no_other_photo(data_dir: Path, tmp_path: Path) -> None:
    """Three photos in a row with white gutters, two of them with a hard straight edge at one
    height (two horizons): that is no row of a grid, and the third photo stays whole."""
    photos = [ImageOps.fit(Image.open(p).convert("RGB"), (CELL, 200)) for p in _photos(data_dir, 3)]
    for photo in photos[:2]:
        photo.paste((30, 60, 120), (0, 0, CELL, 80))  # a flat blue sky down to one line
    canvas = Image.new("RGB", (3 * CELL + 4 * 8, 200 + 16), "white")
    for n, photo in enumerate(photos):
        canvas.paste(photo, (8 + n * (CELL + 8), 8))
    cells = collage_cells(_jpeg(canvas, tmp_path / "strip.jpg")) or []
    third = (8 + 2 * (CELL + 8), 8, 8 + 2 * (CELL + 8) + CELL, 208)
    assert any(_near(c, third) for c in cells), cells
