"""One threshold on ``copy_score`` at the library's decision keeps exactly the copies: a copy
that local evidence raised to the decision is not rounded under it, and a look-alike (past the
decision by its vectors, no copy by its key points or its better copies) is put just under it,
its vectors' score kept beside (``vector_score``, ``vector_z``). Measured on the hold-out sets
(bench/README.md, "One threshold keeps exactly the copies"): a photo of another scene under the
same sepia + noise filter at copy score 0.978, refuted, stood above hundreds of true copies for
any global threshold."""

from __future__ import annotations

import numpy as np
import pytest

from search.descriptor import DUPLICATE_Z, NO_KEY_POINT_MATCH, Calibration, ScoredHit
from search.query import decision_edges, hits_from_scores
from search.store import StoredImage


def _row(image_id: int) -> StoredImage:
    return StoredImage(image_id, 1, "/lib", f"{image_id}.jpg", 100, 10, 10, "JPEG", None, None)


@pytest.mark.parametrize("seed", range(20))
def test_the_decision_edges_are_either_side_of_it(seed: int) -> None:
    rng = np.random.default_rng(seed)
    cal = Calibration(0.1, 0.1, float(rng.uniform(-0.1, 0.3)), float(rng.uniform(0.01, 0.12)))
    under, at = decision_edges(cal)
    assert cal.duplicate_z(under) < DUPLICATE_Z <= cal.duplicate_z(at)
    assert round(at - under, 6) == 1e-6 and round(at, 6) == at


def test_a_threshold_at_the_decision_keeps_exactly_the_copies() -> None:
    cal = Calibration(0.09, 0.09, mean=0.12, sd=0.097)
    decision = cal.duplicate_threshold()
    scored = [
        ScoredHit(1, 0.99, 0.99, None, True),  # a copy by its vectors
        ScoredHit(2, 0.97, 0.97, None, False, NO_KEY_POINT_MATCH),  # refuted by key points
        ScoredHit(3, decision, decision, None, True, copy_of=(1,)),  # raised to the decision
        ScoredHit(4, 0.5, 0.5, None, True),  # confirmed by key points at its vectors' score
        ScoredHit(5, 0.45, 0.8, None, None),  # past the decision, never asked
        ScoredHit(6, 0.4, 0.6, None, None),  # under it
    ]
    hits = hits_from_scores([(s, _row(s.id)) for s in scored], cal, lambda row, copy: False)
    for hit in hits:
        assert hit.duplicate is (hit.copy_score >= decision), hit
        assert hit.duplicate is (hit.z >= DUPLICATE_Z), hit
    lookalike = hits[1]
    assert lookalike.lookalike and lookalike.lookalike_reason == NO_KEY_POINT_MATCH
    assert lookalike.copy_score == decision_edges(cal)[0] and lookalike.z < DUPLICATE_Z
    assert (lookalike.vector_score, lookalike.vector_z) == (0.97, round(cal.duplicate_z(0.97), 2))
    assert lookalike.to_dict()["vector_score"] == 0.97
    assert [h.copy_score for h in hits[2:4]] == [decision_edges(cal)[1]] * 2  # at least it
    assert hits[4].duplicate and hits[4].copy_score == 0.8 and hits[4].vector_score is None
    assert not hits[5].duplicate and not hits[5].lookalike and hits[5].copy_score == 0.6
    assert [h.score for h in hits] == [s.rank for s in scored]  # the order is the scorer's


def test_a_copy_score_is_never_over_one() -> None:
    """A library whose decision is past any cosine (a folder of one photo's edits: mean + 6 sd
    = 1.4) keeps its copies' scores at most 1.0; they are still copies."""
    cal = Calibration(0.5, 0.12, mean=0.68, sd=0.12)
    assert cal.duplicate_threshold() > 1.0
    scored = [ScoredHit(1, 1.0, 1.4, None, True), ScoredHit(2, 0.9, 0.9, None, None)]
    hits = hits_from_scores([(s, _row(s.id)) for s in scored], cal, lambda row, copy: False)
    assert hits[0].duplicate and hits[0].copy_score == 1.0 and hits[0].z >= DUPLICATE_Z
    assert not hits[1].duplicate and hits[1].copy_score == 0.9


def test_a_hit_under_the_decision_never_reads_as_at_it() -> None:
    """A hold-out's hit at z 5.996 (copy score 0.5445 against the library's line 0.545) read
    "z 6.0" and was not flagged: the shown z of a hit that is no copy stays under the line."""
    cal = Calibration(0.09, 0.09, mean=0.12, sd=0.097)
    just_under = cal.mean + (DUPLICATE_Z - 0.004) * cal.sd  # z 5.996
    scored = [ScoredHit(1, 0.9, just_under, None, None), ScoredHit(2, 0.8, 0.3, None, None)]
    hits = hits_from_scores([(s, _row(s.id)) for s in scored], cal, lambda row, copy: False)
    assert not hits[0].duplicate and not hits[0].lookalike
    assert hits[0].z == 5.99 and hits[1].z == round(cal.duplicate_z(0.3), 2)
