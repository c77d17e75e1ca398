"""Code ported from MediaPipe's Image Embedder / Image Classifier (an audit): what such code
catches, builds and compares behaves as it did there, or fails loudly where imgsearch is
stricter on purpose."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import models as mp


@pytest.fixture(scope="module")
def search_path(models_dir: Path) -> list[Path]:
    return [models_dir]


@pytest.fixture(scope="module")
def bee(data_dir: Path) -> Path:
    return sorted((data_dir / "hymenoptera/images/val/bees").glob("*.jpg"))[0]


@pytest.fixture(scope="module")
def frame(bee: Path) -> np.ndarray:
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


# ---------------------------------------------------------------------------- allow / deny


def test_an_allow_or_deny_name_the_model_lacks_is_refused_with_close_matches(
    search_path: list[Path], frame: np.ndarray, bee: Path, tmp_path: Path
) -> None:
    """An allowlist spelled as another model spells it ('Egyptian cat'; the label is
    'Egyptian_cat') gave no categories for every image, with no word: it looked like the
    model found nothing. MediaPipe ignores unknown names; imgsearch refuses them, as its CLI
    does, naming each with its close matches."""

    def make(**lists: object) -> mp.ImageClassifier:
        return mp.ImageClassifier(mp.ImageClassifierOptions(model_path=search_path, **lists))

    with pytest.raises(ValueError, match=r"'Egyptian cat' \(did you mean 'Egyptian_cat'"):
        make(category_allowlist=["Egyptian cat"])
    with pytest.raises(mp.CategoryNameError) as raised:
        make(category_allowlist=["tabby", "Tabby cat", "Persian cat", "zzzqqq"])
    message = str(raised.value)
    assert raised.value.names == ["Tabby cat", "Persian cat", "zzzqqq"]
    assert message.startswith("category_allowlist: ") and "are not categories" in message
    assert "'Persian cat' (did you mean 'Persian_cat'" in message and "'zzzqqq'" in message
    with pytest.raises(ValueError, match=r"category_denylist: 'Bee' \(did you mean 'bee'"):
        make(category_denylist="Bee")
    with pytest.raises(ValueError, match="'background' is never listed"):
        make(category_allowlist=["cat", "background"])  # 'cat' is no ImageNet label either
    with make(category_allowlist=["Egyptian_cat", "tabby"]) as classifier:
        found = classifier.classify(frame).classifications[0].categories
    assert sorted(c.category_name for c in found) == ["Egyptian_cat", "tabby"]

    from tests.cli_process import run_cli

    base = ["--model-path", str(search_path[0]), "classify", "--allow", "Egyptian cat"]
    done = run_cli([*base, "--allow", "Persian cat", str(bee)], tmp_path, timeout=120)
    assert done.returncode == 2 and "Invalid value for '--allow'" in done.stderr, done.stderr
    assert "did you mean 'Egyptian_cat'" in done.stderr and "'Persian_cat'" in done.stderr


# ---------------------------------------------------------------------------- display names


def test_a_locale_without_display_names_falls_back_to_the_label_names(
    search_path: list[Path], bee: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An app that passes the user's locale ('de') works with MediaPipe, which falls back to
    the label names when the model has no display names for it; imgsearch refused to make
    the classifier (and `classify --locale fr` exited 1)."""
    for locale in ("de", "de_DE", "C.UTF-8"):
        options = mp.ImageClassifierOptions(
            model_path=search_path, display_names_locale=locale, max_results=3
        )
        caplog.clear()
        with caplog.at_level(logging.WARNING), mp.ImageClassifier(options) as classifier:
            found = classifier.classify(bee).classifications[0].categories
        assert len(found) == 3
        assert all(c.display_name == c.category_name for c in found)
        warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warned) == 1 and repr(locale) in warned[0], warned

    from tests.cli_process import run_cli

    args = ["--model-path", str(search_path[0]), "classify", "--locale", "fr", "--json"]
    done = run_cli([*args, "--max-results", "2", str(bee)], tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    categories = json.loads(done.stdout)["categories"]
    assert [c["display_name"] for c in categories] == [
        found[0].category_name,
        found[1].category_name,
    ]
    assert "warning: " in done.stderr and "locale 'fr'" in done.stderr, done.stderr


# ---------------------------------------------------------------------------- containers


def test_categories_have_mediapipes_fields_in_mediapipes_order(
    search_path: list[Path], bee: Path, tmp_path: Path
) -> None:
    """Category had category_name before display_name: a category built or unpacked by
    position, as ported code does, silently swapped the two names."""
    made = mp.Category(1, 0.5, "Katze", "cat")  # MediaPipe: index, score, display, category
    assert (made.display_name, made.category_name) == ("Katze", "cat")
    assert mp.Category(index=1, score=0.5) == mp.Category(1, 0.5, None, None)
    assert mp.Category() == mp.Category(None, None, None, None)
    labels = search_path[0] / "imagenet_labels_1001.txt"
    for name in ("mobilenet_v3_small_100_224.onnx", labels.name):
        (tmp_path / name).symlink_to(search_path[0] / name)
    names = labels.read_text().splitlines()  # display names that differ from the labels:
    (tmp_path / "imagenet_labels_1001.xx.txt").write_text("".join(f"XX-{n}\n" for n in names))
    options = mp.ImageClassifierOptions(
        model_path=tmp_path, display_names_locale="xx", max_results=2
    )
    with mp.ImageClassifier(options) as classifier:
        found = classifier.classify(bee).classifications[0].categories
    for category in found:
        index, score, display_name, category_name = dataclasses.astuple(category)
        assert (index, score) == (category.index, category.score)
        assert category_name == names[index] and display_name == f"XX-{names[index]}"


# ---------------------------------------------------------------------------- live stream


@pytest.mark.parametrize("task", ["embedder", "classifier"])
def test_close_from_the_result_callback_stops_the_stream(
    search_path: list[Path], frame: np.ndarray, caplog: pytest.LogCaptureFixture, task: str
) -> None:
    """Stopping after the first N results by calling close() in result_callback failed with
    "cannot join current thread", logged "live-stream processing failed" with a traceback
    into imgsearch, and the rest of the callback did not run."""
    seen: list[str] = []
    stopped = threading.Event()

    def callback(result, image, timestamp_ms: int) -> None:
        seen.append(f"result {timestamp_ms}")
        if len(seen) == 2:
            stream.close()
            seen.append("closed")
            stopped.set()

    live = {"running_mode": mp.RunningMode.LIVE_STREAM, "result_callback": callback}
    if task == "embedder":
        stream = mp.ImageEmbedder(mp.ImageEmbedderOptions(model_path=search_path, **live))
        send = stream.embed_async
    else:
        stream = mp.ImageClassifier(mp.ImageClassifierOptions(model_path=search_path, **live))
        send = stream.classify_async
    with caplog.at_level(logging.WARNING):
        for timestamp in range(1, 10_000):
            try:
                send(frame, timestamp)  # a frame in flight drops this one: sent again later
            except ValueError as error:  # closed by the callback
                assert "is closed" in str(error)
                break
            time.sleep(0.005)
        assert stopped.wait(30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(
            t.name.startswith("imgsearch-stream") for t in threading.enumerate()
        ):
            time.sleep(0.01)
    assert len(seen) == 3 and seen[-1] == "closed"  # no result after close()
    assert not caplog.records, [r.getMessage() for r in caplog.records]
    assert not [t for t in threading.enumerate() if t.name.startswith("imgsearch-stream")]
    started = time.monotonic()
    stream.close()  # and once more from the caller: returns at once
    assert time.monotonic() - started < 1
    with pytest.raises(ValueError, match="is closed"):
        send(frame, 10_000)


# ---------------------------------------------------------------------------- quantization


def test_quantize_rounds_half_steps_away_from_zero_as_mediapipe() -> None:
    """MediaPipe quantizes with C's roundf (2.5 -> 3, -2.5 -> -3); numpy's round gave 2 and
    -2, so quantized bytes differed from MediaPipe's at exact half steps."""
    # squares of 1, 255, 22, 5, 1 sum to 256 ** 2: a unit vector, x 128 = 0.5 127.5 11 2.5 0.5
    steps = np.array([1, 255, 22, 5, 1], np.float32) / 256
    assert mp.quantize_embedding(steps).tolist() == [1, 127, 11, 3, 1]  # 127.5 -> 128 -> 127
    signs = np.array([-1, -1, 1, -1, 1], np.float32)
    assert mp.quantize_embedding(steps * signs).tolist() == [-1, -128, 11, -3, 1]
    assert mp.quantize_embedding(np.array([-1.0, 0.0])).tolist() == [-128, 0]
    assert mp.quantize_embedding(np.array([1.0, 0.0])).tolist() == [127, 0]
    below = np.nextafter(np.float32(0.5 / 128), np.float32(0))  # just under a half step
    near = np.array([below, np.sqrt(1 - np.float64(below) ** 2)], np.float32)
    assert mp.quantize_embedding(near)[0] == 0
    assert mp.quantize_embedding(steps).dtype == np.int8


# ---------------------------------------------------------------------------- regions


def test_a_region_may_be_any_flat_sequence_of_four_numbers(
    search_path: list[Path], frame: np.ndarray
) -> None:
    """A detector's box is usually a numpy array: it was refused with a message that asked
    for the four fractions it held."""
    box = (0.1, 0.2, 0.8, 0.9)
    with mp.ImageEmbedder(mp.ImageEmbedderOptions(model_path=search_path)) as embedder:
        reference = embedder.embed(frame, roi=box).embeddings[0]
        for form in (np.array(box), np.array(box, np.float32), list(np.array(box))):
            cropped = embedder.embed(frame, roi=form).embeddings[0]
            assert mp.cosine_similarity(cropped, reference) > 0.9999, form
        boxes = np.array([box, (0.0, 0.0, 0.5, 0.5)])  # per-image regions: one row each
        first, second = embedder.embed_batch([frame, frame], rois=boxes)
        assert mp.cosine_similarity(first.embeddings[0], reference) > 0.9999
        assert mp.cosine_similarity(second.embeddings[0], reference) < 0.99
        for bad, said in (
            (np.array([[0.1, 0.2], [0.8, 0.9]]), "ndarray of shape (2, 2)"),
            (np.array(box[:3]), "ndarray of shape (3,)"),
            ({0.1, 0.2, 0.8, 0.9}, "(set)"),
        ):
            with pytest.raises(ValueError, match="region of interest") as raised:
                embedder.embed(frame, roi=bad)
            assert said in str(raised.value) and "tuple, list or 1-d array" in str(raised.value)
        with pytest.raises(mp.RoiError, match="between 0 and 1"):  # the box's own check
            embedder.embed(frame, roi=np.array([0.1, 0.2, 1.8, 0.9]))
    with mp.ImageClassifier(mp.ImageClassifierOptions(model_path=search_path)) as classifier:
        assert classifier.classify(frame, roi=np.array(box)).classifications[0].categories
