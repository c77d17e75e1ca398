"""A copy of the copy the check confirmed is checked too.

A query in doubt (no sure copy) gets its grey band checked by key points; a crop of the
same photo confirmed there becomes a sure copy, and the duplicate graph raises the images it
is a sure copy of - the original among them - to a chained score under its own, which can
stay under the decision. Those the graph raised into the grey band are checked by the
query's key points too (found on hold-out scenes-30: a turned crop whose half-crop sibling
was confirmed by 26 inliers left its original at z 4.8, unflagged, behind look-alikes; the
original matches the query itself by 16).
"""

from __future__ import annotations

import numpy as np

from search.descriptor import DescriptorConfig
from search.descriptor.candidate_graph import CandidateGraph
from tests.synthetic_scorer import synthetic_scorer, unit_vector

DIM = 16
SPREAD, SD = 0.05, 0.08  # sure (robust z 6) at 0.3; the decision (duplicate z 6) at 0.48
CROP, ORIGINAL = 0, 1


def _library() -> np.ndarray:
    crop = unit_vector(DIM, (0, 0.3), (1, 0.954))  # the query's sibling: z 3.75, grey band
    original = unit_vector(DIM, (0, 0.1), (1, 0.4), (2, 0.91))  # z 1.25; 0.41 with the crop
    fillers = [unit_vector(DIM, (0, 0.02), (n, 1.0)) for n in range(3, 8)]
    return np.stack([crop, original, *fillers])


def _search(original_matches: bool) -> tuple[dict[int, tuple[float, bool, float]], list[list[int]]]:
    """The hits (id -> copy score, duplicate, rank score) and the ids of each chained check
    asked."""
    config = DescriptorConfig(rotations=1, frames=False, labels=0.0, expand=1, regions=False)
    scorer = synthetic_scorer(_library(), config, SPREAD, candidates=4, sd=SD)
    chained_asked: list[list[int]] = []

    def check(ids, copy, tiles=(), tiles_only=False, chained=()):  # type: ignore[no-untyped-def]
        out = np.array(copy, np.float32)
        if not len(chained):  # the grey band: the crop's key points match the query's
            out[list(ids).index(CROP)] = 0.9
            return out
        chained_asked.append([ids[n] for n in chained])
        if original_matches and ORIGINAL in [ids[n] for n in chained]:
            out[list(ids).index(ORIGINAL)] = 0.9
        return out

    query = unit_vector(DIM, (0, 1.0))[None]
    hits = scorer.search(query, [], k=4, local=check)
    return {h.id: (np.float32(h.copy), bool(h.duplicate), h.rank) for h in hits}, chained_asked


def test_the_original_of_a_confirmed_crop_is_checked_by_the_querys_key_points() -> None:
    hits, asked = _search(original_matches=True)
    assert asked == [[ORIGINAL]]  # raised by the graph, then asked once
    assert hits[CROP][:2] == hits[ORIGINAL][:2] == (np.float32(0.9), True)


def test_a_chained_image_whose_key_points_do_not_match_keeps_its_chained_score() -> None:
    hits, asked = _search(original_matches=False)
    assert asked == [[ORIGINAL]]
    copy, duplicate, _rank = hits[ORIGINAL]
    assert 0.3 < copy < 0.48 and not duplicate  # through the crop, under the decision


def test_a_score_the_check_gives_back_unraised_keeps_its_copy_tier() -> None:
    """The check gives its scores back as float32: a chained score it did not raise, rounded
    up (0.608076133 -> 0.608076155), once read as raised and took the image out of the tier
    of the copy it was reached through (found on scenes-450: an original ranked 5th instead of
    2nd). Only a score the check raised replaces the chained one and its tier."""
    graph = CandidateGraph()
    graph.checked_locally = True
    copy = np.array([0.608076133131981, 0.30], np.float64)  # (float32 rounds the first up)
    reached = np.array([0.6122399568557739, 0.30])
    assert np.float32(copy[0]) > copy[0]

    def check(ids, scores, chained=()):  # type: ignore[no-untyped-def]
        out = np.array(scores, np.float32)  # as the engine's check: nothing matched
        return out

    graph.local = check
    kept, tier = graph._chain_checked(copy, [7, 8], reached)
    assert kept.tolist() == copy.tolist() and tier.tolist() == reached.tolist()

    graph.local = lambda ids, scores, chained=(): np.array([0.9, 0.3], np.float32)  # matched
    kept, tier = graph._chain_checked(copy, [7, 8], reached)
    assert kept[0] == tier[0] == np.float32(0.9) and kept[1] == 0.30
