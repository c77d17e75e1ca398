"""Code ported from MediaPipe's Image Embedder / Image Classifier (an audit): what such code
catches, builds and compares behaves as it did there, or fails loudly where imgsearch is
stricter on purpose."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import models as mp


@pytest.fixture(scope="module")
def search_path(models_dir: Path) -> list[Path]:
    return [models_dir]


@pytest.fixture(scope="module")
def frame(data_dir: Path) -> np.ndarray:
    bee = sorted((data_dir / "hymenoptera/images/val/bees").glob("*.jpg"))[0]
    with Image.open(bee) as im:
        return np.asarray(im.convert("RGB"))


# ---------------------------------------------------------------------------- running modes


def test_a_wrong_running_mode_or_a_closed_task_is_a_value_error(
    search_path: list[Path], frame: np.ndarray
) -> None:
    """MediaPipe raises ValueError for a method of another running mode; ported code that
    catches it met an uncaught RuntimeError."""
    image = mp.ImageEmbedder(mp.ImageEmbedderOptions(model_path=search_path))
    video = mp.ImageEmbedder(
        mp.ImageEmbedderOptions(model_path=search_path, running_mode=mp.RunningMode.VIDEO)
    )
    classifier = mp.ImageClassifier(
        mp.ImageClassifierOptions(model_path=search_path, running_mode=mp.RunningMode.VIDEO)
    )
    wrong_mode = [
        (lambda: image.embed_for_video(frame, 1), "needs running mode VIDEO"),
        (lambda: image.embed_async(frame, 1), "needs running mode LIVE_STREAM"),
        (lambda: video.embed(frame), "needs running mode IMAGE"),
        (lambda: classifier.classify(frame), "needs running mode IMAGE"),
    ]
    closed = [
        (lambda: image.embed(frame), "ImageEmbedder is closed"),
        (lambda: classifier.classify_for_video(frame, 5), "ImageClassifier is closed"),
    ]
    for calls in (wrong_mode, closed):
        for call, said in calls:
            try:
                call()
            except ValueError as error:  # as a MediaPipe user writes it
                assert said in str(error)
                assert isinstance(error, (mp.RunningModeError, RuntimeError))  # as before
            else:
                raise AssertionError(f"no error: {said}")
        for task in (image, video, classifier):
            task.close()
