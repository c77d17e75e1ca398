"""The JPEG draft a decode may use: how many times smaller than the file an image may be read
(libjpeg's DCT scales 1/2, 1/4, 1/8) and still give the model its input over the part of it
that will be used (:func:`models.load_image`)."""

from __future__ import annotations

from collections.abc import Sequence

from models.roi import RegionOfInterest

# A draft-reduced JPEG keeps >= 1x the model input over the used region (the centre crop or
# ROI): the smallest DCT scale the model can use (a 12 MP photo at 1/8; 2x cost 35 % more CPU
# per 12 MP image for a cosine of 0.9996 instead of 0.9985 to the web-size original).
DRAFT_OVERSAMPLE = 1


def allowed_reduction(
    full: tuple[int, int],
    draft_size: Sequence[int],
    crop_fraction: float,
    roi: RegionOfInterest | None,
) -> float:
    """How many times smaller the image may be and still keep ``DRAFT_OVERSAMPLE`` x
    ``draft_size`` over the region that will be used."""
    width, height = full
    if roi is None:
        region_w, region_h = float(width), float(height)
    else:
        try:
            left, top, right, bottom = roi.to_box(width, height)
        except ValueError:  # RoiError: reported when the ROI is applied
            return 1.0
        region_w, region_h = float(right - left), float(bottom - top)
    region_w *= crop_fraction
    region_h *= crop_fraction
    return min(
        region_w / (DRAFT_OVERSAMPLE * draft_size[0]), region_h / (DRAFT_OVERSAMPLE * draft_size[1])
    )


def draft_scale(
    full: tuple[int, int],
    draft_size: Sequence[int],
    crop_fraction: float,
    roi: RegionOfInterest | None,
) -> int:
    """Largest JPEG DCT scale (1, 2, 4, 8) that keeps ``draft_size`` over the region."""
    allowed = allowed_reduction(full, draft_size, crop_fraction, roi)
    for scale in (8, 4, 2):
        if allowed >= scale:
            return scale
    return 1
