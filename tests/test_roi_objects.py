"""A region of interest given as a rectangle object, as MediaPipe code has one: an object with
``left``, ``top``, ``right`` and ``bottom`` (MediaPipe's ``RectF``: fractions of the image, the
type of its ``ImageProcessingOptions.region_of_interest``; its ``Rect``, declared ``int``:
pixels). It was refused as "cannot use ... as a region of interest"; now it is read by name,
and anything else is still a :class:`RoiError` that says what to give."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from models import (
    ImageClassifier,
    ImageClassifierOptions,
    ImageEmbedder,
    ImageEmbedderOptions,
    ImageError,
    RegionOfInterest,
    RoiError,
    cosine_similarity,
)
from models.roi import coerce_roi


@dataclasses.dataclass
class RectF:
    """MediaPipe's ``RectF`` (mediapipe.tasks.python.components.containers.rect), fields in
    its order: bottom before right, so a region read by position would be another box."""

    left: float
    top: float
    bottom: float
    right: float


@dataclasses.dataclass
class Rect:
    """MediaPipe's ``Rect``: absolute (pixel) coordinates, declared ``int``."""

    left: int
    top: int
    bottom: int
    right: int


@dataclasses.dataclass
class ImageProcessingOptions:
    """MediaPipe's options of a call (no such class here: roi= and rotation_degrees=)."""

    region_of_interest: RectF | None = None
    rotation_degrees: int = 0


@pytest.fixture(scope="module")
def frame(data_dir: Path) -> np.ndarray:
    photo = sorted((data_dir / "hymenoptera/images/val/bees").glob("*.jpg"))[0]
    with Image.open(photo) as im:
        return np.asarray(im.convert("RGB"))


def test_a_rectangle_object_is_read_by_its_edge_names() -> None:
    region = RegionOfInterest(0.1, 0.2, 0.8, 0.9)
    assert coerce_roi(RectF(left=0.1, top=0.2, bottom=0.9, right=0.8)) == region
    edges = [np.float32(v) for v in (0.1, 0.2, 0.8, 0.9)]  # a detector's numpy numbers
    named = coerce_roi(
        SimpleNamespace(left=edges[0], top=edges[1], right=edges[2], bottom=edges[3])
    )
    assert named is not None and named.normalized
    assert named.as_tuple() == pytest.approx(region.as_tuple())
    # MediaPipe's Rect holds pixels: a pixel box of the (upright) image
    pixels = coerce_roi(Rect(left=10, top=20, bottom=200, right=300))
    assert pixels == RegionOfInterest(10, 20, 300, 200, normalized=False)


def test_the_models_api_embeds_and_classifies_a_rectangle_objects_region(
    models_dir: Path, frame: np.ndarray
) -> None:
    height, width = frame.shape[:2]
    box = (0.1, 0.2, 0.8, 0.9)
    pixel_box = (round(0.1 * width), round(0.2 * height), round(0.8 * width), round(0.9 * height))
    rect_f = RectF(left=box[0], top=box[1], bottom=box[3], right=box[2])
    rect = Rect(left=pixel_box[0], top=pixel_box[1], bottom=pixel_box[3], right=pixel_box[2])
    with ImageEmbedder(ImageEmbedderOptions(model_path=[models_dir])) as embedder:
        tuple_vector = embedder.embed(frame, roi=box).embeddings[0]
        whole = embedder.embed(frame).embeddings[0]
        for form in (rect_f, rect):
            vector = embedder.embed(frame, roi=form).embeddings[0]
            assert cosine_similarity(vector, tuple_vector) > 0.99999, form
        assert cosine_similarity(whole, tuple_vector) < 0.999  # the region made a difference
        batch = embedder.embed_batch([frame, frame], rois=[rect_f, None])
        assert cosine_similarity(batch[0].embeddings[0], tuple_vector) > 0.99999  # type: ignore[union-attr]
        assert cosine_similarity(batch[1].embeddings[0], whole) > 0.99999  # type: ignore[union-attr]
    with ImageClassifier(ImageClassifierOptions(model_path=[models_dir])) as classifier:
        cropped = classifier.classify(frame, roi=rect_f).classifications[0].categories
        expected = classifier.classify(frame, roi=box).classifications[0].categories
        assert [c.index for c in cropped] == [c.index for c in expected]


@pytest.mark.parametrize(
    ("roi", "said"),
    [
        (
            SimpleNamespace(left="0.1", top=0.2, right=0.8, bottom=0.9),
            "must be numbers, got left='0.1'",
        ),
        (
            SimpleNamespace(left=0.1, top=True, right=0.8, bottom=0.9),
            "must be numbers, got top=True",
        ),
        (
            SimpleNamespace(left=0.1, top=0.2, right=None, bottom=0.9),
            "must be numbers, got right=None",
        ),
        (RectF(left=0.1, top=0.2, bottom=0.9, right=1.8), "between 0 and 1"),
        (RectF(left=0.8, top=0.2, bottom=0.9, right=0.1), "empty"),
        (RectF(left=float("nan"), top=0.2, bottom=0.9, right=0.8), "finite"),
        (SimpleNamespace(left=0.1, top=0.2), "an object with left, top, right, bottom"),
        (ImageProcessingOptions(RectF(0.1, 0.2, 0.9, 0.8)), "give its region_of_interest as roi="),
        (object(), "an object with left, top, right, bottom"),
    ],
)
def test_anything_else_is_a_region_error_that_says_why(roi: object, said: str) -> None:
    with pytest.raises(RoiError) as raised:
        coerce_roi(roi)
    assert said in str(raised.value), str(raised.value)
    assert not isinstance(raised.value, ImageError)  # the caller's error, not the image's
