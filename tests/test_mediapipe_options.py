"""The embedder's and classifier's options and call arguments against MediaPipe's documented
behaviour (an audit): the VIDEO / LIVE_STREAM timestamp clock, one PIL image given several
times in a batch, single strings, bool options, None defaults, numpy numbers, rotation and
ROI errors."""

from __future__ import annotations

import logging
import math
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models import (
    ImageClassifier,
    ImageClassifierOptions,
    ImageEmbedder,
    ImageEmbedderOptions,
    ImageError,
    RoiError,
    RunningMode,
    TimestampError,
    cosine_similarity,
)


@pytest.fixture(scope="module")
def search_path(models_dir: Path) -> list[Path]:
    return [models_dir]


@pytest.fixture(scope="module")
def bees(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "hymenoptera/images/val/bees").glob("*.jpg"))[:2]


@pytest.fixture(scope="module")
def frame(bees: list[Path]) -> np.ndarray:
    with Image.open(bees[0]) as im:
        return np.asarray(im.convert("RGB"))


@pytest.fixture(scope="module")
def embedder(search_path: list[Path]) -> ImageEmbedder:
    with ImageEmbedder(ImageEmbedderOptions(model_path=search_path)) as e:
        yield e


def vec(result) -> np.ndarray:
    return result.embeddings[0].embedding


def names(classifier: ImageClassifier, image: object) -> list[str]:
    return [c.category_name for c in classifier.classify(image).classifications[0].categories]


# ---------------------------------------------------------------------------- timestamps


def test_a_failed_video_call_does_not_move_the_clock(
    search_path: list[Path], frame: np.ndarray
) -> None:
    video = ImageEmbedderOptions(model_path=search_path, running_mode=RunningMode.VIDEO)
    with ImageEmbedder(video) as ev:
        with pytest.raises(TimestampError):
            ev.embed_video_frames([frame, frame], [100, 90])
        assert [r.timestamp_ms for r in ev.embed_video_frames([frame] * 2, [95, 96])] == [95, 96]
        with pytest.raises(ImageError):  # one frame does not decode: the batch is refused
            ev.embed_video_frames([frame, b"not an image", frame], [97, 98, 99])
        assert ev.embed_video_frames([frame], [97])[0].timestamp_ms == 97
        with pytest.raises(ImageError):
            ev.embed_for_video(b"", 98)
        with pytest.raises(ValueError, match="multiple of 90"):
            ev.embed_for_video(frame, 98, rotation_degrees=45)
        assert ev.embed_for_video(frame, 98).timestamp_ms == 98
        with pytest.raises(TimestampError):  # a call that succeeded did use its timestamp
            ev.embed_for_video(frame, 98)
        numpy_stamp = ev.embed_for_video(frame, np.int64(120)).timestamp_ms
        assert numpy_stamp == 120 and type(numpy_stamp) is int
        assert ev.embed_video_frames([frame], np.array([130]))[0].timestamp_ms == 130
        with pytest.raises(TimestampError):
            ev.embed_for_video(frame, 140.0)
    options = ImageClassifierOptions(model_path=search_path, running_mode=RunningMode.VIDEO)
    with ImageClassifier(options) as cv:
        with pytest.raises(ImageError):
            cv.classify_for_video(b"", 5)
        assert cv.classify_for_video(frame, np.int32(5)).timestamp_ms == 5


def test_a_refused_live_stream_frame_does_not_move_the_clock(
    search_path: list[Path], frame: np.ndarray
) -> None:
    delivered: list[int] = []
    done = threading.Event()

    def callback(result, image, timestamp_ms: int) -> None:
        delivered.append(timestamp_ms)
        done.set()

    options = ImageEmbedderOptions(
        model_path=search_path, running_mode=RunningMode.LIVE_STREAM, result_callback=callback
    )
    with ImageEmbedder(options) as stream:
        with pytest.raises(ImageError):
            stream.embed_async(b"not an image", 10)
        with pytest.raises(ValueError, match="multiple of 90"):
            stream.embed_async(frame, 10, rotation_degrees=45)
        assert stream.embed_async(frame, np.int64(10)) is True
        assert done.wait(10)
    assert delivered == [10]


# ---------------------------------------------------------------------------- PIL inputs


def test_one_lazily_opened_image_many_times_in_a_batch(
    search_path: list[Path], bees: list[Path]
) -> None:
    """Decode threads loaded one lazily opened PIL image at once and failed at random
    ("'NoneType' object has no attribute 'close'"): about half of such batches."""
    options = ImageEmbedderOptions(model_path=search_path, decode_workers=4)
    with ImageEmbedder(options) as e:
        reference = vec(e.embed(bees[0]))
        for _ in range(20):
            with Image.open(bees[0]) as im:
                results = e.embed_batch([im] * 4)
            for result in results:
                assert not isinstance(result, ImageError), result
                assert cosine_similarity(vec(result), reference) > 0.9999


# ---------------------------------------------------------------------------- options


def test_a_single_string_is_one_folder_or_one_name(models_dir: Path, bees: list[Path]) -> None:
    options = ImageEmbedderOptions(model_path=str(models_dir))
    with ImageEmbedder(options) as e:  # was searched as '/', 'w', 'o', ...
        assert e.embed(bees[0]).embeddings[0].embedding.size == 1024
    assert options.model_path == [models_dir]
    with ImageEmbedder.create_from_model_name(None, models_dir) as e:
        assert e.model.name == "mobilenet_v3_small_100"
    allow = ImageClassifierOptions(model_path=str(models_dir), category_allowlist="bee")
    with ImageClassifier(allow) as c:
        assert names(c, bees[0]) == ["bee"]
    deny = ImageClassifierOptions(model_path=models_dir, category_denylist="bee")
    with ImageClassifier(deny) as c:
        found = names(c, bees[0])
        assert "bee" not in found and len(found) == 999


@pytest.mark.parametrize(
    ("option", "value"),
    [("quantize", "no"), ("quantize", 1), ("l2_normalize", "yes"), ("l2_normalize", None)],
)
def test_bool_options_must_be_bools(search_path: list[Path], option: str, value: object) -> None:
    with pytest.raises(TypeError, match=option):
        ImageEmbedderOptions(model_path=search_path, **{option: value})


def test_a_result_callback_must_be_callable(search_path: list[Path]) -> None:
    for make in (ImageEmbedderOptions, ImageClassifierOptions):
        with pytest.raises(TypeError, match="result_callback"):
            make(
                model_path=search_path,
                running_mode=RunningMode.LIVE_STREAM,
                result_callback="print",
            )
    options = ImageEmbedderOptions(model_path=search_path, quantize=np.bool_(True))
    assert options.quantize is True


def test_none_defaults_and_numpy_numbers(search_path: list[Path], bees: list[Path]) -> None:
    def top(**kw) -> list[str]:
        with ImageClassifier(ImageClassifierOptions(model_path=search_path, **kw)) as c:
            return names(c, bees[0])

    everything = top()
    assert top(max_results=None) == everything and len(everything) == 1000
    assert top(score_threshold=None) == everything
    assert top(max_results=np.int64(3)) == everything[:3]
    assert top(score_threshold=np.float32(0.0)) == everything
    for option, bad in (("score_threshold", "0.5"), ("score_threshold", [0.5])):
        with pytest.raises((TypeError, ValueError), match=option):
            ImageClassifierOptions(model_path=search_path, **{option: bad})
    with pytest.raises(ValueError, match="score_threshold"):
        ImageClassifierOptions(model_path=search_path, score_threshold=math.inf)
    with pytest.raises(TypeError, match="max_results"):
        ImageClassifierOptions(model_path=search_path, max_results="3")


# ---------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    ("bad", "error"), [(45, ValueError), ("90", TypeError), (math.nan, ValueError)]
)
def test_a_bad_rotation_is_the_callers_error(
    embedder: ImageEmbedder,
    frame: np.ndarray,
    caplog: pytest.LogCaptureFixture,
    bad: object,
    error: type,
) -> None:
    with caplog.at_level(logging.ERROR), pytest.raises(error, match="multiple of 90") as raised:
        embedder.embed(frame, rotation_degrees=bad)
    assert not isinstance(raised.value, ImageError)  # not "decode_failed"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    turned = vec(embedder.embed(frame, rotation_degrees=np.int64(90)))
    assert cosine_similarity(turned, vec(embedder.embed(frame, rotation_degrees=90))) > 0.99999


@pytest.mark.parametrize(
    ("roi", "why"),
    [
        ((0.1, 0.1, 1.9, 0.9), "between 0 and 1"),
        ((0.5, 0.5, 0.5, 0.9), "empty"),
        ((math.nan, 0, 1, 1), "finite"),
    ],
)
def test_a_region_tuple_says_why_it_is_refused(
    embedder: ImageEmbedder, frame: np.ndarray, roi: tuple, why: str
) -> None:
    for form in (roi, list(roi), ",".join(str(v) for v in roi)):
        with pytest.raises(RoiError, match=why):
            embedder.embed(frame, roi=form)


# ---------------------------------------------------------------------------- README


def test_the_readme_python_api_example_runs(shared_dir: Path, tmp_path: Path) -> None:
    """README's Python API section, run as printed (its ../shared is this run's shared dir)."""
    import re
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    section = readme[readme.index("### Python API: embedder and classifier") :]
    block = re.search(r"```python\n(.*?)\n```", section, re.S)
    assert block, "README's Python API section has no example"
    script = tmp_path / "example.py"
    script.write_text(block.group(1).replace("../shared", str(shared_dir)))
    done = subprocess.run(
        [sys.executable, str(script)], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "int8" in lines and "True" in lines and "[0]" in lines, done.stdout
    assert len([line for line in lines if line.count(" ") == 1]) >= 3, done.stdout
