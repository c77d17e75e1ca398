"""Commands that do not open the library take its model and descriptor where there is one
(an audit, 2026-12-06): `eval FOLDER` - "with the library's model and settings", says the
README - and `embed` used the default model and descriptor in a library indexed with another
model and `--descriptor whiten=off`. `classify` takes the library's model when it has classes
(the MediaPipe embedder has none: the default classifies)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cli_process import run_cli
from tests.eval_sets import small_ukbench_set

pytestmark = pytest.mark.slow

OTHER_MODEL = "mobilenet_v3_small_075"


@pytest.fixture(scope="module")
def eval_set(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> str:
    """An eval set of 8 UKBench photos: what the tests ask is which model and options `eval`
    took, not how well they do (the whole subset took ~5 CPU s an eval)."""
    return str(small_ukbench_set(data_dir, tmp_path_factory.mktemp("eval-set")))


def test_eval_and_embed_use_the_librarys_model_and_options(
    tmp_path: Path, data_dir: Path, models_dir: Path, eval_set: str
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for source in sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[:4]:
        shutil.copyfile(source, photos / source.name)
    indexed = run_cli(
        [
            "--model-path",
            str(models_dir),
            "index",
            "--model",
            OTHER_MODEL,
            "--descriptor",
            "default,whiten=off",
            "photos",
        ],
        tmp_path,
    )
    assert indexed.returncode == 0, indexed.stderr
    evaluated = run_cli(["eval", eval_set, "--json"], tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    report = json.loads(evaluated.stdout)
    assert report["details"]["model"] == OTHER_MODEL, report["details"]
    assert "whiten=off" in json.dumps(report), report
    embedded = run_cli(
        ["embed", "--json", str(photos / sorted(p.name for p in photos.iterdir())[0])], tmp_path
    )
    assert embedded.returncode == 0, embedded.stderr
    assert json.loads(embedded.stdout.splitlines()[0])["model"] == OTHER_MODEL
    classified = run_cli(["classify", "--json", str(next(photos.iterdir()))], tmp_path)
    assert classified.returncode == 0, classified.stderr  # the default model has classes
    listed = run_cli(["models", "list", "--json"], tmp_path)
    assert json.loads(listed.stdout)["library_model"] == OTHER_MODEL
    chosen = run_cli(["eval", eval_set, "--json", "--descriptor", "plain"], tmp_path)
    assert chosen.returncode == 0 and "whiten=off" not in chosen.stdout, chosen.stderr


def test_eval_takes_a_model_option(tmp_path: Path, models_dir: Path, eval_set: str) -> None:
    """README: "`--model`, `--descriptor` choose others" - `eval` had no `--model` (exit 2,
    "No such option"); only IMGSEARCH_MODEL chose one."""
    folder = eval_set
    for args in (["eval", folder], ["eval", "run", folder]):
        done = run_cli(
            ["--model-path", str(models_dir), *args, "--model", OTHER_MODEL, "--json"], tmp_path
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["details"]["model"] == OTHER_MODEL
    wrong = run_cli(["--model-path", str(models_dir), "eval", folder, "--model", "nope"], tmp_path)
    assert wrong.returncode != 0 and "unknown model 'nope'" in wrong.stderr, wrong.stderr


def test_eval_in_a_library_with_crops_measures_them_through_a_library(
    tmp_path: Path, data_dir: Path, models_dir: Path, eval_set: str
) -> None:
    """`eval FOLDER` in a library indexed with `--descriptor default,crops=on` (README's advice
    for some libraries) ended in exit 2: "Invalid value for '--descriptor': crops are measured
    through a library" - an option the user never gave. The library's crops are measured as
    they must be, through a library; a crops option the user gives still says how."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for source in sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[:2]:
        shutil.copyfile(source, photos / source.name)
    truth = eval_set
    options = ["--model-path", str(models_dir)]
    indexed = run_cli(
        [*options, "index", "--descriptor", "whiten=off,crops=on", "photos"], tmp_path
    )
    assert indexed.returncode == 0, indexed.stderr
    evaluated = run_cli([*options, "eval", truth, "--json"], tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    assert "crops=on" in json.dumps(json.loads(evaluated.stdout)), evaluated.stdout[:400]
    refused = run_cli([*options, "eval", truth, "--descriptor", "crops=on"], tmp_path)
    assert refused.returncode == 2 and "--descriptor 'library,crops=on'" in refused.stderr


def test_a_reindex_with_another_model_says_so_and_what_it_drops(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """`reindex --model` to the embedder without classes said nothing of the switch, and the
    results lost their labels unseen (an audit)."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for source in sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[:3]:
        shutil.copyfile(source, photos / source.name)
    args = ["--model-path", str(models_dir)]
    assert run_cli([*args, "index", "photos"], tmp_path).returncode == 0
    done = run_cli([*args, "reindex", "--model", OTHER_MODEL, "--json"], tmp_path)
    assert done.returncode == 0, done.stderr
    warnings = json.loads(done.stdout)["warnings"]
    assert f"the library's model is now {OTHER_MODEL} (was mobilenet_v3_small_100)" in warnings
    assert any("has no class labels" in w for w in warnings), warnings
