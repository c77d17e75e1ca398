"""A crop whose key points half match its photo is matched again at a crop's scale.

A crop of about half a photo's side, read at 512 px, is at twice the scale of its photo read at
512 px; ORB then finds some of the pair's matches but not a copy's 12. Such a pair (6-11
inliers, more than unrelated pairs give) is matched again with the query read at 0.7 x 512 px.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from search.descriptor import (
    MIN_INLIERS,
    count_inliers,
    count_inliers_closer,
    crop_scale_features,
    local_features,
)
from search.descriptor.verify import PARTIAL_INLIERS

pytest.importorskip("cv2")

PHOTO = "ants/209615353_eeb38ba204.jpg"  # its corner crop: 7 inliers as read, 16 closer


def _corner_crop(photo: Image.Image, share: float = 0.55) -> Image.Image:
    """The top-right ``share`` of each side, saved as a JPEG."""
    w, h = photo.size
    crop = photo.crop((w - int(w * share), 0, w, int(h * share)))
    buffer = io.BytesIO()
    crop.save(buffer, "JPEG", quality=80)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def test_a_half_matched_crop_is_confirmed_at_a_crops_scale(data_dir: Path) -> None:
    val = data_dir / "hymenoptera" / "images" / "val"
    photo = Image.open(val / PHOTO).convert("RGB")
    crop = _corner_crop(photo)
    query, theirs = local_features(crop), local_features(photo)
    asked: list[int] = []

    def closer():  # type: ignore[no-untyped-def]
        asked.append(1)
        return crop_scale_features(crop)

    as_read = count_inliers(query, theirs)
    assert PARTIAL_INLIERS <= as_read < MIN_INLIERS  # partial evidence only
    assert count_inliers_closer(query, theirs, closer) >= MIN_INLIERS and asked == [1]
    others = sorted(p for p in val.rglob("*.jpg") if p.name != Path(PHOTO).name)[:12]
    for other in others:
        found = count_inliers_closer(query, local_features(Image.open(other)), closer)
        assert found < MIN_INLIERS, other.name  # no other photo confirmed


def test_a_pair_without_partial_evidence_is_not_matched_again(data_dir: Path) -> None:
    """The second match costs only pairs that half match: a copy matched as read, and an
    unrelated pair, never ask for the query at a crop's scale."""
    val = data_dir / "hymenoptera" / "images" / "val"
    photo = Image.open(val / PHOTO).convert("RGB")
    query = local_features(photo.resize((photo.width * 3 // 4, photo.height * 3 // 4)))
    unrelated = local_features(Image.open(sorted(val.rglob("*.jpg"))[0]))

    def refused():  # type: ignore[no-untyped-def]
        raise AssertionError("matched again")

    assert count_inliers_closer(query, local_features(photo), refused) >= MIN_INLIERS
    assert count_inliers(query, unrelated) < PARTIAL_INLIERS
    assert count_inliers_closer(query, unrelated, refused) < MIN_INLIERS
