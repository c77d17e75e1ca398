"""A 12 MP JPEG decodes at the smallest draft the model needs; a photo framed inside it is
decoded again at the draft its own region needs (it is only a part of the image)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from models import ImageAnalyzer, OnnxModel, load_image, locate_model
from models.frame import find_content_box


def test_framed_photo_of_a_drafted_jpeg_keeps_its_resolution(
    models_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    model = OnnxModel(locate_model("mobilenet_v3_small_100", [models_dir]))
    photo = sorted((data_dir / "hymenoptera").rglob("*.jpg"))[5]
    canvas = Image.new("RGB", (4000, 3000), (30, 30, 30))  # a dark screenshot-like frame
    with Image.open(photo) as im:
        canvas.paste(im.convert("RGB").resize((2400, 1800), Image.Resampling.BICUBIC), (800, 600))
    shot = tmp_path / "shot.jpg"
    canvas.save(shot, quality=92)

    decoded = model.load(shot)
    assert decoded.image.size == (500, 375)  # the whole image: 1/8 is enough for the model
    box = find_content_box(decoded.image)
    assert box is not None and box.crop(decoded.image).height * 0.875 < 224  # too coarse

    analyzer = ImageAnalyzer(model, decode_workers=0, frames=True)
    for source in (shot, io.BytesIO(shot.read_bytes())):
        prepared = analyzer.prepare(source)
        assert prepared.frame_box is not None
        framed = model.run(prepared.frame_tensor[None]).embeddings[0]
        full = load_image(shot, draft_size=None).image
        exact = model.embed_images([box.crop(full)])[0]
        assert float(np.dot(framed, exact)) >= 0.99
