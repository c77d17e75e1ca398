"""Frame detection (screenshots, caption bars) and query views (turns, the framed photo)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from models import ImageAnalyzer, open_model
from models.frame import ContentBox, find_content_box
from models.grid_regions import label_components
from models.views import turn, view_images


@pytest.fixture(scope="module")
def photos(data_dir: Path) -> list[Path]:
    bees = sorted((data_dir / "hymenoptera/images/val/bees").glob("*.jpg"))[:6]
    return bees + sorted((data_dir / "ukbench_subset/images").glob("*.jpg"))[:4]


@pytest.fixture(scope="module")
def analyzer(models_dir: Path):
    with ImageAnalyzer(
        open_model(None, [models_dir], threads=1), decode_workers=0, frames=True
    ) as an:
        yield an


def screenshot(photo: Image.Image, size=(1280, 800), at=(700, 200), width=420) -> Image.Image:
    """A photo pasted small into a flat app-like canvas with bars and text lines."""
    canvas = Image.new("RGB", size, (246, 246, 248))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, size[0], 60), fill=(59, 89, 152))
    draw.text((20, 18), "my feed", fill=(255, 255, 255), font=ImageFont.load_default(size=24))
    draw.rectangle((0, 60, 220, size[1]), fill=(234, 234, 236))
    for k in range(6):
        draw.rounded_rectangle((20, 100 + 40 * k, 170, 114 + 40 * k), 5, fill=(200, 200, 206))
    small = photo.resize((width, round(photo.height * width / photo.width)))
    canvas.paste(small, at)
    for k in range(3):
        y = at[1] + small.height + 16 + 22 * k
        draw.rounded_rectangle((at[0], y, at[0] + 300, y + 10), 4, fill=(200, 200, 206))
    return canvas


def caption(photo: Image.Image) -> Image.Image:
    bar = photo.height // 4
    out = Image.new("RGB", (photo.width, photo.height + 2 * bar), (255, 255, 255))
    out.paste(photo, (0, bar))
    draw = ImageDraw.Draw(out)
    font = ImageFont.load_default(size=bar // 2)
    draw.text((photo.width / 2, bar / 2), "when you see it", fill=(0, 0, 0), font=font, anchor="mm")
    draw.text(
        (photo.width / 2, photo.height + 1.5 * bar), "wow", fill=(0, 0, 0), font=font, anchor="mm"
    )
    return out


def iou(box: ContentBox, expect: tuple[float, float, float, float]) -> float:
    left, t = max(box.left, expect[0]), max(box.top, expect[1])
    r, b = min(box.right, expect[2]), min(box.bottom, expect[3])
    inter = max(0.0, r - left) * max(0.0, b - t)
    area = (expect[2] - expect[0]) * (expect[3] - expect[1])
    return inter / (box.area + area - inter)


def test_screenshot_frame_is_found_and_dominant(photos: list[Path]) -> None:
    with Image.open(photos[0]) as im:
        photo = im.convert("RGB")
    shot = screenshot(photo)
    h = round(photo.height * 420 / photo.width)
    box = find_content_box(shot)
    assert box is not None and box.dominant and box.fill > 0.9
    assert iou(box, (700 / 1280, 200 / 800, 1120 / 1280, (200 + h) / 800)) > 0.85
    # The same in greyscale and as RGBA works too (modes are converted).
    assert find_content_box(shot.convert("L")) is not None
    assert find_content_box(shot.convert("RGBA")) is not None


def _jpeg(img: Image.Image, quality: int) -> Image.Image:
    import io

    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    with Image.open(io.BytesIO(buf.getvalue())) as out:
        return out.convert("RGB")


@pytest.mark.parametrize(("side", "quality"), [(120, 90), (96, 15), (80, 90)])
def test_shrunk_screenshot_frame_is_found(photos: list[Path], side: int, quality: int) -> None:
    """A screenshot re-posted as a thumbnail (the photo 25-40 px wide, maybe JPEG'd): the bars
    and text lines blur into the photo and flat colours turn noisy; the relaxed pass still
    finds the photo (the strict one alone did not for these)."""
    with Image.open(photos[5]) as im:
        photo = im.convert("RGB")
    shot = screenshot(photo)
    h = round(photo.height * 420 / photo.width)
    thumb = _jpeg(shot.resize((side, round(side * 800 / 1280)), Image.Resampling.LANCZOS), quality)
    box = find_content_box(thumb)
    assert box is not None and box.dominant
    assert iou(box, (700 / 1280, 200 / 800, 1120 / 1280, (200 + h) / 800)) > 0.5, box


def test_smooth_backgrounds_of_small_photos_are_not_frames(photos: list[Path]) -> None:
    """The relaxed tolerances apply to thumbnails only; a small photo with a smooth background
    and a small subject is not a frame either."""
    ys, xs = np.mgrid[0:180, 0:240].astype(np.float32)
    smooth = np.stack([90 + xs / 8, 140 + ys / 10, 80 + (xs + ys) / 20], axis=-1)
    img = Image.fromarray(smooth.astype(np.uint8))
    with Image.open(photos[0]) as im:
        img.paste(im.convert("RGB").resize((40, 30)), (150, 60))
    assert find_content_box(_jpeg(img, 40)) is None
    for path in photos[:4]:
        with Image.open(path) as im:
            assert find_content_box(_jpeg(im.convert("RGB").resize((120, 90)), 20)) is None


def test_caption_bars_are_a_frame_but_not_dominant(photos: list[Path]) -> None:
    with Image.open(photos[1]) as im:
        photo = im.convert("RGB")
    box = find_content_box(caption(photo))
    assert box is not None and not box.dominant
    assert iou(box, (0.0, 1 / 6, 1.0, 5 / 6)) > 0.85


def test_real_photos_and_tiny_images_are_not_framed(photos: list[Path]) -> None:
    for path in photos:
        with Image.open(path) as im:
            assert find_content_box(im.convert("RGB")) is None, path.name
    assert find_content_box(Image.new("RGB", (10, 8), (255, 255, 255))) is None
    assert find_content_box(Image.new("RGB", (300, 200), (30, 30, 30))) is None  # all frame


def test_label_components_matches_flood_fill() -> None:
    rng = np.random.default_rng(5)
    for _ in range(50):
        mask = rng.random((13, 17)) < 0.5
        labels = label_components(mask)
        assert ((labels > 0) == mask).all()
        # Two 4-neighbours that are both set always share a label, and every label is one
        # connected piece: its cells reach each other through same-label neighbours.
        same_right = mask[:, 1:] & mask[:, :-1]
        same_down = mask[1:] & mask[:-1]
        assert (labels[:, 1:][same_right] == labels[:, :-1][same_right]).all()
        assert (labels[1:][same_down] == labels[:-1][same_down]).all()
        for k in range(1, labels.max() + 1):
            cells = set(zip(*np.nonzero(labels == k), strict=True))
            seen, todo = set(), [next(iter(cells))]
            while todo:
                y, x = todo.pop()
                if (y, x) in seen:
                    continue
                seen.add((y, x))
                todo += [c for c in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)) if c in cells]
            assert seen == cells


def test_pixel_box_is_never_empty() -> None:
    box = ContentBox(0.5, 0.5, 0.5001, 0.5001, fill=1.0)
    left, top, right, bottom = box.pixel_box(10, 10)
    assert right > left and bottom > top
    assert box.crop(Image.new("RGB", (10, 10))).size == (right - left, bottom - top)


def test_index_side_frame_vector_matches_the_original(
    analyzer: ImageAnalyzer, photos: list[Path]
) -> None:
    with Image.open(photos[2]) as im:
        photo = im.convert("RGB")
    shot, plain = analyzer.analyze_batch([screenshot(photo), photo])
    assert plain.frame_embedding is None and plain.frame_box is None
    assert shot.frame_box is not None and shot.frame_embedding is not None
    whole = float(shot.embedding @ plain.embedding)
    framed = float(shot.frame_embedding @ plain.embedding)
    assert framed > 0.8 and framed > whole + 0.3, (whole, framed)


@pytest.mark.parametrize("angle", [-33, -8, 6, 21])
def test_a_photo_turned_on_filled_corners_is_stood_upright(
    analyzer: ImageAnalyzer, photos: list[Path], angle: int
) -> None:
    """A photo turned with ``expand`` (corners filled black or with a colour): its framed
    vector is the upright photo's, far closer to the original than the tilted canvas."""
    with Image.open(photos[1]) as im:
        photo = im.convert("RGB")
    fill = (0, 0, 0) if angle % 2 else (40, 160, 220)
    turned = photo.rotate(angle, Image.Resampling.BICUBIC, expand=True, fillcolor=fill)
    shot, plain = analyzer.analyze_batch([turned, photo])
    box = shot.frame_box
    assert box is not None and shot.frame_embedding is not None
    assert abs(box.angle + angle) < 1.5, box  # stood upright: turned back by the angle
    upright = box.crop(turned)
    assert abs(upright.width / upright.height - photo.width / photo.height) < 0.1
    whole = float(shot.embedding @ plain.embedding)
    framed = float(shot.frame_embedding @ plain.embedding)
    assert framed > 0.9 and framed > whole, (whole, framed)
    views = analyzer.analyze_views(turned, rotations=(0,))
    assert views.names == ("full", "frame")
    assert float(views.embeddings[1] @ plain.embedding) > 0.9


@pytest.mark.parametrize("angle", [-15, 8, 24])
def test_a_photo_turned_in_place_is_stood_upright(
    analyzer: ImageAnalyzer, photos: list[Path], angle: int
) -> None:
    """A photo turned without growing its canvas (its own corners cut off, the canvas's
    filled), and a cut of a turned photo that keeps two filled corners: stood upright."""
    with Image.open(photos[4]) as im:
        photo = im.convert("RGB")
    in_place = photo.rotate(angle, Image.Resampling.BICUBIC)
    grown = photo.rotate(angle, Image.Resampling.BICUBIC, expand=True)
    right_part = grown.crop((grown.width * 3 // 10, 0, grown.width, grown.height))
    original = analyzer.analyze(photo).embedding
    for turned in (in_place, right_part):
        box = find_content_box(turned)
        assert box is not None and abs(box.angle + angle) < 1.5, (angle, box)
        whole = float(analyzer.analyze(turned).embedding @ original)
        upright = float(analyzer.analyze(box.crop(turned)).embedding @ original)
        assert upright > whole + 0.02, (angle, whole, upright)
    upright = box.crop(in_place) if (box := find_content_box(in_place)) else None
    assert upright is not None and upright.width > 0.9 * photo.width


def test_real_photos_are_not_taken_for_tilted_ones(data_dir: Path) -> None:
    """Photos with flat dark corners, skies, plain backgrounds: none is stood upright (a
    tilt needs two clean filled corners of one colour that agree)."""
    paths = sorted((data_dir / "hymenoptera/images/val").rglob("*.jpg"))
    paths += sorted((data_dir / "ukbench_subset/images").glob("*.jpg"))
    tilted = []
    for path in paths:
        with Image.open(path) as im:
            im.draft("RGB", (224, 224))
            image = im.convert("RGB")
        box = find_content_box(image)
        if box is not None and box.angle:
            tilted.append(path.name)
    assert len(paths) > 150 and not tilted


def test_query_views_undo_turns_and_frames(analyzer: ImageAnalyzer, photos: list[Path]) -> None:
    with Image.open(photos[3]) as im:
        photo = im.convert("RGB")
    original = analyzer.analyze(photo).embedding
    turned = turn(photo, 90)
    vs = analyzer.analyze_views(turned)
    assert vs.names == ("full", "full@90", "full@180", "full@270") and vs.frame is None
    assert np.allclose(vs.embeddings[0], analyzer.analyze(turned).embedding, atol=1e-6)
    best = float((vs.embeddings @ original).max())
    assert best > 0.97 and best > float(vs.embeddings[0] @ original) + 0.1
    shot = analyzer.analyze_views(screenshot(turn(photo, 180)), rotations=(0, 180))
    assert shot.names == ("full", "full@180", "frame", "frame@180")
    assert list(shot.primary) == [2, 3]  # the screenshot's own views describe the frame
    assert float((shot.embeddings[shot.primary] @ original).max()) > 0.8
    # A region of interest is what the user wants: no frame is looked for inside it.
    roi = analyzer.analyze_views(screenshot(photo), roi=(0.5, 0.2, 0.9, 0.8), rotations=(0,))
    assert roi.names == ("full",) and roi.frame is None
    with pytest.raises(ValueError):
        analyzer.analyze_views(photo, rotations=(90, 0))
    with pytest.raises(ValueError):
        turn(photo, 45)


def test_view_images_names_and_sizes(photos: list[Path]) -> None:
    with Image.open(photos[4]) as im:
        photo = im.convert("RGB")
    box = ContentBox(0.25, 0.25, 0.75, 0.75, fill=1.0)
    views = view_images(photo, (0, 90), box)
    assert [n for n, _ in views] == ["full", "full@90", "frame", "frame@90"]
    assert views[1][1].size == (photo.height, photo.width)
    assert views[2][1].size == box.crop(photo).size
