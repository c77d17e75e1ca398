"""Descriptor evaluation end to end: plain equals the vector path, the default beats plain on
hard copies (frames, turns), the CLI selects options, geometric verification."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models import open_model
from search.descriptor import DescriptorConfig
from search.evaluation import (
    evaluate_descriptor,
    evaluate_folder,
    load_truth,
    make_copies,
    model_embedder,
    prepare_set,
    score_set,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model(models_dir: Path):
    return open_model(None, [models_dir], threads=1)


@pytest.fixture(scope="module")
def hard_set(data_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """6 originals x 14 single edits (every kind once, screenshots and turns included)."""
    sources = sorted((data_dir / "hymenoptera/images/val/ants").glob("*.jpg"))[:7]
    out = tmp_path_factory.mktemp("hard")
    truth = make_copies(sources, out, per_original=14, seed=3, distractor_share=0.15)
    return load_truth(truth)


@pytest.fixture(scope="module")
def prepared_hard(hard_set, model):  # type: ignore[no-untyped-def]
    """The hard set described once for the tests that score it (all views and frames)."""
    return prepare_set(hard_set, model)


def test_plain_descriptor_equals_the_vector_path(data_dir: Path, model, models_dir) -> None:
    truth = load_truth(data_dir / "near_duplicates")
    ev, run = evaluate_descriptor(truth, model, DescriptorConfig.plain())
    ref = evaluate_folder(truth, model_embedder(None, [models_dir], threads=1))
    assert ev.metrics.keys() == ref.metrics.keys()
    for key, value in ref.metrics.items():
        assert ev.metrics[key] == pytest.approx(value, abs=1e-5), key
    assert run.whitening is None and run.calibration["spread"] > 0


def test_default_beats_plain_on_hard_copies(prepared_hard) -> None:  # type: ignore[no-untyped-def]
    prepared = prepared_hard
    plain, _ = score_set(prepared, DescriptorConfig.plain(), None)
    best, run = score_set(prepared, DescriptorConfig(), None)
    assert run.whitening is None  # a set this small keeps the plain space
    for key in ("recall@1", "pair_ap", "recall_at_p99", "map"):
        assert best.metrics[key] >= plain.metrics[key], key
    assert best.metrics["pair_ap"] > plain.metrics["pair_ap"] + 0.05
    # Screenshots and quarter turns are what frames and rotations are for.
    assert plain.per_edit["screenshot"]["recall@1"] < 0.5
    assert best.per_edit["screenshot"]["recall@1"] == 1.0
    assert best.per_edit["rot90"]["detected_at_p99"] >= plain.per_edit["rot90"]["detected_at_p99"]


def test_shared_sets_keep_their_quality(data_dir: Path, model) -> None:
    uk, _ = evaluate_descriptor(load_truth(data_dir / "ukbench_subset"), model)
    assert uk.metrics["ns_score"] >= 3.95
    nd, _ = evaluate_descriptor(load_truth(data_dir / "near_duplicates"), model)
    assert nd.metrics["recall@1"] == 1.0 and nd.metrics["recall_at_p99"] >= 0.97


def test_cli_selects_the_descriptor(data_dir: Path, models_dir: Path) -> None:
    from click.testing import CliRunner

    from cli.main import cli

    folder = data_dir / "near_duplicates"
    base = ["--model-path", str(models_dir), "eval", str(folder), "--json"]
    out = CliRunner().invoke(cli, [*base, "--descriptor", "plain,frames=on,rotations=2"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["details"]["descriptor"]["descriptor"].startswith("rotations=2,frames=on")
    assert data["recall@1"] == 1.0
    bad = CliRunner().invoke(cli, [*base, "--descriptor", "rotations=5"])
    assert bad.exit_code == 2 and "rotations must be one of" in bad.output


def test_verify_confirms_copies_not_strangers(data_dir: Path, monkeypatch) -> None:
    pytest.importorskip("cv2")
    from search.descriptor import confirmed, verify

    paths = sorted((data_dir / "hymenoptera/images/val/bees").glob("*.jpg"))[:3]
    with Image.open(paths[0]) as im:
        photo = im.convert("RGB")
    w, h = photo.size
    copy = photo.crop((w // 5, h // 6, w - w // 8, h - h // 5)).rotate(12, expand=True)
    copy = copy.resize((copy.width // 2, copy.height // 2))
    copy = copy.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    a = verify.local_features(photo)
    assert a.count > 100
    inliers = verify.count_inliers(a, verify.local_features(copy))
    assert inliers >= verify.MIN_INLIERS and confirmed.verified_score(inliers) > 0
    for other in paths[1:]:
        with Image.open(other) as im:
            stranger = verify.local_features(im.convert("RGB"))
        assert verify.count_inliers(a, stranger) < verify.MIN_INLIERS
    assert confirmed.verified_score(verify.MIN_INLIERS - 1) == 0.0
    # more inliers, a higher score, never a tie, never 1 (a confirmed copy is not the file)
    strengths = [confirmed.verified_score(n) for n in (12, 13, 60, 61, 499, verify.FEATURES)]
    assert strengths == sorted(set(strengths)) and strengths[-1] < 1.0
    floor = confirmed.verified_floor(None)
    assert floor < confirmed.verified_copy_score(0.5, 300, None) < (1 + floor) / 2 + 1e-9
    assert confirmed.verified_copy_score(0.5, verify.MIN_INLIERS - 1, None) == 0.5
    monkeypatch.setitem(sys.modules, "cv2", None)  # OpenCV missing: a clear, typed error
    with pytest.raises(verify.VerifyUnavailableError, match="opencv-python-headless"):
        verify.local_features(photo)


def test_the_key_point_check_is_evaluated_as_the_engine_runs_it(prepared_hard) -> None:  # type: ignore[no-untyped-def]
    """The default (local=on) has its unsettled queries' grey-band candidates checked by key
    points offline too (and a small query's best candidates by pixels, and those its layout
    nominates): only those pairs are raised, and only upwards."""
    pytest.importorskip("cv2")
    from models import load_image
    from search.descriptor import (
        PIXEL_SIDE,
        VERIFY_CHECKED,
        Descriptor,
        grey_band,
        layout_matches,
        layout_ranks,
        pixel_candidates,
        verified_floor,
    )
    from search.evaluation import _Matrices
    from search.evaluation.descriptor_scores import grey_band_boosts

    prepared = prepared_hard
    unchecked, quiet = score_set(prepared, DescriptorConfig(local=False), None)
    checked, run = score_set(prepared, DescriptorConfig(), None)
    assert quiet.verified_pairs == 0 and "verify" not in quiet.seconds
    assert run.verified_pairs > 0
    assert checked.metrics["pair_ap"] >= unchecked.metrics["pair_ap"]
    assert checked.metrics["recall@1"] >= unchecked.metrics["recall@1"]
    descriptor = Descriptor(DescriptorConfig())
    descriptor.calibrate([f.stored for f in prepared.files])
    copy = _Matrices(descriptor, prepared.files).copy_matrix()
    boost = grey_band_boosts(prepared.files, prepared.paths, copy, descriptor, lambda _m: None)
    assert len(boost) == run.verified_pairs
    cal = descriptor.calibration
    layouts = layout_ranks([f.layout for f in prepared.files])
    for (a, b), score in boost.items():
        assert copy[a].max() < descriptor.sure_score()  # an unsettled query
        # a grey-band candidate, or a small query's candidate compared by pixels
        small = max(load_image(prepared.paths[a]).image.size) <= PIXEL_SIDE
        assert small == (max(prepared.files[a].size) <= PIXEL_SIDE)  # the size it was told
        rho = layouts @ layouts[a]
        rho[a] = np.nan
        assert (
            b in grey_band(copy[a], cal, VERIFY_CHECKED)
            or (small and b in pixel_candidates(copy[a], cal))
            or b in [n for n, _ in layout_matches(rho, limit=len(rho))]  # |rho| >= 0.85
            or b in _window_nominee(prepared, copy[a], a, verified_floor(cal))  # crops
        )
        assert score > copy[a, b]


def _window_nominee(prepared, row: np.ndarray, a: int, floor: float) -> list[int]:  # type: ignore[no-untyped-def]
    """The candidate a window of whose layout query ``a`` nominates, as the engine picks it:
    among its best candidates below the confirmed band."""
    from models import load_image
    from search.descriptor import crop_nominees

    files = prepared.files
    near = [b for b in range(len(files)) if b != a and row[b] < floor and files[b].layout]
    aspects = {b: files[b].size[0] / files[b].size[1] for b in near}
    picture = load_image(prepared.paths[a]).image
    found = crop_nominees(
        picture, {b: row[b] for b in near}, {b: files[b].layout for b in near}, aspects
    )
    return [b for b, _ in found]


def test_query_scorer_ranks_like_the_evaluation(prepared_hard) -> None:  # type: ignore[no-untyped-def]
    """The engine's per-query path (candidates from an index, exact scores, expansion) gives
    the evaluation's rankings."""
    from search.descriptor import Descriptor, QueryScorer
    from search.evaluation import _Matrices, _scores

    prepared = prepared_hard
    config = DescriptorConfig()
    descriptor = Descriptor(config)
    descriptor.calibrate([f.stored for f in prepared.files])
    mx = _Matrices(descriptor, prepared.files)
    scored = _scores(mx, len(prepared.files) - 1, {})
    rows, owner = mx.rows, mx.owner

    def neighbours(query: np.ndarray, k: int) -> np.ndarray:  # a flat index over all rows
        best = np.argsort(-(query @ rows.T), axis=1)[:, : min(k, len(rows))]
        return owner[best]

    scorer = QueryScorer(
        descriptor, neighbours, lambda ids: {i: prepared.files[i].stored for i in ids}
    )
    expanded = 0
    for q, f in enumerate(prepared.files):
        query = descriptor.query_rows(f.views, f.names, f.stored.frame_dominant)
        hits = scorer.search(query, f.stored.labels, k=10, exclude=q)
        # Same scores in the same order; ids may swap only within float32 rounding ties.
        assert np.allclose([h.rank for h in hits], scored.rank_scores[q, :10], atol=1e-5), q
        full = dict(zip(scored.rank_idx[q].tolist(), scored.rank_scores[q].tolist(), strict=True))
        assert all(abs(full[h.id] - h.rank) < 1e-5 for h in hits), q
        expanded += any(h.copy > mx.copy_block(q, q + 1)[0, h.id] + 1e-6 for h in hits)
    assert expanded > 0  # the duplicate graph was followed for some queries


def test_whitening_is_learned_from_the_set_itself(hard_set, model, monkeypatch) -> None:
    """The self-supervised path end to end (the size floor lowered for a small set)."""
    import search.descriptor.whitening as wmod
    import search.evaluation.descriptor_eval as ed

    monkeypatch.setattr(ed, "MIN_IMAGES", 50)
    monkeypatch.setattr(wmod, "MIN_IMAGES", 50)
    ev, run = evaluate_descriptor(hard_set, model, DescriptorConfig(expand=0, labels=0.0))
    assert run.whitening is not None and run.whitening.images == len(hard_set.files)
    assert run.whitening.pairs == 4 * len(hard_set.files)  # every file, 4 edits each
    assert run.calibration["spread"] < 0.2  # whitened space: random pairs near orthogonal
    assert 0.5 < ev.metrics["recall@1"] <= 1.0 and "whitening" in run.seconds


def test_eval_report_names_the_model_and_every_edit_whole(
    data_dir: Path, models_dir: Path, tmp_path: Path
) -> None:
    """`imgsearch eval run DIR --descriptor library` as printed: the model by its name (not
    "library model"), the whitening note said once, and edit names that differ only at
    their end printed whole (they were cut at 28 characters)."""
    import shutil

    from tests.cli_process import run_cli

    source = data_dir / "near_duplicates" / "images"
    names = [
        "augly_dfdc_1.jpg",
        "augly_dfdc_1__overlay_onto_background_image.png",
        "augly_dfdc_1__png_reencode_identical_pixels.png",
        "augly_dfdc_2.jpg",
    ]
    for name in names:
        shutil.copyfile(source / name, tmp_path / name)
    truth = {"name": "tiny", "clusters": {"augly_dfdc_1": names[:3]}, "distractors": names[3:]}
    (tmp_path / "ground_truth.json").write_text(json.dumps(truth))
    args = ["--model-path", str(models_dir), "eval", "run", str(tmp_path)]
    done = run_cli([*args, "--descriptor", "library"], tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "model mobilenet_v3_small_100," in out and "library model" not in out, out
    assert "whitening: skipped: fewer than 100 images" in out, out
    assert "whitening: whitening" not in out, out
    for edit in ("overlay_onto_background_image", "png_reencode_identical_pixels"):
        assert f"  {edit} " in out, out


def test_a_file_that_cannot_be_read_counts_alike_in_every_mode(
    data_dir: Path, models_dir: Path, tmp_path: Path
) -> None:
    """`eval run --descriptor library` counted a file that failed as an evaluated file and a
    query ranking nothing (mAP 0.667 where the other modes said 0.857 of the same files),
    and gave a copy of it a cosine of -1 to its original (None elsewhere): every mode now
    leaves it out of the files, lists it as missing and counts a copy of it as a miss."""
    import shutil

    from click.testing import CliRunner

    from cli.main import cli

    source = data_dir / "near_duplicates" / "images"
    names = ["augly_dfdc_1.jpg", "augly_dfdc_1__blur.png", "augly_dfdc_2.jpg"]
    for name in names:
        shutil.copyfile(source / name, tmp_path / name)
    (tmp_path / "augly_dfdc_1__broken.jpg").write_text("not an image")
    clusters = {"augly_dfdc_1": [*names[:2], "augly_dfdc_1__broken.jpg"]}
    truth = {"name": "tiny", "clusters": clusters, "distractors": names[2:]}
    (tmp_path / "ground_truth.json").write_text(json.dumps(truth))
    base = ["--model-path", str(models_dir), "eval", "run", str(tmp_path), "--json"]
    reports = {}
    for mode in ("plain", "default", "library"):
        done = CliRunner().invoke(cli, [*base, "--descriptor", mode])
        assert done.exit_code == 0, done.output
        reports[mode] = json.loads(done.output[done.output.index("{") :])
    for report in reports.values():
        details = report["details"]
        assert details["files"] == 3 and details["missing"] == ["augly_dfdc_1__broken.jpg"]
        (miss,) = [m for m in details["misses"] if m["copy"] == "augly_dfdc_1__broken.jpg"]
        assert miss["cosine"] is None and miss["rank"] is None
    assert reports["library"]["map"] == pytest.approx(reports["default"]["map"])
    assert reports["library"]["recall@1"] == reports["default"]["recall@1"] == 0.5
