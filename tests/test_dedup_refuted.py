"""`dedup --verify` keeps apart different photos that its vectors put over the threshold.

Different photos put through one strong filter - a halftone screen, pixelation, the same
collage frame - look alike to the model: over photos-120's second unseen copy set a whole
library's halftones formed one group of 78 (``bench/dedup_kinds.py --family unseen2``). With
``--verify``, such a pair is refuted when key points find no transform of one image onto the
other and their grey-level layouts do not correlate either; copies keep their groups, those
whose key points fail too (a squashed copy) by their layouts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from models import image_layout
from search.dedup import DedupImage, VerifiedNeighbours, find_duplicates

pytest.importorskip("cv2")
THRESHOLD = 0.8


def _halftone(img: Image.Image, step: int = 5) -> Image.Image:
    """``img`` printed as black dots on white, one a ``step``-pixel cell, sized by its darkness."""
    grey = np.asarray(img.convert("L"), np.float32) / 255
    out = Image.new("L", img.size, 255)
    draw = ImageDraw.Draw(out)
    for y in range(0, img.height, step):
        for x in range(0, img.width, step):
            r = (1 - grey[y : y + step, x : x + step].mean()) * step * 0.7
            cx, cy = x + step / 2, y + step / 2
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=0)
    return out.convert("RGB")


def _library(tmp_path: Path, data_dir: Path) -> dict[str, Path]:
    """Three hymenoptera photos, each printed as a halftone, and the first also squashed to
    55 % of its width (no similarity transform maps it onto its photo)."""
    sources = sorted((data_dir / "hymenoptera" / "images").rglob("*.jpg"))[:15:5]
    files: dict[str, Path] = {}
    for n, source in enumerate(sources):
        photo = Image.open(source).convert("RGB")
        for name, image in ((f"photo{n}", photo), (f"halftone{n}", _halftone(photo))):
            files[name] = tmp_path / f"{name}.png"
            image.save(files[name])
        if n == 0:
            files["squashed0"] = tmp_path / "squashed0.png"
            photo.resize((photo.width * 55 // 100, photo.height)).save(files["squashed0"])
    return files


def _groups(files: dict[str, Path], verify: bool) -> list[set[str]]:
    """Groups of ``files`` when the vectors put every pair at 0.9, over the threshold."""
    names = list(files)
    images = [
        DedupImage(n, str(files[name]), files[name].stat().st_size, 500, 375)
        for n, name in enumerate(names)
    ]
    layouts = {n: image_layout(Image.open(files[name])) for n, name in enumerate(names)}

    def everyone(ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        found = np.array([[i, *(j for j in range(len(names)) if j != i)] for i in ids])
        scores = np.full(found.shape, 0.9, np.float32)
        scores[:, 0] = 1.0
        return scores[:, :k], found[:, :k]

    holds = None
    if verify:
        verifier = VerifiedNeighbours(
            everyone,
            lambda image_id: files[names[image_id]],
            0.6,
            THRESHOLD,
            layouts=lambda ids: {i: layouts[i] for i in ids if i in layouts},
        )
        everyone, holds = verifier, verifier.holds  # type: ignore[assignment]
    result = find_duplicates(images, neighbours=everyone, threshold=THRESHOLD, holds=holds)
    return [{names[g.keeper.id], *(names[m.image.id] for m in g.members)} for g in result.groups]


def test_verify_keeps_halftones_of_different_photos_apart(tmp_path: Path, data_dir: Path) -> None:
    files = _library(tmp_path, data_dir)
    assert _groups(files, verify=False) == [set(files)]  # one group of everything
    groups = _groups(files, verify=True)
    for group in groups:  # each group one picture
        assert len({name[-1] for name in group}) == 1, groups
    # the squashed copy keeps its photo by their layouts (its key points find no transform)
    assert any({"photo0", "squashed0"} <= group for group in groups), groups


def test_a_refuted_pair_is_not_grouped_and_its_image_stays_free() -> None:
    """Star and complete linkage: a refuted image joins no group whose keeper refutes it;
    the others are grouped as before."""
    rng = np.random.default_rng(0)
    base = rng.normal(size=(2, 16))
    vectors = np.stack([base[0], base[0] + 0.05, base[0] + 0.1, base[1], base[1] + 0.05])
    vectors += rng.normal(scale=0.01, size=vectors.shape)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    images = [DedupImage(n, f"/p/{n}.jpg", 100, 2000 - n * 100, 1000) for n in range(5)]

    def holds(a: int, b: int) -> bool:  # 0 and 2 are two pictures, whatever their vectors
        return {a, b} != {0, 2}

    def grouped(**options: object) -> list[list[int]]:
        result = find_duplicates(images, vectors, threshold=0.9, **options)  # type: ignore[arg-type]
        return sorted([g.keeper.id, *sorted(m.image.id for m in g.members)] for g in result.groups)

    for linkage in ("star", "complete"):
        assert grouped(linkage=linkage) == [[0, 1, 2], [3, 4]]
        # 2 is left alone: the only group its vectors put it in refuted it
        assert grouped(linkage=linkage, holds=holds) == [[0, 1], [3, 4]], linkage
