"""``upright_first``: a settled query with another candidate in doubt gets its turned views.

A query answered from its upright views alone (the engine's ``upright_first``) because it has
a sure copy lost the turned copies that only its turned views decide: on the dev copy set a
photo whose library held its upright copy and its quarter-turned copies found the turned ones
under the decision. Such a copy's upright view still scores near it (duplicate z 4-6), so a
candidate there keeps the query in doubt and its turned views are embedded
(:mod:`search.descriptor.settled`).
"""

from __future__ import annotations

import numpy as np

from search.descriptor import DescriptorConfig
from search.descriptor.config import TURNED_DOUBT_Z
from search.descriptor.settled import settled, turned_views_needed
from tests.synthetic_scorer import synthetic_scorer, unit_vector

DIM = 16
SPREAD, SD = 0.05, 0.08  # the decision (duplicate z 6) at 0.48; the doubt band from 0.32
UPRIGHT, TURNED = 0, 1


def _library(turned_upright_cosine: float) -> np.ndarray:
    """The query's upright copy, its turned copy (scoring ``turned_upright_cosine`` through
    the query's upright view, 0.95 through its turned view), and unrelated photos."""
    upright = unit_vector(DIM, (0, 1.0), (1, 0.3))  # cosine 0.96: a sure copy
    c = turned_upright_cosine
    turned = c * unit_vector(DIM, (0, 1.0)) + np.sqrt(1 - c * c) * unit_vector(DIM, (2, 1.0))
    fillers = [unit_vector(DIM, (0, 0.05), (n, 1.0)) for n in range(4, 10)]
    return np.stack([upright, turned.astype(np.float32), *fillers])


def _search(turned_upright_cosine: float) -> tuple[bool, dict[int, bool]]:
    """Whether the turned views were asked, and the hits' duplicate flags by id."""
    config = DescriptorConfig(rotations=1, frames=False, labels=0.0, expand=0, regions=False)
    library = _library(turned_upright_cosine)
    scorer = synthetic_scorer(library, config, SPREAD, candidates=5, sd=SD)
    asked: list[bool] = []

    def more() -> np.ndarray:  # the query turned: it meets the turned copy
        asked.append(True)
        return 0.95 * library[TURNED][None]

    query = unit_vector(DIM, (0, 1.0))[None]
    hits = scorer.search(query, [], k=4, more=more)
    assert scorer.expanded_views is bool(asked)
    return bool(asked), {h.id: bool(h.duplicate) for h in hits}


def test_a_settled_query_with_a_candidate_in_doubt_gets_its_turned_views() -> None:
    asked, flags = _search(turned_upright_cosine=0.40)  # duplicate z 5: in doubt
    assert asked
    assert flags[UPRIGHT] and flags[TURNED]  # the turned view decides the turned copy


def test_a_settled_query_with_nothing_in_doubt_is_answered_from_its_upright_view() -> None:
    asked, flags = _search(turned_upright_cosine=0.20)  # duplicate z 2.5: nothing near
    assert not asked
    assert flags[UPRIGHT] and not flags.get(TURNED, False)


def test_the_doubt_band_lies_under_the_decision() -> None:
    """A candidate past the decision settles the query too; one just under it, from
    ``TURNED_DOUBT_Z`` up, is in doubt; an unsettled query always needs its turned views."""
    config = DescriptorConfig(rotations=1, frames=False, labels=0.0, expand=0, regions=False)
    d = synthetic_scorer(_library(0.2), config, SPREAD, sd=SD).descriptor
    decision = SD * 6
    low = SD * TURNED_DOUBT_Z
    assert not turned_views_needed(d, np.array([1.0, 0.9, decision + 0.01, 0.1]))
    assert turned_views_needed(d, np.array([1.0, 0.9, decision - 0.01, 0.1]))
    assert turned_views_needed(d, np.array([0.9, low + 0.005]))
    assert not turned_views_needed(d, np.array([0.9, low - 0.005]))
    assert turned_views_needed(d, np.array([1.0, decision - 0.01]))  # own vector: no copy
    assert not settled(d, np.array([1.0, 0.2])) and settled(d, np.array([0.5]))
