"""`dedup` keeps a photo, not an app's screenshot of it; nor a crop over a photo with walls.

A screenshot of a photo - an app's title bar, side panel or toolbars and the canvas around
the picture - has more pixels than the photo, and the keeper rules' ``resolution`` kept it:
the report listed the untouched photo among the duplicates to delete (an audit: a 700 x 660
screenshot kept over its 500 x 500 photo). Its bands are of a few flat colours, no one of
them most of a band, and the stored key points of such a picture are found in the photo
inside it (:func:`models.find_content_box` at the key points' draft): both kept the padded
check (:mod:`search.dedup.padded`) from it. Now bands of flat steps are plain too, held to
more: an original whose two-tone wall, or sky, a crop cut away stays the keeper.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from search.dedup.keeper import DedupImage
from search.dedup.padded import PaddedKeepers, plain_bands
from search.descriptor import local_features
from tests.test_dedup_padded_keeper import _assert_originals_kept, _keepers

BEES = "hymenoptera/images/val/bees"
ANTS = "hymenoptera/images/val/ants"
Colour = tuple[int, int, int]


def _text(draw: ImageDraw.ImageDraw, at: tuple[int, int], words: str, ink: Colour, size: int):
    draw.text(at, words, fill=ink, font=ImageFont.load_default(size=size))


def _desktop(photo: Image.Image) -> Image.Image:
    """A light desktop viewer: a dark title bar, a side panel of folder names, a canvas."""
    w, h = photo.size
    title, panel, gap = 34, 140, 22
    out = Image.new("RGB", (panel + w + 2 * gap, title + h + 2 * gap), (240, 240, 243))
    draw = ImageDraw.Draw(out)
    draw.rectangle([0, 0, out.width, title - 1], fill=(44, 48, 58))
    _text(draw, (12, 9), "Photos - IMG_0412.jpg", (255, 255, 255), 15)
    draw.rectangle([0, title, panel - 1, out.height], fill=(212, 214, 222))
    for n, y in enumerate(range(title + 14, out.height - 20, 26)):
        _text(draw, (14, y), ["Pictures", "Holiday 2019", "Garden", "Exports"][n % 4], (0,) * 3, 13)
    out.paste(photo, (panel + gap, title + gap))
    return out


def _toolbars(photo: Image.Image) -> Image.Image:
    """A phone viewer: white toolbars above and below, the photo on black, full width."""
    w, h = photo.size
    bar, gap = 46, 34
    out = Image.new("RGB", (w, h + 2 * (bar + gap)), (0, 0, 0))
    draw = ImageDraw.Draw(out)
    draw.rectangle([0, 0, w, bar - 1], fill=(250, 250, 250))
    draw.rectangle([0, out.height - bar, w, out.height], fill=(250, 250, 250))
    _text(draw, (10, 14), "< Albums     IMG_2041     Edit", (20, 20, 20), 16)
    _text(draw, (10, out.height - bar + 14), "Share    Favourite    Delete", (0, 90, 220), 16)
    out.paste(photo, (0, bar + gap))
    return out


def _dark_viewer(photo: Image.Image) -> Image.Image:
    """A dark-theme viewer: a header, a status bar of the photo's settings, a dark canvas."""
    w, h = photo.size
    header, status, gap, side = 38, 58, 28, 44
    out = Image.new("RGB", (w + 2 * side, header + h + 2 * gap + status), (20, 20, 23))
    draw = ImageDraw.Draw(out)
    draw.rectangle([0, 0, out.width, header - 1], fill=(72, 72, 80))
    _text(draw, (14, 11), "Library  >  Develop  >  DSC_8812.NEF", (205, 205, 210), 14)
    draw.rectangle([0, out.height - status, out.width, out.height], fill=(46, 46, 52))
    _text(draw, (14, out.height - status + 10), "1/24   ISO 200   f/2.8   1/250 s", (180,) * 3, 14)
    _text(draw, (14, out.height - status + 32), "3 stars   Keywords: garden", (150,) * 3, 12)
    out.paste(photo, (side, header + gap))
    return out


def _photo(path: Path) -> Image.Image:
    with Image.open(path) as opened:
        return opened.convert("RGB")


LAYOUTS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "desktop": _desktop,
    "toolbars": _toolbars,
    "dark": _dark_viewer,
}
#: photos whose edges the indexer's frame finder lets run into the app's canvas in that layout
#: (light or dark edges, as the audit's ant on white): no frame stored, the padded check decides
UNFRAMED = {
    "ants/desert_ant.jpg": "desktop",
    "bees/2525379273_dcb26a516d.jpg": "toolbars",
    "ants/1247887232_edcb61246c.jpg": "toolbars",
    "ants/ants-devouring-remains-of-large-dead-insect-on-red-tile-in-Stellenbosch-South-Africa-"
    "closeup-1-DHD.jpg": "dark",
}


def test_a_photo_is_kept_over_its_screenshots_in_an_app(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    expected = {}
    for n, (name, kind) in enumerate(UNFRAMED.items()):
        photo = _photo(data_dir / "hymenoptera" / "images" / "val" / name)
        if max(photo.size) > 800:
            photo.thumbnail((800, 800))
        photo.save(photos / f"photo{n}.jpg", quality=92)
        LAYOUTS[kind](photo).save(photos / f"photo{n}-{kind}.jpg", quality=90)
        expected[f"photo{n}-{kind}.jpg"] = f"photo{n}.jpg"
    # a library of 8 has the prior's copy threshold; these heavy copies score under it
    keeper_of = _keepers(tmp_path, models_dir, photos, "--threshold", "0.5")
    _assert_originals_kept(keeper_of, expected)


def _image(image_id: int, picture: Image.Image) -> DedupImage:
    return DedupImage(image_id, f"{image_id}.jpg", 1, picture.width, picture.height)


def _marked(keeper: Image.Image, member: Image.Image, stored: bool) -> bool:
    """Whether :class:`PaddedKeepers` marks ``keeper`` framed around ``member``'s picture;
    ``stored``: with key points as the library keeps them (found inside a frame where
    :func:`models.find_content_box` finds one), else made from the whole pictures."""
    pictures = {1: keeper, 2: member}
    key_points = (lambda i: local_features(pictures[i], mirrored=True)) if stored else None
    check = PaddedKeepers(pictures.get, key_points)
    return check(_image(1, keeper), [_image(2, member)]) is not None


def test_the_padded_check_takes_an_apps_screenshot_and_no_crop_of_a_wall_or_sky(
    data_dir: Path,
) -> None:
    """The padded check alone (no frame stored by the indexer), with key points made from
    the pictures and as the library stores them: a screenshot in each layout is framed; an
    original whose two-tone wall or sky a crop cut away is not."""
    sources = sorted((data_dir / BEES).glob("*.jpg"))[10:13]
    for source, (kind, layout) in zip(sources, LAYOUTS.items(), strict=True):
        photo = _photo(source)
        shot = _jpeg(layout(photo))
        for stored in (False, True):
            assert _marked(shot, photo, stored), (source.name, kind, stored)
    for n, source in enumerate(sorted((data_dir / ANTS).glob("*.jpg"))[10:13]):
        original, crop = _walled(np.asarray(_photo(source)), n)
        for stored in (False, True):
            assert not _marked(_jpeg(original), _jpeg(crop), stored), (source.name, n, stored)


def _jpeg(picture: Image.Image | np.ndarray, quality: int = 90) -> Image.Image:
    if isinstance(picture, np.ndarray):
        picture = Image.fromarray(np.ascontiguousarray(picture))
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=quality)
    with Image.open(io.BytesIO(out.getvalue())) as opened:
        return opened.convert("RGB")


def _sky(width: int, height: int, low: float, high: float) -> np.ndarray:
    """A sky's gradient, ``low`` to ``high`` blue levels top to bottom."""
    levels = np.linspace(low, high, height)[:, None, None] * np.array([0.55, 0.75, 1.0])
    return np.broadcast_to(levels, (height, width, 3)).astype(np.uint8)


def _walled(scene: np.ndarray, kind: int) -> tuple[np.ndarray, np.ndarray]:
    """An original made of ``scene`` with flat regions, and its crop that cut them away:
    0, a white wall and a dark beam along the top (a wall's few levels of noise in them);
    1, the wall going on down the left side, behind the scene, half of it cut away; 2, a
    sky going on into the scene's top, and a flat dark ground below."""
    h, w = scene.shape[:2]
    wall, beam = round(0.16 * h), round(0.09 * h)
    rng = np.random.default_rng(kind)
    white = np.full((wall, w, 3), (238, 236, 230)) + rng.normal(0, 3, (wall, w, 1))
    dark = np.full((beam, w, 3), (48, 40, 34)) + rng.normal(0, 3, (beam, w, 1))
    if kind == 2:
        sky = _sky(w, wall + beam + round(0.1 * h), 150, 200)
        ground = np.full((round(0.1 * h), w, 3), (32, 30, 30))
        original = np.concatenate([sky[: wall + beam], scene, ground]).astype(np.uint8)
        original[wall + beam : wall + beam + round(0.1 * h)] = sky[wall + beam :]
        return original, original[wall + beam + round(0.05 * h) : wall + beam + h]
    original = np.clip(np.concatenate([white, dark, scene]), 0, 255).astype(np.uint8)
    if kind == 0:
        return original, original[wall + beam :]
    side = round(0.2 * w)
    original[:, :side] = original[:1, :side]  # the wall, down the side
    return original, original[wall + beam :, side // 2 :]


def test_a_photo_with_a_two_tone_wall_or_a_sky_is_kept_over_its_crop(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    expected = {}
    for n, source in enumerate(sorted((data_dir / ANTS).glob("*.jpg"))[10:13]):
        original, crop = _walled(np.asarray(_photo(source)), n)
        Image.fromarray(original).save(photos / f"photo{n}.jpg", quality=92)
        Image.fromarray(np.ascontiguousarray(crop)).save(photos / f"photo{n}-crop.jpg", quality=90)
        expected[f"photo{n}-crop.jpg"] = f"photo{n}.jpg"
    for source in sorted((data_dir / BEES).glob("*.jpg"))[20:26]:
        _photo(source).save(photos / f"other-{source.name}", quality=90)
    keeper_of = _keepers(tmp_path, models_dir, photos, "--threshold", "0.5")
    _assert_originals_kept(keeper_of, expected)


def test_bands_of_flat_steps_are_plain_and_a_crops_cut_is_not() -> None:
    """Bands of a few flat colours around a picture are plain; the same around a crop whose
    edge goes on into a band (in a third of its length: under most of it), or of a sky's
    gradient, or along one side only, are not."""
    rng = np.random.default_rng(7)
    scene = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
    framed = np.full((300, 400, 3), (236, 236, 240), np.uint8)  # a canvas
    framed[:24] = (50, 50, 60)  # a title bar
    framed[24:, :56] = (210, 210, 215)  # a side panel
    for y in range(40, 300, 24):  # its rows of text
        framed[y : y + 6, 8:48:3] = 0
    framed[40:280, 70:390] = scene
    box = (70 / 400, 40 / 300, 390 / 400, 280 / 300)
    assert plain_bands(framed, scene, box)  # a screenshot: title bar, side panel, canvas
    continued = framed.copy()
    continued[24:40, 70:180] = (50, 50, 60)  # a dark beam across the top goes on ...
    continued[40:48, 70:180] = (50, 50, 60)  # ... into the crop's top edge, a third of it
    assert not plain_bands(continued, continued[40:280, 70:390], box)
    above = framed.copy()
    above[:40] = _sky(400, 40, 150, 200)  # a sky above: each line along the top one level
    assert not plain_bands(above, scene, box)
    beside = framed.copy()
    beside[:, :70] = _sky(70, 300, 150, 200)  # ... down the side: each line all the levels
    assert not plain_bands(beside, scene, box)
    one_side = framed[:280, 70:]  # title bar and canvas along the top only: a cut-away wall
    assert not plain_bands(one_side, scene, (0.0, 40 / 280, 1.0, 1.0))
