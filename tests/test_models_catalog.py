"""Model catalog: built-in specs, locating files, sha256 checks and cache, user specs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from models import (
    DEFAULT_MODEL_NAME,
    ImageEmbedder,
    ImageEmbedderOptions,
    ModelChecksumError,
    ModelNotFoundError,
    ModelSpecError,
    UnknownModelError,
    available_models,
    builtin_catalog,
    file_sha256,
    locate_model,
    model_status,
    open_model,
)

README_SHA = {
    "mobilenet_v3_small_100_224.onnx": "417354d0e54b7d7cf060d2ff342ae52b5aa600e7c8b14125c569ac3e862ec054",  # noqa: E501 (a sha256 is one word)
    "mobilenet_v3_small_100_224_int8.onnx": "3b7c2f7b952bf6adf58dacfc112fdfd501a88b818cfc6cbc3062038e44d466de",  # noqa: E501 (a sha256 is one word)
    "mobilenet_v3_small_075_224_embedder.onnx": "20c45f53401cc8fbad7c744be73ed5361252d0d1fbcec62eb4e142581b28e136",  # noqa: E501 (a sha256 is one word)
    "imagenet_labels_1001.txt": "bc08491a85c0d6c193223b92305c7a52b2b1346fd3650680a1d8255135656569",
}


@pytest.fixture(autouse=True)
def private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))


def test_builtin_catalog_matches_the_models_readme() -> None:
    catalog = builtin_catalog()
    assert next(iter(catalog)) == DEFAULT_MODEL_NAME
    assert set(catalog) == {
        "mobilenet_v3_small_100",
        "mobilenet_v3_small_100_int8",
        "mobilenet_v3_small_075",
    }
    for spec in catalog.values():
        assert README_SHA[spec.file] == spec.sha256
        if spec.labels_file:
            assert README_SHA[spec.labels_file] == spec.labels_sha256
    default = catalog[DEFAULT_MODEL_NAME]
    assert (default.input_dtype, default.input_range, default.layout) == ("uint8", (0, 255), "NHWC")
    assert default.crop_fraction == 0.875 and default.output_normalized
    mediapipe = catalog["mobilenet_v3_small_075"]
    assert (mediapipe.input_dtype, mediapipe.input_range) == ("float32", (0.0, 1.0))
    assert mediapipe.crop_fraction == 1.0 and not mediapipe.output_normalized
    assert mediapipe.probs_output is None and mediapipe.labels_file is None


def test_locate_all_shared_models(models_dir: Path, tmp_path: Path) -> None:
    for name in builtin_catalog():
        located = locate_model(name, [tmp_path, models_dir])
        assert located.verified and located.path.parent == models_dir
        assert (located.labels_path is None) == (located.spec.labels_file is None)
        assert model_status(name, [models_dir])["verified"] is True


def test_missing_file_message_names_file_sha_dirs_and_how(tmp_path: Path) -> None:
    dirs = [tmp_path / "a", tmp_path / "b"]
    with pytest.raises(ModelNotFoundError) as info:
        locate_model(DEFAULT_MODEL_NAME, dirs)
    text = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert "mobilenet_v3_small_100_224.onnx" in text
    assert README_SHA["mobilenet_v3_small_100_224.onnx"] in text
    assert all(str(d) in text for d in dirs)
    assert "IMGSEARCH_MODEL_PATH" in text and "../shared/models" in text
    assert "tf2onnx" in text and "TF-slim" in text
    status = model_status(DEFAULT_MODEL_NAME, dirs)
    assert status["found"] is False and status["verified"] is False


def test_wrong_sha256_is_refused_with_details(models_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "mobilenet_v3_small_075_224_embedder.onnx"
    bad.write_bytes(b"not the model" * 100)
    with pytest.raises(ModelChecksumError) as info:
        locate_model("mobilenet_v3_small_075", [tmp_path])
    text = str(info.value)
    assert str(bad) in text and README_SHA[bad.name] in text and file_sha256(bad) in text
    assert str(tmp_path) in text and "IMGSEARCH_MODEL_PATH" in text and "MediaPipe" in text
    # A good copy further down the path is used instead.
    located = locate_model("mobilenet_v3_small_075", [tmp_path, models_dir])
    assert located.verified and located.path.parent == models_dir
    # verify=False takes the first file as is.
    assert not locate_model("mobilenet_v3_small_075", [tmp_path], verify=False).verified
    assert model_status("mobilenet_v3_small_075", [tmp_path])["found"] is True


def test_wrong_labels_file_is_refused(models_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "mobilenet_v3_small_100_224.onnx").symlink_to(
        models_dir / "mobilenet_v3_small_100_224.onnx"
    )
    (tmp_path / "imagenet_labels_1001.txt").write_text("background\nsomething\n")
    with pytest.raises(ModelChecksumError, match=r"imagenet_labels_1001\.txt"):
        locate_model(DEFAULT_MODEL_NAME, [tmp_path])


def test_sha256_cache_by_path_size_mtime(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(b"a" * 1000)
    first = file_sha256(path)
    stat = path.stat()
    path.write_bytes(b"b" * 1000)  # same size ...
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # ... and same mtime
    assert file_sha256(path) == first  # served from the cache, not re-hashed
    assert file_sha256(path, use_cache=False) != first
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert file_sha256(path) != first  # touched: hashed again
    cache = Path(os.environ["XDG_CACHE_HOME"]) / "imgsearch" / "sha256-cache.json"
    assert str(path.resolve()) in cache.read_text()


def test_user_model_spec(models_dir: Path, tmp_path: Path) -> None:
    target = models_dir / "mobilenet_v3_small_075_224_embedder.onnx"
    spec = {
        "name": "my_embedder",
        "file": str(target),
        "sha256": README_SHA[target.name],
        "input_dtype": "float32",
        "input_range": [0.0, 1.0],
        "size": [224, 224],
        "crop_fraction": 1.0,
        "embedding_output": "embedding",
        "output_normalized": False,
        "dimension": 1024,
        "obtain": "my own conversion",
    }
    (tmp_path / "my_embedder.model.json").write_text(json.dumps(spec))
    assert "my_embedder" in available_models([tmp_path])
    located = locate_model("my_embedder", [tmp_path])
    assert located.verified and located.path == target
    with (
        ImageEmbedder(ImageEmbedderOptions(model="my_embedder", model_path=[tmp_path])) as mine,
        ImageEmbedder(
            ImageEmbedderOptions(model="mobilenet_v3_small_075", model_path=[models_dir])
        ) as ref,
    ):
        frame = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
        a = mine.embed(frame).embeddings[0].embedding
        b = ref.embed(frame).embeddings[0].embedding
    assert np.allclose(a, b, atol=1e-5)

    (tmp_path / "broken.model.json").write_text(
        json.dumps({**spec, "name": "broken", "input_dtype": "int64"})
    )
    with pytest.raises(ModelSpecError, match="input_dtype"):
        locate_model("broken", [tmp_path])
    assert "broken" not in available_models([tmp_path])  # listed models stay usable
    wrong_dim = {**spec, "name": "wrong_dim", "dimension": 512}
    (tmp_path / "wrong_dim.model.json").write_text(json.dumps(wrong_dim))
    with pytest.raises(ModelSpecError, match="512"):
        open_model("wrong_dim", [tmp_path])


def test_unknown_model_lists_known_ones(tmp_path: Path) -> None:
    with pytest.raises(UnknownModelError) as info:
        locate_model("resnet9000", [tmp_path])
    assert "mobilenet_v3_small_100" in str(info.value) and ".model.json" in str(info.value)


def test_a_bad_user_spec_is_named_by_its_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A spec missing a key said "model spec in DIR: 'sha256' (string) is required": which of
    DIR's spec files was it? The message names the file."""
    (tmp_path / "mine.model.json").write_text(json.dumps({"name": "mine", "file": "m.onnx"}))
    with pytest.raises(ModelSpecError, match=r"mine\.model\.json: 'sha256' \(string\)"):
        locate_model("mine", [tmp_path])
    with caplog.at_level("WARNING"):
        assert "mine" not in available_models([tmp_path])
    assert "mine.model.json: 'sha256' (string) is required (ignored)" in caplog.text


@pytest.mark.skipif(
    __import__("tests.cli_process", fromlist=["CANNOT_DROP_ROOT"]).CANNOT_DROP_ROOT,
    reason="root without setpriv: file modes do not apply",
)
def test_a_folder_of_the_search_path_that_may_not_be_read_is_passed_over(
    models_dir: Path, tmp_path: Path, data_dir: Path
) -> None:
    """One folder on the model search path that the user may not look into (another user's
    home) stopped every command ("cannot use /root/models: Permission denied", exit 1)
    although a later folder held the model: it is now passed over with a warning."""
    from tests.cli_process import AS_USER, run_cli

    locked = tmp_path / "locked"
    (locked / "inside").mkdir(parents=True)
    locked.chmod(0)
    photo = next(iter(sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))))
    try:
        env = {"IMGSEARCH_MODEL_PATH": f"{locked / 'inside'}:{models_dir}", "HOME": str(tmp_path)}
        done = run_cli(["embed", str(photo), "--json"], tmp_path, env=env, prefix=AS_USER)
        given = run_cli(
            ["--model-path", f"{locked / 'inside'}:{models_dir}", "embed", str(photo)],
            tmp_path,
            env={"HOME": str(tmp_path)},
            prefix=AS_USER,
        )
    finally:
        locked.chmod(0o755)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)
    assert "Traceback" not in done.stderr
    assert f"cannot look in {locked / 'inside'} (Permission denied)" in done.stderr, done.stderr
    # said once: the setting's own check left it to the search (two warnings said the same)
    assert "cannot be looked at" not in done.stderr, done.stderr
    # named on the command line: a usage error that says why
    assert given.returncode == 2 and "cannot be looked at (permission denied)" in given.stderr
