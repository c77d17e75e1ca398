"""ImageEmbedder / ImageClassifier: MediaPipe semantics, running modes, batches, heads."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models import (
    Embedding,
    ImageClassifier,
    ImageClassifierOptions,
    ImageEmbedder,
    ImageEmbedderOptions,
    ImageError,
    ModelSpecError,
    NotAnImageError,
    RoiError,
    RunningMode,
    RunningModeError,
    TimestampError,
    cosine_similarity,
    open_model,
    quantize_embedding,
)


@pytest.fixture(scope="module")
def search_path(models_dir: Path) -> list[Path]:
    return [models_dir]


@pytest.fixture(scope="module")
def bees(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "hymenoptera/images/val/bees").glob("*.jpg"))[:6]


@pytest.fixture(scope="module")
def embedder(search_path: list[Path]) -> ImageEmbedder:
    with ImageEmbedder(ImageEmbedderOptions(model_path=search_path)) as e:
        yield e


@pytest.fixture(scope="module")
def frame(bees: list[Path]) -> np.ndarray:
    with Image.open(bees[0]) as im:
        return np.asarray(im.convert("RGB"))


def vec(result) -> np.ndarray:
    return result.embeddings[0].embedding


# ---------------------------------------------------------------------------- embedder


def test_embed_result_shape_and_heads(embedder: ImageEmbedder, bees: list[Path]) -> None:
    result = embedder.embed(bees[0])
    assert result.timestamp_ms is None and len(result.embeddings) == 1
    head = result.embeddings[0]
    assert (head.head_index, head.head_name) == (0, "embedding")
    assert head.embedding.dtype == np.float32 and head.embedding.shape == (1024,)
    assert abs(float(np.linalg.norm(head.embedding)) - 1.0) < 1e-4


def test_embed_batch_keeps_order_and_isolates_errors(
    embedder: ImageEmbedder, bees: list[Path], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    sources = [bees[0], bad, bees[1], bees[2], bees[0]]
    rois = [None, None, None, (0.0, 0.0, 0.5, 0.5), None]
    results = embedder.embed_batch(sources, rois)
    assert isinstance(results[1], NotAnImageError) and results[1].source == str(bad)
    singles = [
        embedder.embed(bees[0]),
        embedder.embed(bees[1]),
        embedder.embed(bees[2], (0.0, 0.0, 0.5, 0.5)),
    ]
    for got, want in zip([results[0], results[2], results[3]], singles, strict=True):
        assert cosine_similarity(vec(got), vec(want)) > 0.99999
    assert cosine_similarity(vec(results[4]), vec(results[0])) > 0.99999
    assert cosine_similarity(vec(results[0]), vec(results[2])) < 0.99
    with pytest.raises(ValueError):
        embedder.embed_batch(sources, rois[:2])


def test_roi_outside_image_is_reported(embedder: ImageEmbedder, bees: list[Path]) -> None:
    with pytest.raises(RoiError):
        embedder.embed(bees[0], "px:5000,5000,6000,6000")
    result = embedder.embed_batch([bees[0]], ["px:5000,5000,6000,6000"])[0]
    assert isinstance(result, RoiError) and isinstance(result, ImageError)


def test_quantized_cosine_tracks_float_cosine(
    search_path: list[Path], embedder: ImageEmbedder, bees: list[Path], data_dir: Path
) -> None:
    others = sorted((data_dir / "hymenoptera/images/val/ants").glob("*.jpg"))[:3]
    images = [*bees[:3], *others]
    with ImageEmbedder(ImageEmbedderOptions(model_path=search_path, quantize=True)) as q:
        quant = [r.embeddings[0] for r in q.embed_batch(images)]
    floats = [r.embeddings[0] for r in embedder.embed_batch(images)]
    assert all(e.quantized and e.embedding.dtype == np.int8 for e in quant)
    for i in range(len(images)):
        for j in range(i + 1, len(images)):
            diff = cosine_similarity(quant[i], quant[j]) - cosine_similarity(floats[i], floats[j])
            assert abs(diff) <= 0.02
    with pytest.raises(ValueError, match="quantized and float"):
        cosine_similarity(quant[0], floats[0])
    # MediaPipe returns quantised values as raw bytes (uint8): read as int8.
    as_bytes = Embedding(quant[0].embedding.view(np.uint8))
    assert cosine_similarity(as_bytes, quant[1]) == pytest.approx(
        cosine_similarity(quant[0], quant[1])
    )


def test_quantization_and_cosine_arithmetic() -> None:
    q = quantize_embedding(np.array([1.0, 0.0, 0.0, 0.0]))
    assert q.tolist() == [127, 0, 0, 0]  # 128 clipped to int8
    q = quantize_embedding(np.array([-3.0, 4.0]))  # unit: -0.6, 0.8
    assert q.tolist() == [-77, 102]
    assert cosine_similarity(np.array([1.0, 0.0]), np.array([1.0, 1.0])) == pytest.approx(2**-0.5)
    with pytest.raises(ValueError, match="different sizes"):
        cosine_similarity(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="0 norm"):
        cosine_similarity(np.zeros(3), np.ones(3))


def test_l2_normalize_false_returns_raw_output(search_path: list[Path], bees: list[Path]) -> None:
    for name in ("mobilenet_v3_small_100", "mobilenet_v3_small_075"):
        with (
            ImageEmbedder(ImageEmbedderOptions(model=name, model_path=search_path)) as unit,
            ImageEmbedder(
                ImageEmbedderOptions(model=name, model_path=search_path, l2_normalize=False)
            ) as raw,
        ):
            u, r = vec(unit.embed(bees[0])), vec(raw.embed(bees[0]))
        assert abs(float(np.linalg.norm(u)) - 1.0) < 1e-4
        assert float(np.linalg.norm(r)) > 2.0, name
        assert cosine_similarity(u, r) > 0.9999


# ---------------------------------------------------------------------------- running modes


def test_running_mode_rules(
    search_path: list[Path], embedder: ImageEmbedder, frame: np.ndarray
) -> None:
    with pytest.raises(RunningModeError):
        embedder.embed_for_video(frame, 1)
    with pytest.raises(RunningModeError):
        embedder.embed_async(frame, 1)
    with pytest.raises(ValueError, match="result_callback"):
        ImageEmbedder(
            ImageEmbedderOptions(model_path=search_path, running_mode=RunningMode.LIVE_STREAM)
        )
    with pytest.raises(ValueError, match="result_callback"):
        ImageEmbedder(ImageEmbedderOptions(model_path=search_path, result_callback=lambda *a: None))
    with ImageEmbedder(
        ImageEmbedderOptions(model_path=search_path, running_mode=RunningMode.VIDEO)
    ) as video:
        with pytest.raises(RunningModeError):
            video.embed(frame)
        with pytest.raises(RunningModeError):
            video.embed_batch([frame])
        first = video.embed_for_video(frame, 100)
        assert first.timestamp_ms == 100
        assert cosine_similarity(vec(first), vec(embedder.embed(frame))) > 0.99999
        for stale in (100, 50):
            with pytest.raises(TimestampError):
                video.embed_for_video(frame, stale)
        assert video.embed_for_video(frame, 101).timestamp_ms == 101
    with pytest.raises(RunningModeError, match="closed"):
        video.embed_for_video(frame, 200)


def test_live_stream_delivers_on_worker_and_drops_while_busy(
    search_path: list[Path],
    frame: np.ndarray,
    embedder: ImageEmbedder,
) -> None:
    delivered: list[tuple[int, str, float]] = []
    done = threading.Event()
    reference = vec(embedder.embed(frame))

    def callback(result, image, timestamp_ms: int) -> None:
        delivered.append(
            (
                timestamp_ms,
                threading.current_thread().name,
                cosine_similarity(vec(result), reference),
            )
        )
        assert result.timestamp_ms == timestamp_ms and isinstance(image, Image.Image)
        done.set()

    options = ImageEmbedderOptions(
        model_path=search_path, running_mode=RunningMode.LIVE_STREAM, result_callback=callback
    )
    with ImageEmbedder(options) as stream:
        release = threading.Event()
        real = stream._analyzer.infer_prepared

        def slow_infer(*args, **kwargs):
            release.wait(10)  # hold the first frame "in flight"
            return real(*args, **kwargs)

        stream._analyzer.infer_prepared = slow_infer  # type: ignore[method-assign]
        assert stream.embed_async(frame, 10) is True
        assert [stream.embed_async(frame, t) for t in (20, 30, 40)] == [False] * 3
        assert stream.dropped_frames == 3
        with pytest.raises(TimestampError):
            stream.embed_async(frame, 40)
        release.set()
        assert done.wait(10)
        with pytest.raises(RunningModeError):
            stream.embed(frame)
        deadline = threading.Event()
        while stream._busy.is_set() and not deadline.wait(0.01):
            pass
        assert stream.embed_async(frame, 50) is True
    assert [d[0] for d in delivered] == [10, 50]
    assert all(name != threading.main_thread().name for _, name, _ in delivered)
    assert all(similarity > 0.99999 for *_, similarity in delivered)


# ---------------------------------------------------------------------------- classifier


def test_classifier_options(search_path: list[Path], bees: list[Path]) -> None:
    def top(**kw) -> list:
        with ImageClassifier(ImageClassifierOptions(model_path=search_path, **kw)) as c:
            return c.classify(bees[3]).classifications[0].categories

    everything = top()
    assert len(everything) == 1000  # background never returned
    assert all(c.index != 0 and c.category_name != "background" for c in everything)
    scores = [c.score for c in everything]
    assert scores == sorted(scores, reverse=True)
    assert 0.9 < sum(scores) <= 1.0 + 1e-4  # softmax over 1001 outputs incl. background
    three = top(max_results=3)
    assert [c.index for c in three] == [c.index for c in everything[:3]]
    assert all(c.display_name == c.category_name for c in three)
    threshold = everything[1].score
    assert [c.index for c in top(score_threshold=threshold)] == [
        everything[0].index,
        everything[1].index,
    ]
    allowed = top(category_allowlist=["ant", "bee", "bee"])
    assert sorted(c.category_name for c in allowed) == ["ant", "bee"]
    denied = top(category_denylist=[everything[0].category_name], max_results=2)
    assert [c.index for c in denied] == [everything[1].index, everything[2].index]
    for bad in (
        {"category_allowlist": ["ant"], "category_denylist": ["bee"]},
        {"max_results": 0},
        {"max_results": -5},
    ):
        with pytest.raises(ValueError):
            ImageClassifier(ImageClassifierOptions(model_path=search_path, **bad))


def test_classifier_modes_and_batch(search_path: list[Path], bees: list[Path]) -> None:
    with ImageClassifier(ImageClassifierOptions(model_path=search_path, max_results=5)) as c:
        batch = c.classify_batch([bees[0], b"", bees[1]])
        assert isinstance(batch[1], ImageError)
        single = c.classify(bees[1]).classifications[0].categories
        assert [x.index for x in batch[2].classifications[0].categories] == [
            x.index for x in single
        ]
        with pytest.raises(RunningModeError):
            c.classify_for_video(bees[0], 1)
    with ImageClassifier(
        ImageClassifierOptions(model_path=search_path, running_mode=RunningMode.VIDEO)
    ) as v:
        assert v.classify_for_video(bees[0], 5).timestamp_ms == 5
        with pytest.raises(TimestampError):
            v.classify_for_video(bees[0], 5)


def test_display_names_locale(models_dir: Path, tmp_path: Path, bees: list[Path]) -> None:
    for name in ("mobilenet_v3_small_100_224.onnx", "imagenet_labels_1001.txt"):
        (tmp_path / name).symlink_to(models_dir / name)
    labels = (models_dir / "imagenet_labels_1001.txt").read_text().splitlines()
    (tmp_path / "imagenet_labels_1001.xx.txt").write_text(
        "\n".join(f"XX-{label}" for label in labels) + "\n"
    )
    options = ImageClassifierOptions(
        model_path=[tmp_path], display_names_locale="xx", max_results=2
    )
    with ImageClassifier(options) as c:
        cats = c.classify(bees[0]).classifications[0].categories
    assert all(cat.display_name == f"XX-{cat.category_name}" for cat in cats)


def test_embedder_only_model_cannot_classify(search_path: list[Path]) -> None:
    with pytest.raises(ModelSpecError, match="no class head"):
        ImageClassifier(
            ImageClassifierOptions(model="mobilenet_v3_small_075", model_path=search_path)
        )
    model = open_model("mobilenet_v3_small_075", search_path)
    assert model.labels is None and model.spec.crop_fraction == 1.0
    assert model.spec.input_dtype == "float32" and not model.spec.output_normalized
