"""What a decoder holds besides the decoded picture is charged to the decode budget.

A 7 MB progressive 13000x13000 JPEG took 1.1 GB to embed (libjpeg keeps every DCT
coefficient of a progressive file until its last scan, whatever the draft's scale) where
1/8 of it, 10 MB, was charged; a 9000x9000 WebP took 1.4 GB for 309 MB charged (libwebp's
own canvas): the server went past 2.2 GB with 8 such uploads, where README promises 1.5 GB
(a new user's audit). Both are now charged what they hold, so a budget bounds them."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from models import ImageTooLargeError, load_image, set_decode_budget
from models.decode_memory import DECODE_BUDGET, decoder_cost

MB = 1024 * 1024


def _picture(side: int) -> Image.Image:
    rng = np.random.default_rng(3)
    small = Image.fromarray((rng.random((side // 16, side // 16, 3)) * 255).astype(np.uint8))
    return small.resize((side, side), Image.Resampling.BILINEAR)


def _encoded(side: int, **options: object) -> bytes:
    out = io.BytesIO()
    _picture(side).save(out, **options)  # type: ignore[arg-type]
    return out.getvalue()


@pytest.fixture
def budget():  # type: ignore[no-untyped-def]
    total = DECODE_BUDGET.total
    yield set_decode_budget
    set_decode_budget(total)


def test_a_progressive_jpeg_is_charged_its_coefficients(budget) -> None:  # type: ignore[no-untyped-def]
    side = 4000  # 4:4:4: 16 M pixels x 3 components x 2 bytes = 96 MB held while decoding
    progressive = _encoded(side, format="JPEG", quality=85, progressive=True, subsampling=0)
    baseline = _encoded(side, format="JPEG", quality=85, subsampling=0)
    with Image.open(io.BytesIO(progressive)) as im:
        held = decoder_cost("JPEG", im.size, im.info, im.layer)  # type: ignore[attr-defined]
    assert held == side * side * 3 * 2
    budget(80 * MB)
    with pytest.raises(ImageTooLargeError, match="allowed for decoding"):
        load_image(progressive)  # at its 1/8 draft: 0.25 M pixels, but 96 MB held
    assert load_image(baseline).image.size[0] <= side // 4  # the same pixels, baseline: fine


def test_a_webp_is_charged_its_decoders_canvas(budget) -> None:  # type: ignore[no-untyped-def]
    webp = _encoded(3000, format="WEBP", quality=80)  # 9 M pixels: ~150 MB at libwebp's peak
    png = _encoded(3000, format="PNG", compress_level=1)
    budget(120 * MB)
    with pytest.raises(ImageTooLargeError, match="allowed for decoding"):
        load_image(webp)
    assert load_image(png).image.size == (3000, 3000)  # the same pixels as a PNG: fine
