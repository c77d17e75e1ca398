"""Copies tied on their vectors are ordered by their key points: an edit of one shot of a
scene scores as high against a shot taken seconds later (a UKBench object's other view) as
against its own photo, and the blind hold-outs had the other shot first in 14-20 queries of
3,600-3,750 a library; the photo it was made from holds far more of its key points."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from search.descriptor import MIN_INLIERS, TIE_SCORE, tied_copies_first


class Counted:
    """A key-point witness that knows each image's matches with the query (None: untold)."""

    def __init__(self, counts: dict[int, int | None]) -> None:
        self.counts, self.asked = counts, []  # type: ignore[var-annotated]

    def inliers(self, image_id: int) -> int | None:
        self.asked.append(image_id)
        return self.counts[image_id]


def _order(copy: list[float], duplicate: list[bool], counts: dict[int, int | None]):  # type: ignore[no-untyped-def]
    ids = [10 + n for n in range(len(copy))]
    rank = np.asarray(copy, np.float32) + 0.1
    order = list(range(len(copy)))
    witness = Counted({10 + n: c for n, c in counts.items()})
    rank2, order2 = tied_copies_first(
        np.asarray(duplicate), order, ids, np.asarray(copy, np.float32), rank, witness
    )
    assert all(rank2[a] >= rank2[b] for a, b in itertools.pairwise(order2))
    return [ids[n] for n in order2], witness.asked


def test_the_copy_holding_the_query_key_points_goes_first() -> None:
    # the other shot 0.001 ahead on its vectors, 21 inliers against its own photo's 449
    shown, asked = _order([0.874, 0.873, 0.5], [True, True, False], {0: 21, 1: 449})
    assert shown == [11, 10, 12] and asked == [10, 11]  # the look-alike under them unasked


@pytest.mark.parametrize(
    ("copy", "duplicate", "counts", "first"),
    [
        ([0.874, 0.86], [True, True], {0: 21, 1: 449}, 10),  # not tied: 0.014 apart
        ([0.874, 0.873], [True, False], {0: 21, 1: 449}, 10),  # the second is no copy
        ([0.874, 0.873], [True, True], {0: 21, 1: MIN_INLIERS - 1}, 10),  # too few to tell
        ([0.874, 0.873], [True, True], {0: 60, 1: 40}, 10),  # the first holds more already
        ([0.874, 0.873], [True, True], {0: None, 1: 449}, 10),  # its own file is gone
        ([1.0, 0.999], [True, True], {0: 5, 1: 449}, 10),  # the query's own file first
    ],
)
def test_nothing_moves_without_a_tie_and_a_clearer_match(copy, duplicate, counts, first) -> None:  # type: ignore[no-untyped-def]
    assert TIE_SCORE < 0.874 - 0.86
    shown, _ = _order(copy, duplicate, counts)
    assert shown[0] == first


def test_at_most_four_tied_copies_are_counted() -> None:
    copy = [0.9, 0.899, 0.898, 0.897, 0.896, 0.895]
    counts = {n: 20 for n in range(6)} | {5: 400}
    shown, asked = _order(copy, [True] * 6, counts)
    assert asked == [10, 11, 12, 13] and shown[0] == 10  # the sixth was never asked
