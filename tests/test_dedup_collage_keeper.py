"""`dedup --verify` keeps a photo, not the collage made from it.

A 2x2 collage holding a photo in one cell has about the photo's pixels, and the keeper rules
preferred it: the report listed the photo among the duplicates to delete (37 of 176 groups of
the hold-out photos-120 copy set, ``bench/dedup_kinds.py``). A keeper whose collage cells hold
a member's picture at fewer pixels than the member now gives way to it; a photo that merely
has straight edges (cells of its own) keeps its place before its crops and enlargements.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from models import collage_cells
from search.dedup import (
    CollageKeepers,
    DedupImage,
    DedupResult,
    VerifiedNeighbours,
    find_duplicates,
    render_html,
    to_json,
)

pytest.importorskip("cv2")
THRESHOLD = 0.8
GUTTER = 6
#: a shared photo whose straight edges give it collage cells (1-2 % of photos have them)
WITH_CELLS = "hymenoptera/images/train/ants/392382602_1b7bed32fa.jpg"


def _collage(photo: Image.Image, others: list[Image.Image], where: int) -> Image.Image:
    """``photo`` as one cell of a 2x2 collage at half its size, ``others`` in the other cells,
    white gutters between (the hold-out sets' collage)."""
    tile = (photo.width // 2, photo.height // 2)
    out = Image.new("RGB", (2 * tile[0] + GUTTER, 2 * tile[1] + GUTTER), "white")
    pictures = [*others[:where], photo, *others[where:]]
    for k, picture in enumerate(pictures[:4]):
        at = ((k % 2) * (tile[0] + GUTTER), (k // 2) * (tile[1] + GUTTER))
        out.paste(picture.convert("RGB").resize(tile, Image.Resampling.BILINEAR), at)
    return out


def _filled_collage(photo: Image.Image, others: list[Image.Image], side: int) -> Image.Image:
    """A 2x2 collage of square cells of ``side`` pixels, each picture fitted to its cell by a
    centre crop (as collage apps fill cells), ``photo`` in the last."""
    out = Image.new("RGB", (2 * side + GUTTER, 2 * side + GUTTER), "white")
    for k, picture in enumerate([*others[:3], photo]):
        cell = ImageOps.fit(picture.convert("RGB"), (side, side), Image.Resampling.BILINEAR)
        out.paste(cell, ((k % 2) * (side + GUTTER), (k // 2) * (side + GUTTER)))
    return out


def _hymenoptera(data_dir: Path, count: int) -> list[Path]:
    return sorted((data_dir / "hymenoptera" / "images").rglob("*.jpg"))[:count]


def _result(files: dict[str, Path], collages: bool) -> DedupResult:
    """The groups of ``files`` when the vectors put every pair at 0.9, over the threshold,
    under ``dedup --verify``'s checks, with the collage keepers or without."""
    names = list(files)
    images = []
    for n, name in enumerate(names):
        with Image.open(files[name]) as opened:
            size, kind = opened.size, opened.format
        images.append(
            DedupImage(n, str(files[name]), files[name].stat().st_size, *size, format=kind)
        )

    def everyone(ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        found = np.array([[i, *(j for j in range(len(names)) if j != i)] for i in ids])
        scores = np.full(found.shape, 0.9, np.float32)
        scores[:, 0] = 1.0
        return scores[:, :k], found[:, :k]

    verifier = VerifiedNeighbours(everyone, lambda i: files[names[i]], 0.6, THRESHOLD)
    return find_duplicates(
        images,
        neighbours=verifier,
        threshold=THRESHOLD,
        holds=verifier.holds,
        collage=CollageKeepers(verifier.picture, verifier.key_points_of) if collages else None,
    )


def _groups(files: dict[str, Path], collages: bool) -> list[tuple[str, list[DedupImage]]]:
    """(keeper, members) of :func:`_result`'s groups."""
    names = list(files)
    result = _result(files, collages)
    return [(names[g.keeper.id], [m.image for m in g.members]) for g in result.groups]


def test_a_collage_of_a_photo_gives_way_to_it(tmp_path: Path, data_dir: Path) -> None:
    photos = [Image.open(p).convert("RGB") for p in _hymenoptera(data_dir, 4)]
    photo = photos[0]
    files = {"photo": tmp_path / "photo.jpg", "collage": tmp_path / "collage.jpg"}
    photo.save(files["photo"], quality=90)
    collage = _collage(photo, photos[1:], where=3)
    assert collage_cells(collage) is not None
    assert collage.width * collage.height > photo.width * photo.height  # resolution prefers it
    collage.save(files["collage"], quality=90)
    files["copy"] = tmp_path / "copy.jpg"  # a smaller copy of the photo: follows the photo
    photo.resize((photo.width * 4 // 5, photo.height * 4 // 5)).save(files["copy"], quality=70)

    before = _groups(files, collages=False)
    assert [keeper for keeper, _ in before] == ["collage"]  # the photo was to be deleted

    [(keeper, members)] = _groups(files, collages=True)
    assert keeper == "photo"
    marked = {Path(m.path).stem: m for m in members}
    assert set(marked) == {"collage", "copy"}
    assert marked["collage"].collage and not marked["copy"].collage
    # its photo: the photo's cell, half the photo's size
    width, height = marked["collage"].content_size
    assert abs(width - photo.width // 2) <= 0.05 * photo.width
    assert abs(height - photo.height // 2) <= 0.05 * photo.height
    # the report says so, and why the photo is kept
    result = _result(files, collages=True)
    assert f"a collage: the picture in a {width}x{height} cell of it" in render_html(result)
    report = to_json(result)
    [group] = report["groups"]
    [member] = [m for m in group["members"] if Path(m["path"]).stem == "collage"]
    assert member["collage"] is True and member["photo_size"] == [width, height]
    assert report["stats"]["collage_keepers"] == 1


def test_a_collage_whose_cell_shows_a_centre_crop_of_the_photo_gives_way_to_it(
    tmp_path: Path, data_dir: Path
) -> None:
    """A cell filled with the photo's middle (a landscape photo in a square cell) holds no
    whole picture of it: a blind audit's report kept 17 such collages over their photos."""
    photos = [Image.open(p).convert("RGB") for p in _hymenoptera(data_dir, 8)]
    photo = next(p for p in photos if p.width >= 1.3 * p.height)  # a landscape photo
    side = round(0.7 * photo.height)
    collage = _filled_collage(photo, [p for p in photos if p is not photo], side)
    assert collage.width * collage.height > photo.width * photo.height  # resolution prefers it
    files = {"photo": tmp_path / "photo.jpg", "collage": tmp_path / "collage.jpg"}
    photo.save(files["photo"], quality=90)
    collage.save(files["collage"], quality=90)
    assert [keeper for keeper, _ in _groups(files, collages=False)] == ["collage"]
    [(keeper, [member])] = _groups(files, collages=True)
    assert keeper == "photo" and member.collage
    assert member.content_size == (side, side)  # its picture: the cell


def test_a_crop_through_a_photos_own_cells_leaves_the_photo_kept(
    tmp_path: Path, data_dir: Path
) -> None:
    """A crop that covers one of a photo's own cells (straight edges) and runs on into the
    next is no cell filled by a collage: the photo shows the rest of the crop there."""
    photo = Image.open(data_dir / WITH_CELLS).convert("RGB")
    cells = collage_cells(photo)
    assert cells is not None
    left, top, right, bottom = cells[0]
    pad_x, pad_y = round(0.15 * photo.width), round(0.15 * photo.height)
    box = (
        max(0, left - pad_x),
        max(0, top - pad_y),
        min(photo.width, right + pad_x),
        min(photo.height, bottom + pad_y),
    )
    files = {"photo": tmp_path / "photo.jpg", "crop": tmp_path / "crop.jpg"}
    photo.save(files["photo"], quality=92)
    photo.crop(box).save(files["crop"], quality=92)
    [(keeper, [member])] = _groups(files, collages=True)
    assert keeper == "photo" and not member.collage


def test_a_photo_with_straight_edges_keeps_its_place(tmp_path: Path, data_dir: Path) -> None:
    photo = Image.open(data_dir / WITH_CELLS).convert("RGB")
    cells = collage_cells(photo)
    assert cells is not None
    files = {"photo": tmp_path / "photo.jpg"}
    photo.save(files["photo"], quality=92)
    files["cell_crop"] = tmp_path / "cell_crop.jpg"  # a crop along its cut, at its scale
    photo.crop(cells[0]).save(files["cell_crop"], quality=92)
    files["enlarged"] = tmp_path / "enlarged.png"  # more pixels, a lossless re-save: spans all
    photo.resize((photo.width * 3 // 2, photo.height * 3 // 2)).save(files["enlarged"])

    [(keeper, members)] = _groups(files, collages=True)
    assert keeper == "photo"  # the format rule: a camera's JPEG before a PNG re-save
    assert {Path(m.path).stem for m in members} == {"cell_crop", "enlarged"}
    assert not any(m.collage for m in members)


def test_a_copy_of_an_image_found_to_be_a_crop_is_one_too() -> None:
    """A scale audit's `dedup` ended in an AssertionError traceback (every form, after 18 min
    at 31,749 images): a small JPEG judged a crop of a PNG's picture gave way to it, but its
    byte-identical copy kept no such mark and beat the PNG keeper on the frame rule."""
    from dataclasses import replace

    import numpy as np

    from search.dedup import DedupImage, find_duplicates

    png = DedupImage(1, "/p/img_000025.png", 9000, 363, 220, sha256="a", format="PNG")
    crop = DedupImage(2, "/p/img_000533.jpg", 3000, 180, 90, sha256="b", format="JPEG")
    copy = DedupImage(3, "/p/copy_000944.jpg", 3000, 180, 90, sha256="b", format="JPEG")
    vectors = np.tile(np.eye(1, 8, dtype=np.float32), (3, 1))

    def crop_of(keeper: DedupImage, rivals: list[DedupImage], _scores: object) -> object:
        if keeper.sha256 == "b" and any(r.id == png.id for r in rivals):
            return replace(keeper, crop=True)  # the JPEG shows a part of the PNG's picture
        return None

    result = find_duplicates([png, crop, copy], vectors, threshold=0.9, collage=crop_of)
    (group,) = result.groups
    assert group.keeper.id == png.id
    members = {m.image.id: m.image.crop for m in group.members}
    assert members == {crop.id: True, copy.id: True}


def test_the_augly_original_is_no_collage_of_its_own_copies(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """README's own near-duplicate set under `dedup --verify`: the original frame has straight
    edges that make cells, and a brightened copy (its tones differ inside the cell as outside)
    and a masked composite were taken for pictures filling a cell - the original was marked a
    collage, a blurred copy kept, the original listed to delete, the copies split in 4 groups."""
    import json

    from tests.cli_process import run_cli

    library = ["--library", "library", "--model-path", str(models_dir)]
    folder = str(data_dir / "near_duplicates")
    assert run_cli([*library, "index", "--no-progress", folder], tmp_path).returncode == 0
    done = run_cli([*library, "dedup", "--verify", "--json"], tmp_path)
    assert done.returncode == 0, done.stderr
    groups = json.loads(done.stdout)["groups"]
    augly = [g for g in groups if "augly_dfdc_1" in Path(g["keeper"]).name]
    assert len(augly) == 1, [g["keeper"] for g in groups]
    assert Path(augly[0]["keeper"]).name == "augly_dfdc_1.jpg", augly[0]["reason"]
    assert not any(m["collage"] for m in augly[0]["members"])
