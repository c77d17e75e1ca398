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
from tests.synthetic_scorer import synthetic_scorer, unit_vector

DIM = 16
SPREAD, SD = 0.05, 0.08  # sure (robust z 6) at 0.3; the decision (duplicate z 6) at 0.48
CROP, ORIGINAL = 0, 1


def _library() -> np.ndarray:
    crop = unit_vector(DIM, (0, 0.3), (1, 0.954))  # the query's sibling: z 3.75, grey band
    original = unit_vector(DIM, (0, 0.1), (1, 0.4), (2, 0.91))  # z 1.25; 0.41 with the crop
    fillers = [unit_vector(DIM, (0, 0.02), (n, 1.0)) for n in range(3, 8)]
    return np.stack([crop, original, *fillers])


def _search(original_matches: bool) -> tuple[dict[int, tuple[float, bool]], list[list[int]]]:
    """The hits (id -> copy score, duplicate) and the ids of each chained check asked."""
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
    return {h.id: (np.float32(h.copy), bool(h.duplicate)) for h in hits}, chained_asked


def test_the_original_of_a_confirmed_crop_is_checked_by_the_querys_key_points() -> None:
    hits, asked = _search(original_matches=True)
    assert asked == [[ORIGINAL]]  # raised by the graph, then asked once
    assert hits[CROP] == hits[ORIGINAL] == (np.float32(0.9), True)


def test_a_chained_image_whose_key_points_do_not_match_keeps_its_chained_score() -> None:
    hits, asked = _search(original_matches=False)
    assert asked == [[ORIGINAL]]
    copy, duplicate = hits[ORIGINAL]
    assert 0.3 < copy < 0.48 and not duplicate  # through the crop, under the decision
