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
from search.query import SearchEngine
from tests.engine_library import index_library, make_settings

CELL, GUTTER = 150, 4


def _photos(data_dir: Path, n: int, start: int = 0) -> list[Path]:
    return sorted((data_dir / "hymenoptera" / "images" / "val").rglob("*.jpg"))[start : start + n]


def _jpeg(image: Image.Image, path: Path, quality: int = 88) -> Image.Image:
    image.save(path, quality=quality)
    return Image.open(path)


def grid(photos: list[Path], side: int = 3, gutter: int = GUTTER) -> Image.Image:
    """``side`` x ``side`` photos (row by row) with white gutters and border."""
    size = side * CELL + (side + 1) * gutter
    canvas = Image.new("RGB", (size, size), "white")
    for n, photo in enumerate(photos[: side * side]):
        tile = ImageOps.fit(Image.open(photo).convert("RGB"), (CELL, CELL))
        canvas.paste(
            tile, (gutter + (n % side) * (CELL + gutter), gutter + (n // side) * (CELL + gutter))
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
    for seed in range(3):  # nine photos each: three of the library, six others
        rng = np.random.default_rng(seed)
        inside = [library[i] for i in rng.choice(len(library), 3, replace=False)]
        others = _photos(data_dir, 6, 40 + 6 * seed)
        order = rng.permutation(9)
        tiles = [(inside + others)[i] for i in order]
        queries.append((_jpeg(grid(tiles), tmp_path / f"grid{seed}.jpg").filename, inside))
    with SearchEngine.open(settings) as engine:
        for path, inside in queries:
            first = engine.search_image(path, k=5)[0]
            assert Path(first.path).name in {p.name for p in inside}, (path, first)
            assert first.duplicate, first
        monkeypatch.setattr("models.views.collage_cells", lambda image: None)  # the 2x2 tiles
        firsts = [engine.search_image(path, k=5)[0] for path, _ in queries]
    found = [f for f, (_, inside) in zip(firsts, queries, strict=True) if f.duplicate]
    assert len(found) < len(queries), found  # what the 2x2 split alone gives
    assert all(Path(f.path).name in names for f in found)
