"""Decoding hostile files: one typed error per bad file of a batch, the errors of other
sources, and the pixel limit read from the header (and counted at the JPEG draft)."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models import (
    DecompressionBombError,
    EmptyImageError,
    ImageAnalyzer,
    ImageError,
    NotAnImageError,
    OnnxModel,
    RegionOfInterest,
    TruncatedImageError,
    UnreadableImageError,
    UnsupportedImageError,
    load_image,
    open_model,
)
from tests.decoding import bee_photo, cos, embed, make_big_jpeg, upright
from tests.hostile import png_header_only


@pytest.fixture(scope="module")
def model(models_dir: Path) -> OnnxModel:
    return open_model(None, [models_dir])


@pytest.fixture(scope="module")
def photo(data_dir: Path) -> Path:
    return bee_photo(data_dir)


@pytest.fixture(scope="module")
def big_jpeg(photo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12 MP JPEG made by upscaling a shared photo to 4000x3000."""
    return make_big_jpeg(photo, tmp_path_factory.mktemp("big") / "big.jpg")


def test_hostile_directory_one_error_per_bad_file(
    model: OnnxModel, photo: Path, tmp_path: Path
) -> None:
    good = upright(photo)
    data = photo.read_bytes()
    files = {
        "truncated.jpg": data[: len(data) // 2],
        "zero.jpg": b"",
        "text.jpg": b"this is not an image, just text\n" * 20,
        "bomb.png": png_header_only(30000, 30000),
        "bomb_small.png": png_header_only(10000, 9500),
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    Image.new("RGB", (1, 1), (200, 10, 10)).save(tmp_path / "one_pixel.png")
    wide = (np.asarray(good.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    Image.fromarray(wide).save(tmp_path / "sixteen_bit.png")
    good.convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    frames = [good, good.transpose(Image.Transpose.FLIP_TOP_BOTTOM)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=50)
    (tmp_path / "jpeg_named.png").write_bytes(data)  # wrong extension, valid content

    expected_errors = {
        "truncated.jpg": TruncatedImageError,
        "zero.jpg": EmptyImageError,
        "text.jpg": NotAnImageError,
        "bomb.png": DecompressionBombError,
        "bomb_small.png": DecompressionBombError,
    }
    paths = sorted(tmp_path.iterdir())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with ImageAnalyzer(model, decode_workers=2, batch_size=4) as analyzer:
            results = analyzer.analyze_batch(paths)
    assert len(results) == len(paths)
    for path, result in zip(paths, results, strict=True):
        if path.name in expected_errors:
            assert isinstance(result, expected_errors[path.name]), (path.name, result)
            assert result.source == str(path)
            assert str(path) in str(result)
            # not Pillow's "(10 bytes not processed)", read as all that was missing
            assert "not processed" not in str(result), result
        else:
            assert not isinstance(result, ImageError), (path.name, result)
            assert result.embedding.shape == (1024,)
            assert abs(float(np.linalg.norm(result.embedding)) - 1.0) < 1e-3
    by_name = dict(zip([p.name for p in paths], results, strict=True))
    assert (by_name["one_pixel.png"].width, by_name["one_pixel.png"].height) == (1, 1)
    assert by_name["jpeg_named.png"].format == "JPEG"
    assert cos(by_name["jpeg_named.png"].embedding, embed(model, photo)) > 0.9999


def test_error_types_for_other_sources(tmp_path: Path) -> None:
    with pytest.raises(UnreadableImageError):
        load_image(tmp_path / "missing.jpg")
    with pytest.raises(UnreadableImageError):
        load_image(tmp_path)
    with pytest.raises(EmptyImageError):
        load_image(io.BytesIO(b""))
    with pytest.raises(UnsupportedImageError):
        load_image(12345)
    with pytest.raises(UnsupportedImageError):
        load_image(np.zeros((4, 4, 3), np.float32))
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64
    with pytest.raises(UnsupportedImageError, match="HEIC"):
        load_image(heic)
    with pytest.raises(NotAnImageError):
        load_image(b"<html><body>hello</body></html>")
    with pytest.raises(ValueError, match="multiple of 90"):
        load_image(np.zeros((4, 4, 3), np.uint8), rotation_degrees=45)


def test_max_pixels_is_enforced_from_the_header(photo: Path) -> None:
    with pytest.raises(DecompressionBombError, match="exceeds the limit"):
        load_image(photo, max_pixels=1000)
    assert load_image(photo, max_pixels=None).width > 0


def test_max_pixels_counts_the_pixels_a_jpeg_draft_decodes(big_jpeg: Path, tmp_path: Path) -> None:
    """A 108 MP phone photo (12000x9000) was refused against the 90 M limit, though its JPEG
    is decoded at 1/8 (1.7 M pixels) for the model. Scaled down here: a 12 MP JPEG against a
    1 M limit loads at the model's draft; decoded whole, or as a PNG, it is still refused."""
    decoded = load_image(big_jpeg, max_pixels=1_000_000)
    assert (decoded.width, decoded.height) == (4000, 3000)  # the photo's own size
    assert decoded.image.width * decoded.image.height <= 1_000_000
    with pytest.raises(DecompressionBombError, match=r"12\.0 million pixels exceeds the limit"):
        load_image(big_jpeg, max_pixels=1_000_000, draft_size=None)
    png = tmp_path / "big.png"
    with Image.open(big_jpeg) as im:
        im.save(png, compress_level=0)
    with pytest.raises(DecompressionBombError, match=r"exceeds the limit of 1\.0 million"):
        load_image(png, max_pixels=1_000_000)


def test_a_small_region_of_a_huge_jpeg_is_read_at_a_coarser_draft(big_jpeg: Path) -> None:
    """A 300 px region of a 108 MP phone JPEG was refused as "possible decompression bomb"
    (its region asked for a full-scale decode, then counted whole) while the whole photo and
    larger regions were searched (a new user's audit). Scaled down: a 300 x 300 region of a
    12 MP JPEG against a 1 M limit is read at the draft that keeps under it, upscaled."""
    region = RegionOfInterest(0, 0, 300, 300, normalized=False)
    decoded = load_image(big_jpeg, max_pixels=1_000_000, roi=region)
    assert (decoded.width, decoded.height) == (4000, 3000)
    assert decoded.image.width * decoded.image.height <= 1_000_000
    assert decoded.image.width == 1000  # 1/4: the finest draft under the limit
