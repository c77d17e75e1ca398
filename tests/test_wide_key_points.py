"""Key points confirm copies of wide and tall pictures: the inliers must spread over the
picture (``MIN_SPREAD``), and a picture more elongated than 4:3 holds them in a short band of
its short side - measured against the long side, true crops of 3.3:1 strips were refused
with 100-200 inliers (a blind hold-out's crops of a 500 x 181 photo among them), while the
overlay pairs the rule keeps out (stickers shared by different 4:3 scenes) are unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from search.descriptor import MIN_INLIERS, count_inliers, local_features


def _strips(data_dir: Path, count: int) -> list[Image.Image]:
    photos = sorted((data_dir / "hymenoptera" / "images").rglob("*.jpg"))
    out = []
    for path in photos:
        image = Image.open(path).convert("RGB")
        width, height = image.size
        if width >= 400 and len(out) < count:
            top = int(height * 0.35)
            out.append(image.crop((0, top, width, top + int(width * 0.3))))  # about 3.3:1
    return out


def test_crops_of_wide_and_tall_pictures_are_confirmed(data_dir: Path) -> None:
    confirmed = total = 0
    for strip in _strips(data_dir, 12):
        for picture in (strip, strip.transpose(Image.Transpose.ROTATE_90)):  # wide, then tall
            w, h = picture.size
            crop = picture.crop((int(w * 0.08), int(h * 0.02), int(w * 0.89), int(h * 0.69)))
            if h > w:  # the tall one cut along its own long side
                crop = picture.crop((int(w * 0.02), int(h * 0.08), int(w * 0.69), int(h * 0.89)))
            inliers = count_inliers(local_features(crop), local_features(picture, mirrored=False))
            confirmed += inliers >= MIN_INLIERS
            total += 1
    assert total == 24
    assert confirmed >= 20  # (the long side's spread: 1 of 12 wide ones)


def test_the_spread_asked_of_the_inliers_follows_the_pictures_short_side() -> None:
    """Inliers in a band 15 px deep (standard deviation) of a 4:3 picture are a cluster, as
    before (different 4:3 scenes under one set of stickers matched by 16-20 such inliers);
    of a 512 x 154 strip they span its short side."""
    from search.descriptor.verify import _spread

    rng = np.random.default_rng(0)
    band = np.column_stack([rng.uniform(0, 512, 200), rng.normal(70, 15.0, 200)])
    picture = np.zeros((8, 8), np.uint8)  # (the alignment picture: only its size is read)
    assert not _spread(band, (picture, (512, 384)))
    assert _spread(band, (picture, (512, 154)))
    assert _spread(band[:, ::-1], (picture, (154, 512)))  # tall: the same along x
    assert not _spread(band, None)  # no picture: the long side's spread, as before
