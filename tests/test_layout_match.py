"""The grey-level layout (models.image_layout) and the nomination by rank correlation
(search.descriptor.layout_match), on real photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from models import LAYOUT_BYTES, image_layout, load_image
from search.descriptor import (
    LAYOUT_MATCH,
    layout_correlation,
    layout_matches,
    layout_nominees,
    layout_ranks,
)


@pytest.fixture(scope="module")
def photos(data_dir: Path) -> list[Image.Image]:
    paths = sorted((data_dir / "hymenoptera" / "images" / "val").rglob("*.jpg"))[:60]
    return [Image.open(p).convert("RGB") for p in paths]


def _sepia(image: Image.Image, inverted: bool = False) -> Image.Image:
    dark, light = ((40, 26, 13), (255, 240, 192))
    if inverted:
        dark, light = light, dark
    toned = ImageOps.colorize(ImageOps.grayscale(image), dark, light)
    return toned.point(lambda i: int(255 * (i / 255) ** 0.7))


def test_a_layout_is_the_whole_picture_in_16_by_16_grey_levels(photos) -> None:
    photo = photos[0]
    layout = image_layout(photo)
    assert len(layout) == LAYOUT_BYTES == 256
    smaller = image_layout(photo.resize((photo.width // 3, photo.height // 3)))
    assert layout_correlation(layout, smaller) > 0.98  # the decode size hardly matters
    assert image_layout(photo.convert("P")) == image_layout(photo.convert("P").convert("RGB"))
    assert len(image_layout(Image.new("RGBA", (5, 3)))) == LAYOUT_BYTES  # tiny, alpha


def test_rank_correlation_ignores_monotone_changes_and_signs_an_inversion() -> None:
    levels = np.random.default_rng(0).integers(0, 256, LAYOUT_BYTES).astype(np.uint8)
    a = levels.tobytes()
    assert layout_correlation(a, (levels // 3 + 40).astype(np.uint8).tobytes()) > 0.99
    assert layout_correlation(a, (255 - levels).tobytes()) < -0.99
    assert layout_correlation(a, bytes(LAYOUT_BYTES)) == 0.0  # uniform: correlates with none
    assert layout_ranks([]).shape == (0, LAYOUT_BYTES)
    rho = np.array([0.2, -0.97, np.nan, 0.9, 0.86])
    assert layout_matches(rho) == [(1, -0.97), (3, 0.9)]  # strongest first, at most two
    assert all(abs(r) >= LAYOUT_MATCH for _, r in layout_matches(rho, limit=5))


def test_a_toned_copy_nominates_its_photo_first(photos, tmp_path: Path) -> None:
    """Sepia and inverted duotone copies (saved as JPEG, read back as a query is): among 60
    photos the original is the first nominee, with the sign of the toning."""
    stored = {n: image_layout(p) for n, p in enumerate(photos)}
    for n in range(0, 60, 6):
        for inverted in (False, True):
            path = tmp_path / f"{n}-{inverted}.jpg"
            _sepia(photos[n], inverted).save(path, quality=80)
            query = image_layout(load_image(path).image)
            nominees = layout_nominees(query, stored)
            assert nominees and nominees[0][0] == n, (n, inverted, nominees)
            assert (nominees[0][1] < 0) == inverted
            assert layout_nominees(query, stored, skip=[n])[:1] != nominees[:1]
    assert layout_nominees(None, stored) == [] and layout_nominees(stored[0], {}) == []
