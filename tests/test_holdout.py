"""The independent hold-out copy sets: no photo or edit shared with the dev set, every edit
kind present, related photos counted neither way in the same-object-neutral figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from search.evaluation import (
    EDITS,
    HOLDOUT_EDITS,
    HOLDOUT_RECIPES,
    Scores,
    evaluate_scores,
    load_truth,
    make_holdout,
    parse_truth,
)


@pytest.mark.slow
@pytest.mark.parametrize("pool", ["photos", "scenes"])
def test_holdout_set_shares_nothing_with_the_dev_set(
    pool: str, data_dir: Path, tmp_path: Path
) -> None:
    from bench.copies import pick_originals

    path = make_holdout(pool, tmp_path / pool, data=data_dir, originals=2, per_original=16)
    truth = load_truth(path)  # every file exists and the evaluator reads it
    data = json.loads(path.read_text())
    assert len(truth.groups) == 2 and len(truth.copy_queries) == 32
    kinds = {"+".join(e["edits"]) for e in data["edits"].values()}
    assert kinds == {"+".join(r) for r in HOLDOUT_RECIPES}  # each kind in turn: all 16 appear
    assert not set(HOLDOUT_EDITS) & set(EDITS)  # own edit code, under its own names
    dev_names = {p.name for p in pick_originals(data_dir, 60, 0) + pick_originals(data_dir, 60, 1)}
    sources = {s.split("_", 1)[1] for s in data["clusters"]} if pool == "photos" else set()
    assert not {Path(n).stem for n in dev_names} & sources
    again = make_holdout(pool, tmp_path / "again", data=data_dir, originals=2, per_original=16)
    first = sorted(p.name for p in path.parent.iterdir())
    assert first == sorted(p.name for p in again.parent.iterdir())


def test_related_photos_count_neither_way_when_neutral(tmp_path: Path) -> None:
    """a is an original, a__crop its copy, b another view of a's object, c a different photo.
    The copy's ranking puts the other view first: a strict miss, a neutral hit."""
    names = ["a.jpg", "a__crop.jpg", "b.jpg", "c.jpg"]
    truth = parse_truth(
        {"clusters": {"a": names[:2]}, "distractors": names[2:], "related": [["a.jpg", "b.jpg"]]},
        root=tmp_path,
    )
    assert truth.is_neutral("a__crop.jpg", "b.jpg") and not truth.is_neutral("a.jpg", "c.jpg")
    sims = {(0, 1): 0.8, (1, 2): 0.9, (0, 2): 0.7, (0, 3): 0.1, (1, 3): 0.2, (2, 3): 0.1}
    order = {
        q: sorted((o for o in range(4) if o != q), key=lambda o: -sims[tuple(sorted((q, o)))])
        for q in range(4)
    }
    idx = np.array([order[q] for q in range(4)])
    score = np.array([[sims[tuple(sorted((q, o)))] for o in order[q]] for q in range(4)])
    i, j = np.triu_indices(4, 1)
    s = np.array([sims[(a, b)] for a, b in zip(i, j, strict=True)])
    scored = Scores(score, idx, i, j, s, lambda a, b: sims[tuple(sorted((a, b)))])
    ev = evaluate_scores(names, scored, truth, threshold=0.75)
    assert ev.metrics["recall@1"] == 0.0 and ev.metrics["recall@1_neutral"] == 1.0
    # per edit kind too: the per-kind table that bench/quality.py prints beside plain
    assert ev.per_edit["crop"]["recall@1"] == 0.0 and ev.per_edit["crop"]["recall@1_neutral"] == 1.0
    assert ev.metrics["pair_precision"] == 0.5  # (a__crop, b) at 0.9 is a false copy ...
    assert ev.metrics["pair_precision_neutral"] == 1.0  # ... or nothing, counted neutral
