"""A query that only look-alikes settled is in doubt after all.

A sure copy by its vectors settles a query: no grey-band check, no layout nominees. When the
key-point witness then refutes every such copy (another photo under the same heavy filter:
sepia + noise copies of different photos score 0.97 with each other), nothing settled it;
the query gets the local evidence of a query in doubt, and an original that only its layout
finds (its vector far under the filter's look-alikes) is confirmed and shown first. The
query's own image (searching with a library file) takes no layout nominee's place.
"""

from __future__ import annotations

import numpy as np

from search.descriptor import NO_KEY_POINT_MATCH, DescriptorConfig
from tests.synthetic_scorer import synthetic_scorer, unit_vector

DIM = 16
SD = 0.05  # the background: z = cosine / SD; the decision (z 6) at cosine 0.3
OWN, LOOKALIKE, ORIGINAL = 0, 1, 6


def _library() -> np.ndarray:
    rows = [unit_vector(DIM, (0, 1.0))]  # the query's own file
    rows.append(unit_vector(DIM, (0, 0.45), (1, 0.893)))  # z 9: settles it, by its vectors
    rows += [unit_vector(DIM, (0, c), (n + 2, 1.0)) for n, c in enumerate((0.2, 0.18, 0.16, 0.14))]
    rows.append(unit_vector(DIM, (0, 0.05), (7, 1.0)))  # the original: z 1, no view's candidate
    return np.stack(rows)


def _search(witness_answer: bool) -> tuple[list, list, list]:
    """Hits (id, duplicate, look-alike reason), the ``own`` ids each nomination was asked
    with, and the candidates each local check was given."""
    config = DescriptorConfig(rotations=1, frames=False, labels=0.0, expand=1, regions=False)
    scorer = synthetic_scorer(_library(), config, SD, candidates=3)
    owns: list[set[int]] = []
    checked: list[list[int]] = []

    def nominated(own):  # type: ignore[no-untyped-def]  # the library's two best layouts
        owns.append(set(own))
        return [i for i in (OWN, ORIGINAL) if i not in own][:2]

    def check(ids, copy, tiles):  # type: ignore[no-untyped-def]
        checked.append(list(ids))
        out = np.array(copy, np.float32)
        if ORIGINAL in ids:
            out[list(ids).index(ORIGINAL)] = 0.6  # its key points match: raised (z 12)
        return out

    def witness(image_id: int, better: list[int], after: int = 0) -> bool:
        return witness_answer

    query = unit_vector(DIM, (0, 1.0))[None]
    hits = scorer.search(query, [], k=4, local=check, witness=witness, nominated=nominated)
    return [(h.id, h.duplicate, h.lookalike) for h in hits], owns, checked


def test_a_query_whose_sure_copies_are_all_refuted_gets_the_local_evidence() -> None:
    hits, owns, checked = _search(witness_answer=False)
    assert owns == [{OWN}]  # asked once, its own image named
    assert len(checked) == 1 and ORIGINAL in checked[0]
    assert hits[:2] == [(OWN, True, None), (ORIGINAL, True, None)]
    assert (LOOKALIKE, False, NO_KEY_POINT_MATCH) in hits


def test_a_query_whose_copy_keeps_the_decision_stays_settled() -> None:
    hits, owns, checked = _search(witness_answer=True)
    assert not owns and not checked  # settled: no layout read, no key points of its own
    assert hits[:2] == [(OWN, True, None), (LOOKALIKE, True, None)]
    assert ORIGINAL not in [h[0] for h in hits]


def test_an_uploads_best_copy_is_asked_too_once_every_copy_under_it_was_refuted() -> None:
    """An upload (its own file not in the library) of a sepia photo: the sepia copies of other
    photos are past the decision, the best of them firm by its vectors. The witness refutes
    the lesser ones, then asks the best (past its budget of pairs), refutes it too, and the
    query gets its second look, whose confirmed original is the one copy; the look-alikes the
    first look found stay look-alikes."""
    from search.descriptor import BEST_UNMATCHED

    rows = [unit_vector(DIM, (0, 0.45), (1, 0.893))]  # z 9: firm, by its vectors
    rows.append(unit_vector(DIM, (0, 0.42), (1, 0.236), (2, 0.876)))  # z 8.4; z 8 with the best
    rows += [unit_vector(DIM, (0, c), (n + 3, 1.0)) for n, c in enumerate((0.2, 0.18, 0.16, 0.14))]
    rows.append(unit_vector(DIM, (0, 0.05), (8, 1.0)))  # the original (6): no view's candidate
    config = DescriptorConfig(rotations=1, frames=False, labels=0.0, expand=1, regions=False)
    scorer = synthetic_scorer(np.stack(rows), config, SD, candidates=3)
    asked: list[tuple[int, list[int], bool]] = []

    def witness(image_id, better, part=None, after=0, spare=False):  # type: ignore[no-untyped-def]
        asked.append((image_id, list(better), spare))
        return False  # no key points match: the filter made them alike

    def check(ids, copy, tiles):  # type: ignore[no-untyped-def]
        out = np.array(copy, np.float32)
        out[list(ids).index(ORIGINAL)] = 0.6  # the original's key points match the query's
        return out

    query = unit_vector(DIM, (0, 1.0))[None]
    hits = scorer.search(
        query, [], k=4, local=check, witness=witness, nominated=lambda own: [ORIGINAL]
    )
    assert asked[:2] == [(1, [0], False), (0, [], True)]  # the lesser first, then the best
    by_id = {h.id: h for h in hits}
    assert hits[0].id == ORIGINAL and hits[0].duplicate
    assert by_id[0].lookalike == BEST_UNMATCHED and not by_id[0].duplicate
    assert by_id[1].lookalike == NO_KEY_POINT_MATCH and not by_id[1].duplicate
