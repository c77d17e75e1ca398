"""A best copy among the look-alikes does not settle a query in a whitened library.

In a learned (whitened) space, photos of one kind of scene reach ``duplicate_z`` 6-8.5 with
each other: a look-alike can be the query's best candidate, past the duplicate decision,
while its true original sits just below it. Such a query still gets the key-point check of
its grey band (``firm`` copies only settle it: ``duplicate_z >= WITNESS_Z``); in the plain
space, where look-alikes stay under the decision, a sure copy settles it as before.
"""

from __future__ import annotations

import numpy as np

from search.descriptor import Calibration, Descriptor, DescriptorConfig, QueryScorer, StoredImage
from search.descriptor.config import DUPLICATE_Z, WITNESS_Z
from search.descriptor.whitening import Whitening

DIM = 64
SD = 0.0625  # the calibration's spread: duplicate_z = cosine / SD
LOOKALIKE, ORIGINAL = 3, 9


def _library() -> np.ndarray:
    """40 orthonormal rows: every stored image at cosine 0 from the others."""
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(DIM, DIM)))
    return q[:40].astype(np.float32)


def _query(library: np.ndarray, lookalike: float, original: float) -> np.ndarray:
    """A unit query row at exactly these cosines from the two stored rows (0 from the rest)."""
    axis = np.zeros(DIM, np.float32)
    axis[-1] = 1.0
    axis -= (library.T @ (library @ axis)).astype(np.float32)  # off the library's span
    axis /= np.linalg.norm(axis)
    rest = np.sqrt(1.0 - lookalike**2 - original**2)
    row = lookalike * library[LOOKALIKE] + original * library[ORIGINAL] + rest * axis
    return row[None, :].astype(np.float32)


def _scorer(whitened: bool) -> tuple[QueryScorer, np.ndarray]:
    library = _library()
    config = DescriptorConfig(labels=0.0, expand=0, rotations=1, frames=False, whiten=whitened)
    identity = Whitening(np.zeros(DIM, np.float32), np.eye(DIM, dtype=np.float32), 1, 1)
    descriptor = Descriptor(
        config, whitening=identity if whitened else None, calibration=Calibration(0, SD, 0, SD)
    )

    def neighbours(rows: np.ndarray, k: int) -> np.ndarray:
        return np.argsort(-(rows @ library.T), axis=1)[:, :k]

    def stored(ids):  # type: ignore[no-untyped-def]
        return {int(i): StoredImage(library[int(i)]) for i in ids}

    return QueryScorer(descriptor, neighbours, stored, candidates=5), library


def _confirming(asked: list[list[int]]):  # type: ignore[no-untyped-def]
    """The key-point check: it confirms the original (raised well past the look-alike)."""

    def check(ids, copy, tiles=()):  # type: ignore[no-untyped-def]
        asked.append([int(i) for i in ids])
        out = np.array(copy, np.float32)
        out[list(ids).index(ORIGINAL)] = 0.9
        return out

    return check


def test_a_lookalike_past_the_decision_leaves_a_whitened_query_open() -> None:
    scorer, library = _scorer(whitened=True)
    lookalike_z, original_z = (DUPLICATE_Z + WITNESS_Z) / 2, DUPLICATE_Z - 1.0
    query = _query(library, lookalike_z * SD, original_z * SD)
    unchecked = scorer.search(query, k=3)
    assert [h.id for h in unchecked[:2]] == [LOOKALIKE, ORIGINAL]
    assert unchecked[0].duplicate  # past the decision: what the user would be told
    asked: list[list[int]] = []
    checked = scorer.search(query, k=3, local=_confirming(asked))
    assert len(asked) == 1 and ORIGINAL in asked[0]
    assert checked[0].id == ORIGINAL and checked[0].duplicate


def test_a_firm_copy_or_the_plain_space_settles_the_query() -> None:
    scorer, library = _scorer(whitened=True)
    asked: list[list[int]] = []
    firm = _query(library, (WITNESS_Z + 0.5) * SD, (DUPLICATE_Z - 1.0) * SD)
    assert scorer.search(firm, k=3, local=_confirming(asked))[0].id == LOOKALIKE
    assert asked == []  # past every look-alike: no key points
    plain, library = _scorer(whitened=False)
    sure = _query(library, (DUPLICATE_Z + WITNESS_Z) / 2 * SD, (DUPLICATE_Z - 1.0) * SD)
    assert plain.search(sure, k=3, local=_confirming(asked))[0].id == LOOKALIKE
    assert asked == []  # look-alikes stay under the decision there: a sure copy settles it


def test_a_reverse_lookup_checks_the_grey_band_however_settled() -> None:
    """A lookup (``thorough``) wants every copy: a query that a firm copy settled still gets
    its grey band checked, and the copy confirmed there is flagged beside the firm one."""
    scorer, library = _scorer(whitened=True)
    query = _query(library, (WITNESS_Z + 0.5) * SD, (DUPLICATE_Z - 1.0) * SD)
    asked: list[list[int]] = []
    searched = {h.id: h for h in scorer.search(query, k=3, local=_confirming(asked))}
    assert asked == [] and not searched[ORIGINAL].duplicate  # a search stops at the firm copy
    looked = {h.id: h for h in scorer.search(query, k=3, local=_confirming(asked), thorough=True)}
    assert len(asked) == 1 and ORIGINAL in asked[0]
    assert looked[ORIGINAL].duplicate and looked[LOOKALIKE].duplicate
