"""Crops are nominated by a window of their photo's stored layout.

A half crop (or a mirrored one) of a photo correlates with a window of the photo's 16 x 16
layout better than with any window of other photos, so the photo is nominated for the key
points however low its vector ranks; a candidate that does not stand out is not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from models import image_layout
from search.descriptor import (
    LAYOUT_MATCH,
    WINDOW_MATCH,
    layout_correlation,
    window_correlations,
    window_nominees,
)


def _photos(data_dir: Path, count: int) -> list[Image.Image]:
    files = sorted((data_dir / "hymenoptera" / "images" / "val").rglob("*.jpg"))[:count]
    return [Image.open(f).convert("RGB") for f in files]


def _library(photos: list[Image.Image]) -> tuple[dict[int, bytes], dict[int, float]]:
    layouts = {n: image_layout(p) for n, p in enumerate(photos)}
    return layouts, {n: p.width / p.height for n, p in enumerate(photos)}


def _crop(photo: Image.Image, box: tuple[float, float, float, float]) -> Image.Image:
    w, h = photo.size
    left, top, right, bottom = box
    return photo.crop((round(left * w), round(top * h), round(right * w), round(bottom * h)))


def test_crops_are_nominated_by_their_photos_window(data_dir: Path) -> None:
    """Every crop's photo has the best window; it is nominated unless another photo's window
    comes within the margin (one of these twelve: 0.933 vs 0.930)."""
    photos = _photos(data_dir, 24)
    layouts, aspects = _library(photos)
    boxes = [(0.0, 0.0, 0.55, 0.6), (0.4, 0.35, 1.0, 1.0), (0.2, 0.1, 0.8, 0.7)]
    nominated = 0
    for n in (0, 7, 15, 23):
        for k, box in enumerate(boxes):
            query = _crop(photos[n], box)
            query = query.resize((300, round(300 * query.height / query.width)))
            if k == 2:
                query = ImageOps.mirror(query)
            found = window_correlations(query, list(layouts.values()), list(aspects.values()))
            assert int(np.argmax(found)) == n and found[n] >= WINDOW_MATCH, (n, box, found[n])
            nominees = window_nominees(query, layouts, aspects)
            assert nominees in ([], [(n, float(found[n]))])
            nominated += bool(nominees)
    assert nominated >= 11


def test_a_nominee_must_stand_out_from_other_photos(data_dir: Path) -> None:
    """A copy of the nominee beside it (the same layout) does not take its margin away; a
    different picture that matches as well (here: the photo's mirror image) does."""
    photos = _photos(data_dir, 24)
    layouts, aspects = _library(photos)
    query = _crop(photos[5], (0.1, 0.2, 0.7, 0.8))
    twice = {**layouts, 99: layouts[5]}, {**aspects, 99: aspects[5]}  # photo 5 stored twice
    nominated = window_nominees(query, *twice)
    assert len(nominated) == 1 and nominated[0][0] in (5, 99)

    cells = np.frombuffer(layouts[5], np.uint8).reshape(16, 16)
    mirrored = np.ascontiguousarray(cells[:, ::-1]).tobytes()
    assert abs(layout_correlation(layouts[5], mirrored)) < LAYOUT_MATCH  # not a copy by layout
    both = {**layouts, 99: mirrored}, {**aspects, 99: aspects[5]}
    assert window_nominees(query, *both) == []
    assert window_nominees(query, layouts, aspects)[0][0] == 5
