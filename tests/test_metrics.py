"""Metrics (hand-computed examples), ground-truth loading and evaluate()."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from search.evaluation import (
    GroundTruth,
    TruthError,
    evaluate,
    load_truth,
    parse_truth,
    run_evaluation,
)
from search.evaluation import metrics as m

# ---------------------------------------------------------------------- pure metrics


def test_average_precision_hand_computed() -> None:
    assert m.average_precision([1, 0, 1, 0, 0], 2) == pytest.approx((1 + 2 / 3) / 2)
    # A third relevant item never retrieved counts 0.
    assert m.average_precision([1, 0, 1, 0, 0], 3) == pytest.approx((1 + 2 / 3) / 3)
    assert m.average_precision([0, 0, 0], 1) == 0.0
    assert m.average_precision([0, 1, 0, 1], 2) == pytest.approx((1 / 2 + 2 / 4) / 2)
    with pytest.raises(ValueError):
        m.average_precision([1], 0)
    with pytest.raises(ValueError):
        m.average_precision([1, 1], 1)


def test_mean_average_precision() -> None:
    assert m.mean_average_precision([[1, 0, 0], [0, 1]], [1, 1]) == pytest.approx(0.75)
    with pytest.raises(ValueError):
        m.mean_average_precision([[1]], [1, 2])


def test_hit_and_precision_at_k() -> None:
    hits = [0, 0, 1, 0]
    assert [m.hit_at_k(hits, k) for k in (1, 2, 3, 10)] == [0.0, 0.0, 1.0, 1.0]
    assert m.precision_at_k([1, 0, 1], 2) == 0.5
    assert m.precision_at_k([1, 0, 1], 10) == pytest.approx(0.2)  # short ranking = misses
    with pytest.raises(ValueError):
        m.hit_at_k(hits, 0)


def test_ns_count_counts_the_query() -> None:
    assert m.ns_count([1, 1, 0, 1]) == 3
    assert m.ns_count([1, 1, 1, 0]) == 4
    assert m.ns_count([0, 0, 0, 1]) == 1


def test_knn_matches_brute_force_across_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(57, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    monkeypatch.setattr(m, "_BLOCK_ELEMENTS", 57 * 5)  # 5 rows per block
    scores, idx = m.knn(x, 6)
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)
    expect = np.argsort(-sims, axis=1, kind="stable")[:, :6]
    assert (idx == expect).all()
    assert np.allclose(scores, np.take_along_axis(sims, expect, 1))
    _, full_idx = m.knn(x, 1000)
    assert full_idx.shape == (57, 56) and not (full_idx == np.arange(57)[:, None]).any()


def test_knn_ties_break_by_index() -> None:
    x = np.array([[1, 0], [1, 0], [1, 0], [0, 1]], dtype=np.float32)
    _, idx = m.knn(x, 3)
    assert idx[0].tolist() == [1, 2, 3] and idx[2].tolist() == [0, 1, 3]


def test_candidate_pairs_are_unique_and_ordered() -> None:
    scores = np.array([[0.9, 0.1], [0.9, 0.5], [0.5, 0.1]], dtype=np.float32)
    idx = np.array([[1, 2], [0, 2], [1, 0]])
    i, j, s = m.candidate_pairs(scores, idx)
    assert sorted(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 1), (0, 2), (1, 2)]
    assert dict(zip(zip(i.tolist(), j.tolist(), strict=True), s.tolist(), strict=True))[(0, 1)] == (
        pytest.approx(0.9)
    )


def test_pair_average_precision_hand_computed() -> None:
    s = np.array([0.9, 0.8, 0.7, 0.6])
    y = np.array([1, 0, 1, 0], dtype=bool)
    assert m.pair_average_precision(s, y, 2) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert m.pair_average_precision(s, y, 3) == pytest.approx((1 + 2 / 3) / 3)  # one never found
    # Tie-aware: the two 0.8 pairs are accepted together (precision 2/3 at recall 1).
    tied = m.pair_average_precision(np.array([0.9, 0.8, 0.8]), np.array([1, 1, 0], bool), 2)
    assert tied == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def test_pair_precision_recall_at_threshold() -> None:
    s = np.array([0.9, 0.8, 0.7, 0.6])
    y = np.array([1, 0, 1, 0], dtype=bool)
    assert m.pair_precision_recall(s, y, 2, 0.75) == (0.5, 0.5)
    assert m.pair_precision_recall(s, y, 2, 0.7) == (pytest.approx(2 / 3), 1.0)
    assert m.pair_precision_recall(s, y, 2, 0.95) == (1.0, 0.0)


def test_recall_at_precision_hand_computed() -> None:
    s = np.array([0.95, 0.9, 0.85, 0.8, 0.7])
    y = np.array([1, 1, 0, 1, 1], dtype=bool)
    assert m.recall_at_precision(s, y, 5, 0.99) == (pytest.approx(0.4), pytest.approx(0.9))
    assert m.recall_at_precision(s, y, 5, 0.75) == (pytest.approx(0.8), pytest.approx(0.7))
    assert m.recall_at_precision(np.array([0.9, 0.8]), np.array([0, 1], bool), 1) == (0.0, None)


def test_pair_metrics_from_full_knn_equal_all_pairs() -> None:
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(6, 16))
    labels = np.repeat(np.arange(6), 5)
    x = centres[labels] + rng.normal(scale=0.8, size=(30, 16))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    iu, ju = np.triu_indices(30, 1)
    brute_s, brute_y = (x @ x.T)[iu, ju], labels[iu] == labels[ju]
    n_pos = int(brute_y.sum())
    i, j, s = m.candidate_pairs(*m.knn(x, 29))
    assert len(s) == len(brute_s)
    got = m.pair_average_precision(s, labels[i] == labels[j], n_pos)
    assert got == pytest.approx(m.pair_average_precision(brute_s, brute_y, n_pos), abs=1e-6)
    # Truncated lists can only lose positives, never invent them.
    i2, j2, s2 = m.candidate_pairs(*m.knn(x, 3))
    assert m.pair_average_precision(s2, labels[i2] == labels[j2], n_pos) <= got + 1e-9


# ---------------------------------------------------------------------- evaluate()


def _unit(degrees: dict[str, float]) -> tuple[list[str], np.ndarray]:
    names = list(degrees)
    rad = np.radians([degrees[n] for n in names])
    return names, np.stack([np.cos(rad), np.sin(rad)], axis=1).astype(np.float32)


def _truth(data: dict, tmp: Path = Path("/nonexistent")) -> GroundTruth:
    return parse_truth(data, root=tmp, name="t")


GROUPS = {
    "groups": {"A": ["a0", "a1", "a2", "a3"], "B": ["b0", "b1", "b2", "b3"]},
    "distractors": ["d"],
}
GROUP_ANGLES = {
    "a0": 0,
    "a1": 4,
    "a2": 10,
    "d": 30,
    "a3": 40,
    "b3": 62,
    "b0": 100,
    "b1": 104,
    "b2": 110,
}


def test_evaluate_groups_hand_computed() -> None:
    names, x = _unit(GROUP_ANGLES)
    got = evaluate(names, x, _truth(GROUPS))
    assert set(got) == {"map", "recall@1", "recall@5", "recall@10", "ns_score"}
    # a0-a2: hits [1,1,0,1] -> AP 11/12, N-S 3; a3, b3: [0,0,1,1,1] -> 43/90, N-S 2 (itself
    # and a2 / b0 in the top 4); b0-b2: AP 1, N-S 4.
    assert got["map"] == pytest.approx((3 * 11 / 12 + 2 * 43 / 90 + 3) / 8)
    assert got["ns_score"] == pytest.approx((3 * 3 + 2 * 2 + 3 * 4) / 8)
    assert got["recall@1"] == pytest.approx(6 / 8)
    assert got["recall@5"] == 1.0 and got["recall@10"] == 1.0


def test_evaluate_labels_hand_computed() -> None:
    items = [{"path": p, "label": p[0]} for p in ("x0", "x1", "x2", "y0", "y1", "y2")]
    names, x = _unit({"x0": 0, "x1": 20, "x2": 70, "y0": 50, "y1": 95, "y2": 130})
    got = evaluate(names, x, _truth({"items": items}))
    assert set(got) == {"map", "recall@1", "recall@5", "recall@10", "precision@10"}
    assert got["map"] == pytest.approx((3 * 5 / 6 + 2 * 11 / 30 + 7 / 12) / 6)
    assert got["recall@1"] == 0.5 and got["recall@5"] == 1.0
    assert got["precision@10"] == pytest.approx(0.2)  # 2 relevant of 10 places


CLUSTERS = {
    "clusters": {
        "o1": ["o1.jpg", "o1__crop.jpg", "o1__tiny.jpg"],
        "o2": ["o2.jpg", "o2__crop.jpg"],
    },
    "distractors": ["d.jpg"],
}
CLUSTER_ANGLES = {
    "o1.jpg": 0,
    "o1__crop.jpg": 12,
    "o1__tiny.jpg": 50,
    "o2.jpg": 90,
    "o2__crop.jpg": 65,
    "d.jpg": 180,
}


def test_evaluate_clusters_hand_computed() -> None:
    names, x = _unit(CLUSTER_ANGLES)
    threshold = math.cos(math.radians(39))
    ev = run_evaluation(names, x, _truth(CLUSTERS), threshold=threshold)
    got = ev.metrics
    assert set(got) == {
        "map",
        "recall@1",
        "recall@5",
        "recall@10",
        "pair_ap",
        "pair_precision",
        "pair_recall",
        "recall_at_p99",
    }
    # Pairs by angle: 12 P, 15 N, 25 P, 38 P, 40 N, 50 P, ... (4 positives).
    assert got["pair_ap"] == pytest.approx((1 + 2 / 3 + 3 / 4 + 4 / 6) / 4)
    assert (got["pair_precision"], got["pair_recall"]) == (pytest.approx(0.75), 0.75)
    assert got["recall_at_p99"] == 0.25
    assert ev.p99_threshold == pytest.approx(math.cos(math.radians(12)), abs=1e-6)
    # Copies -> original, siblings ignored: ranks 1 (o1__crop), 3 (o1__tiny), 2 (o2__crop).
    assert got["recall@1"] == pytest.approx(1 / 3) and got["recall@5"] == 1.0
    assert got["map"] == pytest.approx((1 + 1 + 0.5 + 1 + 0.5) / 5)
    assert ev.per_edit["crop"]["n"] == 2 and ev.per_edit["crop"]["recall@1"] == 0.5
    assert ev.per_edit["tiny"]["recall@1"] == 0.0
    assert [(d["copy"], d["rank"]) for d in ev.misses] == [("o1__tiny.jpg", 3), ("o2__crop.jpg", 2)]
    json.dumps(ev.to_dict(), allow_nan=False)


def test_evaluate_counts_unembedded_files_as_missed(tmp_path: Path) -> None:
    names, x = _unit(CLUSTER_ANGLES)
    x[names.index("o1.jpg")] = np.nan  # o1 could not be decoded
    truth = _truth(CLUSTERS, tmp_path)
    paths = [tmp_path / n for n in names]  # absolute paths under the root map to truth names
    ev = run_evaluation([*paths, tmp_path / "extra.jpg"], np.vstack([x, x[:1]]), truth)
    assert ev.missing == ["o1.jpg"] and ev.ignored == 1
    assert ev.metrics["recall@10"] == pytest.approx(1 / 3)  # o1's copies can never find it
    assert ev.metrics["pair_recall"] <= 0.5
    with pytest.raises(ValueError):
        evaluate(names, x[:3], truth)


@pytest.mark.slow
def test_plot_is_a_png(tmp_path: Path) -> None:
    from search.evaluation import plot_evaluation

    for truth, angles in ((CLUSTERS, CLUSTER_ANGLES), (GROUPS, GROUP_ANGLES)):
        names, x = _unit(angles)
        out = plot_evaluation(run_evaluation(names, x, _truth(truth)), tmp_path / "pr.png")
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000


# ---------------------------------------------------------------------- ground truth files


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "JSON object"),
        ({"other": 1}, "not a known ground truth"),
        ({"clusters": {"a": ["/etc/passwd", "b"]}}, "relative"),
        ({"clusters": {"a": ["../x.jpg", "b"]}}, "relative"),
        ({"clusters": {"a": ["a.jpg"]}}, "at least one copy"),
        ({"groups": {"1": ["a", "b"], "2": ["b", "c"]}}, "more than one group"),
        ({"groups": {"1": ["a", "b"]}, "queries": {"a": ["c"]}}, "disagrees"),
        ({"groups": {"1": ["a"], "2": ["b"]}}, "nothing to evaluate"),
        ({"items": [{"path": "a"}]}, "'path' and 'label'"),
    ],
)
def test_bad_ground_truth_is_a_typed_error(data: object, message: str) -> None:
    with pytest.raises(TruthError, match=message):
        parse_truth(data, root=Path("."))


def test_missing_files_and_bad_json(tmp_path: Path) -> None:
    (tmp_path / "ground_truth.json").write_text(json.dumps(CLUSTERS))
    with pytest.raises(TruthError, match=r"6 of 6 files .* o1.jpg"):
        load_truth(tmp_path)
    assert len(load_truth(tmp_path, check=False).files) == 6
    (tmp_path / "ground_truth.json").write_text("{not json")
    with pytest.raises(TruthError, match="cannot read"):
        load_truth(tmp_path / "ground_truth.json")
    with pytest.raises(TruthError, match="not found"):
        load_truth(tmp_path / "nope.json")


def test_a_relative_truth_file_names_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`eval run DIR --truth truth.json` (a file in the working folder) said "Error: :
    'groups' must map group ids to file lists": the set's name was '.''s name, ''."""
    monkeypatch.chdir(tmp_path)
    Path("truth.json").write_text(json.dumps({"groups": 5}))
    with pytest.raises(TruthError, match=rf"^{tmp_path.name}: 'groups' must map"):
        load_truth("truth.json", check=False)
    Path("truth.json").write_text(json.dumps(CLUSTERS))
    assert load_truth("truth.json", check=False).name == tmp_path.name


def test_shared_ground_truths_load(data_dir: Path) -> None:
    uk = load_truth(data_dir / "ukbench_subset")
    assert (uk.kind, len(uk.files), len(uk.queries), len(uk.groups)) == ("groups", 66, 56, 14)
    assert len(uk.distractors) == 10 and uk.is_relevant("ukbench00000.jpg", "ukbench00003.jpg")
    nd = load_truth(data_dir / "near_duplicates" / "ground_truth.json")
    assert nd.kind == "clusters" and len(nd.files) == 45 and nd.n_duplicate_pairs() == 641
    assert nd.originals["augly_dfdc_1__crop.png"] == "augly_dfdc_1.jpg"
    assert nd.edit_of("augly_dfdc_1__crop.png") == "crop" and len(nd.copy_queries) == 40
    hy = load_truth(data_dir / "hymenoptera")
    assert hy.kind == "labels" and len(hy.files) == 398 and hy.group_names == ("ants", "bees")
    assert len(load_truth(data_dir / "hymenoptera", split="val").files) == 153
