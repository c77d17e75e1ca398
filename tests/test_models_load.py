"""Decoding: odd modes, EXIF orientation, JPEG draft, ROI arithmetic (hostile files:
test_models_decode_errors.py)."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models import (
    OnnxModel,
    RegionOfInterest,
    RoiError,
    load_image,
    open_model,
    parse_roi,
    pixel_sha256,
)
from tests.decoding import bee_photo, cos, embed, make_big_jpeg, upright


@pytest.fixture(scope="session")
def model(models_dir: Path) -> OnnxModel:
    return open_model(None, [models_dir])


@pytest.fixture(scope="session")
def photo(data_dir: Path) -> Path:
    return bee_photo(data_dir)


@pytest.fixture(scope="session")
def photo2(data_dir: Path) -> Path:
    return sorted((data_dir / "hymenoptera/images/val/ants").glob("*.jpg"))[0]


@pytest.fixture(scope="session")
def big_jpeg(photo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12 MP JPEG made by upscaling a shared photo to 4000x3000."""
    return make_big_jpeg(photo, tmp_path_factory.mktemp("big") / "big.jpg")


# ---------------------------------------------------------------------------- modes


@pytest.mark.slow
def test_every_odd_mode_embeds_sensibly(model: OnnxModel, photo: Path, photo2: Path) -> None:
    rgb = upright(photo)
    base = embed(model, rgb)

    opaque = rgb.copy()
    opaque.putalpha(255)
    assert cos(embed(model, opaque), base) > 0.9999
    clear = rgb.copy()
    clear.putalpha(0)
    white = np.full((rgb.height, rgb.width, 3), 255, np.uint8)
    assert np.array_equal(np.asarray(load_image(clear).image), white)  # onto white
    la = rgb.convert("LA")
    grey = embed(model, rgb.convert("L"))
    assert cos(embed(model, la), grey) > 0.9999

    pal = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    pal.info["transparency"] = 0
    buf = io.BytesIO()
    pal.save(buf, "PNG")
    decoded = load_image(buf.getvalue())
    assert decoded.image.mode == "RGB"
    assert cos(embed(model, buf.getvalue()), base) > 0.8

    wide = Image.fromarray((np.asarray(rgb.convert("L"), np.uint16) * 257).astype(np.uint16))
    buf = io.BytesIO()
    wide.save(buf, "PNG")
    sixteen = load_image(buf.getvalue())
    assert Image.open(io.BytesIO(buf.getvalue())).mode.startswith("I")
    # Scaled, not clipped: the 8-bit grey image comes back exactly.
    assert np.array_equal(np.asarray(sixteen.image.convert("L")), np.asarray(rgb.convert("L")))
    assert cos(embed(model, buf.getvalue()), grey) > 0.9999

    buf = io.BytesIO()
    rgb.convert("CMYK").save(buf, "JPEG", quality=95)
    assert Image.open(io.BytesIO(buf.getvalue())).mode == "CMYK"
    assert cos(embed(model, buf.getvalue()), base) > 0.97

    bilevel = rgb.convert("1")
    assert load_image(bilevel).image.mode == "RGB"
    assert embed(model, bilevel).shape == (1024,)

    other = upright(photo2).resize(rgb.size)
    buf = io.BytesIO()
    rgb.save(buf, "GIF", save_all=True, append_images=[other], duration=40, loop=0)
    first_frame = io.BytesIO()
    rgb.save(first_frame, "GIF")
    anim = embed(model, buf.getvalue())
    assert cos(anim, embed(model, first_frame.getvalue())) > 0.995
    assert cos(anim, embed(model, other)) < 0.5


def test_array_file_object_and_bytes_agree(model: OnnxModel, photo: Path) -> None:
    base = embed(model, photo)
    with photo.open("rb") as fh:
        assert cos(embed(model, fh), base) > 0.99999
    assert cos(embed(model, photo.read_bytes()), base) > 0.99999
    assert cos(embed(model, np.asarray(upright(photo))), base) > 0.99999


# ---------------------------------------------------------------------------- orientation


@pytest.mark.parametrize("orientation", [2, 3, 4, 5, 6, 7, 8])
def test_exif_orientation_matches_upright(model: OnnxModel, photo: Path, orientation: int) -> None:
    up = upright(photo)
    # The stored pixels are what a camera writes; the tag says how to turn them upright.
    inverse = {
        2: [Image.Transpose.FLIP_LEFT_RIGHT],
        3: [Image.Transpose.ROTATE_180],
        4: [Image.Transpose.FLIP_TOP_BOTTOM],
        5: [Image.Transpose.TRANSPOSE],
        6: [Image.Transpose.ROTATE_90],
        7: [Image.Transpose.TRANSVERSE],
        8: [Image.Transpose.ROTATE_270],
    }[orientation]
    stored = up
    for method in inverse:
        stored = stored.transpose(method)
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif.get_ifd(0x8769)[0x9003] = "2021:06:05 04:03:02"  # DateTimeOriginal
    buf = io.BytesIO()
    stored.save(buf, "JPEG", quality=95, exif=exif.tobytes())
    decoded = load_image(buf.getvalue(), draft_size=None)
    assert (decoded.width, decoded.height) == up.size
    assert decoded.orientation == orientation
    assert decoded.exif_datetime is not None and decoded.exif_datetime.year == 2021
    plain = io.BytesIO()
    up.save(plain, "JPEG", quality=95)
    assert cos(embed(model, buf.getvalue()), embed(model, plain.getvalue())) >= 0.99


def test_rotation_degrees_is_clockwise(photo: Path) -> None:
    up = upright(photo)
    turned = load_image(photo, rotation_degrees=90, draft_size=None)
    assert (turned.width, turned.height) == (up.height, up.width)
    expected = np.asarray(up.transpose(Image.Transpose.ROTATE_270))
    assert np.array_equal(np.asarray(turned.image), expected)


# ---------------------------------------------------------------------------- draft / ROI


def test_draft_decode_of_12mp_jpeg_matches_full_decode(model: OnnxModel, big_jpeg: Path) -> None:
    drafted = model.load(big_jpeg)
    assert drafted.reduced and (drafted.width, drafted.height) == (4000, 3000)
    # The smallest DCT scale (1/8) that still keeps the model input over the centre crop.
    assert drafted.image.size == (500, 375)
    assert drafted.image.height * model.spec.crop_fraction >= 224
    full = load_image(big_jpeg, draft_size=None)
    assert not full.reduced
    assert cos(model.embed_images([drafted])[0], model.embed_images([full])[0]) >= 0.99


def test_roi_equals_precropped_image(model: OnnxModel, photo: Path) -> None:
    full = upright(photo)
    for roi in (
        RegionOfInterest(0.2, 0.1, 0.7, 0.8),
        parse_roi("px:10,20,300,260"),
        RegionOfInterest(0.0, 0.5, 0.5, 1.0),
    ):
        box = roi.to_box(full.width, full.height)
        precropped = embed(model, full.crop(box))
        assert cos(embed(model, photo, roi), precropped) >= 0.999


def test_roi_on_draft_decoded_jpeg_equals_precrop(model: OnnxModel, big_jpeg: Path) -> None:
    roi = RegionOfInterest(0.3, 0.25, 0.9, 0.95)
    full = load_image(big_jpeg, draft_size=None).image
    precropped = model.embed_images([full.crop(roi.to_box(*full.size))])[0]
    decoded = model.load(big_jpeg, roi)
    assert decoded.reduced
    with_roi = model.run(model.preprocess(decoded, roi)[None]).embeddings[0]
    assert cos(with_roi, precropped) >= 0.99


def test_roi_parsing_and_errors(model: OnnxModel, photo: Path) -> None:
    assert parse_roi("0.1,0.2,0.5,0.6").normalized
    pixels = parse_roi("px:10, 20, 300, 200")
    assert not pixels.normalized and pixels.to_box(640, 480) == (10, 20, 300, 200)
    assert pixels.text() == "px:10,20,300,200" and parse_roi(pixels.text()) == pixels
    assert RegionOfInterest(0.5, 0.5, 1.0, 1.0).to_box(100, 80) == (50, 40, 100, 80)
    for bad in (
        "1,2,3",
        "a,b,c,d",
        "0.5,0.5,0.4,0.9",
        "0,0,0,0",
        "10,10,10,20",
        "0,0,1.5,1",
        "-0.1,0,1,1",
        "px:-1,0,10,10",
        "px:5,5,5,9",
    ):
        with pytest.raises(RoiError):
            parse_roi(bad)
    with pytest.raises(RoiError):
        RegionOfInterest(0.5, 0.5, 2.0, 2.0)  # fractions beyond the image: never clipped
    with pytest.raises(RoiError, match="beyond the"):
        embed(model, photo, parse_roi("px:900,900,1000,1000"))


def test_pixel_sha256_is_stable_and_needs_full_decode(photo: Path, big_jpeg: Path) -> None:
    a = pixel_sha256(load_image(photo, draft_size=None))
    assert a == pixel_sha256(load_image(photo.read_bytes(), draft_size=None).image)
    assert a != pixel_sha256(load_image(photo, rotation_degrees=180, draft_size=None))
    with pytest.raises(ValueError):
        pixel_sha256(load_image(big_jpeg))


def test_a_float_image_of_0_to_255_keeps_its_brightness(tmp_path: Path) -> None:
    """A 32-bit float TIFF with values 0..255 (what Pillow's own convert("F") makes) was
    scaled as if 0..65535: the photo decoded nearly black (max 0.8), embedded and flagged as
    a dark image. Floats in 0..1, 0..255 and 0..65535 keep their brightness."""
    ramp = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (48, 1))
    expected = np.asarray(Image.fromarray((ramp * 255).round().astype(np.uint8)))
    for top in (1.0, 255.0, 65535.0):
        path = tmp_path / f"float{int(top)}.tif"
        Image.fromarray(ramp * top, "F").save(path)
        grey = np.asarray(load_image(path).image.convert("L"), dtype=np.float32)
        assert abs(grey.mean() - expected.mean()) < 2.0, (top, grey.mean())


def test_an_editors_export_time_is_no_capture_time(photo: Path) -> None:
    """IFD0's DateTime is set by editors on every export (GIMP, Photoshop): dedup's ``exif``
    rule took a 1/3-size export for the camera's file and kept it over its original. Only
    DateTimeOriginal, or DateTimeDigitized (a scanner's), is a capture time."""
    up = upright(photo)
    exported = Image.Exif()
    exported[0x0132] = "2024:07:01 10:00:00"  # DateTime
    exported[0x0131] = "GIMP 2.10"  # Software
    buf = io.BytesIO()
    up.save(buf, "JPEG", quality=90, exif=exported.tobytes())
    assert load_image(buf.getvalue()).exif_datetime is None
    scanned = Image.Exif()
    scanned.get_ifd(0x8769)[0x9004] = "1998:03:02 01:00:00"  # DateTimeDigitized
    buf = io.BytesIO()
    up.save(buf, "JPEG", quality=90, exif=scanned.tobytes())
    assert load_image(buf.getvalue()).exif_datetime == datetime(1998, 3, 2, 1, 0, 0)
