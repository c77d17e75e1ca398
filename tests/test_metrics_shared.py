"""Figures on the shared sets (UKBench N-S, hymenoptera precision@10, near-duplicate pairs)
and `imgsearch eval` on them: JSON, plots, splits, bad ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from search.evaluation import (
    TruthError,
    load_truth,
)

# ---------------------------------------------------------------------- real figures


@pytest.fixture(scope="module")
def embedder(models_dir: Path):
    from search.evaluation import model_embedder

    return model_embedder(search_path=[models_dir])


@pytest.mark.slow
def test_ukbench_ns_score(data_dir: Path, embedder) -> None:
    from search.evaluation import evaluate_folder

    got = evaluate_folder(load_truth(data_dir / "ukbench_subset"), embedder).metrics
    assert got["ns_score"] >= 3.9 and got["map"] >= 0.9 and got["recall@1"] >= 0.95


@pytest.mark.slow
def test_hymenoptera_precision_at_10(data_dir: Path, embedder) -> None:
    from search.evaluation import evaluate_folder

    got = evaluate_folder(load_truth(data_dir / "hymenoptera"), embedder).metrics
    assert got["precision@10"] >= 0.8 and got["map"] >= 0.6


@pytest.mark.slow
def test_near_duplicates_pairs(data_dir: Path, embedder) -> None:
    from search.evaluation import evaluate_folder

    ev = evaluate_folder(load_truth(data_dir / "near_duplicates"), embedder)
    assert ev.metrics["recall@1"] == 1.0
    assert ev.metrics["pair_ap"] >= 0.95 and ev.metrics["recall_at_p99"] >= 0.85
    assert ev.p99_threshold is not None and 0.0 < ev.p99_threshold < 1.0


@pytest.mark.slow
def test_cli_eval_json(data_dir: Path, models_dir: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cli.main import cli

    folder = data_dir / "ukbench_subset" / "images"
    args = [
        "--model-path",
        str(models_dir),
        "eval",
        str(folder),
        "--truth",
        str(data_dir / "ukbench_subset" / "ground_truth.json"),
        "--json",
        "--plot",
        str(tmp_path / "pr.png"),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["ns_score"] >= 3.9 and out["details"]["files"] == 66
    assert (tmp_path / "pr.png").stat().st_size > 0
    bad = CliRunner().invoke(cli, ["eval", str(tmp_path), "--truth", str(tmp_path / "pr.png")])
    assert bad.exit_code == 1 and "cannot read ground truth" in bad.output


@pytest.mark.slow
def test_eval_plot_follows_its_suffix_and_refuses_a_non_image_one(
    data_dir: Path, models_dir: Path, tmp_path: Path
) -> None:
    """`imgsearch eval --plot pr.txt` wrote a PNG into the .txt file: a suffix that is not a
    format the plot is written in is refused before any work (exit 2, naming --plot), and
    .svg / .pdf write that format."""
    from tests.cli_process import run_cli
    from tests.eval_sets import small_ukbench_set

    folder = str(small_ukbench_set(data_dir, tmp_path / "set"))  # 8 photos: the plot is asked
    model = ["--model-path", str(models_dir)]
    bad = run_cli([*model, "eval", folder, "--plot", "pr.txt"], tmp_path)
    assert bad.returncode == 2 and "--plot" in bad.stderr and ".svg" in bad.stderr, bad.stderr
    assert "Traceback" not in bad.stderr and not (tmp_path / "pr.txt").exists()
    done = run_cli([*model, "eval", folder, "--plot", "plots/pr.SVG"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "plots" / "pr.SVG").read_bytes().lstrip().startswith(b"<?xml")


def test_eval_of_a_split_the_set_lacks_names_the_splits_it_has(
    data_dir: Path, models_dir: Path, tmp_path: Path
) -> None:
    """`imgsearch eval hymenoptera --split nope` said only "no items in split 'nope'": it now
    names the splits the ground truth has."""
    from tests.cli_process import run_cli

    folder = str(data_dir / "hymenoptera")
    done = run_cli(["--model-path", str(models_dir), "eval", folder, "--split", "nope"], tmp_path)
    assert done.returncode == 1 and "(its splits: train, val)" in done.stderr, done.stderr


def test_the_plot_of_a_tiny_copy_set_prints_no_numpy_warning(
    data_dir: Path, models_dir: Path, tmp_path: Path
) -> None:
    """`eval run --plot` of a copy set too small to have pairs of one kind printed numpy's
    "RuntimeWarning: invalid value encountered in divide" and its source line on stderr (the
    density of no scores); the plot is now written without it."""
    from tests.cli_process import run_cli

    model = ["--model-path", str(models_dir)]
    source = data_dir / "ukbench_subset" / "images"
    one = ["--per-original", "1", "--max-originals", "1"]
    made = run_cli([*model, "eval", "make-copies", str(source), "copies", *one], tmp_path)
    assert made.returncode == 0, made.stderr
    done = run_cli([*model, "eval", "run", "copies", "--plot", "plots/pr.png"], tmp_path)
    assert done.returncode == 0, done.stderr
    # progress lines only ("checking 2 grey-band candidates with key points", "comparing 1
    # small queries' best candidates by pixels"), no warning
    assert "Warning" not in done.stderr and "invalid value" not in done.stderr, done.stderr
    progress = ("checking ", "comparing ")
    assert all(line.startswith(progress) for line in done.stderr.splitlines()), done.stderr
    assert (tmp_path / "plots" / "pr.png").stat().st_size > 0


def test_ground_truth_that_is_not_json_says_so(tmp_path: Path) -> None:
    """`eval run DIR --truth photo.jpg` said "'utf-8' codec can't decode byte 0xff in
    position 0: invalid start byte"; it now says the file is not JSON and what to give."""
    from search.evaluation import load_truth

    for name, data in (("photo.jpg", b"\xff\xd8\xff\xe0"), ("notes.txt", b"not json")):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(TruthError) as caught:
            load_truth(tmp_path / name)
        message = str(caught.value)
        assert "not a JSON file" in message and "ground_truth.json" in message, message
        assert "codec" not in message and "Expecting value" not in message, message
