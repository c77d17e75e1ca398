"""Small queries compared by their pixels (search.descriptor.pixel_match): a thumbnail of a
photo correlates with the photo at the thumbnail's size, other photos do not."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps

from search.descriptor import (
    Calibration,
    grey_levels,
    pixel_candidates,
    pixel_copy_score,
    pixel_correlation,
    thumbnail,
)
from search.descriptor.pixel_match import PIXEL_CHECKED, PIXEL_MATCH


def shrunk(image: Image.Image, side: int, quality: int = 70) -> Image.Image:
    small = image.copy()
    small.thumbnail((side, side), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


@pytest.fixture(scope="module")
def photos(data_dir: Path) -> list[Image.Image]:
    paths = sorted((data_dir / "hymenoptera/images/val").rglob("*.jpg"))[::6][:20]
    return [Image.open(p).convert("RGB") for p in paths]


def test_a_thumbnail_matches_its_photo_and_no_other(photos: list[Image.Image]) -> None:
    for side in (32, 48, 96, 160):
        for k, photo in enumerate(photos):
            edits = [
                shrunk(photo, side),
                shrunk(ImageOps.mirror(photo), side),
                shrunk(ImageOps.grayscale(photo).convert("RGB"), side),
                shrunk(ImageEnhance.Brightness(photo).enhance(1.3), side, quality=40),
            ]
            for edit in edits:
                assert pixel_correlation(grey_levels(edit), thumbnail(photo)) >= PIXEL_MATCH
            query = grey_levels(edits[0])
            others = [pixel_correlation(query, thumbnail(o)) for o in photos if o is not photo]
            assert max(others) < PIXEL_MATCH, (side, k, max(others))


def test_another_aspect_ratio_is_no_pixel_copy(photos: list[Image.Image]) -> None:
    photo = photos[0]
    w, h = photo.size
    cut = photo.crop((0, 0, int(w * 0.8), h))  # a crop: another shape, no pixel match
    assert pixel_correlation(grey_levels(shrunk(cut, 64)), thumbnail(photo)) == 0.0


def test_a_pixel_match_is_raised_into_the_confirmed_band() -> None:
    calibration = Calibration(median=0.3, spread=0.05, mean=0.3, sd=0.05)
    floor = calibration.duplicate_threshold(6.0)
    weak = 0.35
    assert pixel_copy_score(weak, 0.85, calibration) == weak  # below the match: unchanged
    low, high = pixel_copy_score(weak, 0.94, calibration), pixel_copy_score(weak, 0.99, calibration)
    assert floor <= low < high < 1.0  # a copy, placed by its correlation
    copy = np.array([0.5, 0.2, 1.0, 0.9999, 0.4], np.float32)  # 1.0: the query's own vector
    chosen = pixel_candidates(copy, calibration)
    assert chosen[:3] == [0, 4, 1] and 2 not in chosen and len(chosen) <= PIXEL_CHECKED
