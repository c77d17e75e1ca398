"""An image's grey-level layout: the whole picture averaged down to 16 x 16 grey levels.

A fingerprint of where the picture is light and dark, kept at index time (256 bytes) and read
again from a query: edits that change the tones but not the places - sepia and duotones
(inverted ones too), greyscale, noise, heavy JPEG, sharpening, colour shifts - keep it almost
exactly up to a monotone change of the levels, which the rank correlation in
:mod:`search.descriptor.layout_match` ignores. It *nominates* candidates for the key-point
check of a query whose vector is in doubt; it never confirms a copy by itself.

The whole image is squashed to the grid (no crop), each cell the box average of its pixels,
so it is the same for a 12 MP photo decoded at a JPEG draft scale and for a web-size copy.
Its levels are luma, or for a duotone whose luma is nearly flat its principal colour axis
(:func:`models.tones.contrast_levels`).
"""

from __future__ import annotations

from PIL import Image

from models.tones import contrast_levels

LAYOUT_SIDE = 16
"""Cells per side of the grid."""
LAYOUT_BYTES = LAYOUT_SIDE * LAYOUT_SIDE


def image_layout(image: Image.Image) -> bytes:
    """The ``LAYOUT_SIDE`` x ``LAYOUT_SIDE`` grey levels of ``image`` (row-major bytes)."""
    plain = image if image.mode in ("L", "RGB") else image.convert("RGB")
    small = plain.resize((LAYOUT_SIDE, LAYOUT_SIDE), Image.Resampling.BOX, reducing_gap=2.0)
    return contrast_levels(small, stretch=False).tobytes()
