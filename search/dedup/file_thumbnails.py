"""Thumbnails for a dedup report made without a library: each image's file decoded
(read-only) into a small JPEG."""

from __future__ import annotations

import io
from collections.abc import Sequence

from search.dedup.keeper import DedupImage
from search.dedup.report_html import Thumbnailer


def file_thumbnails(images: Sequence[DedupImage], max_side: int = 160) -> Thumbnailer:
    """A thumbnailer that decodes each image's file (read-only) into a small JPEG.

    For use without a library; with one, the library's thumbnail cache is the better source.
    """
    from PIL import Image

    from models import load_image

    paths = {img.id: img.path for img in images}

    def make(image_id: int) -> bytes | None:
        path = paths.get(image_id)
        if path is None:
            return None
        im = load_image(path, draft_size=(max_side, max_side)).image
        im.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=70, optimize=True)
        return buf.getvalue()

    return make
