"""A hit the query's own evidence leaves under the decision is a copy when two of the query's
copies each hold it in the grey band and its key points match theirs (two edits of one photo
far apart from each other, both copies of the original the library holds); one copy's word,
a refuted match or the query's own file vouch for nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from search.descriptor import DUPLICATE_Z, VOUCH_Z, DescriptorConfig
from search.query import SearchEngine
from tests.engine_library import copies_library
from tests.synthetic_scorer import synthetic_scorer, unit_vector
from web.present import copy_text

DIM = 16
SD = 0.05  # the background: duplicate_z = cosine / SD


def _unit(*parts: tuple[int, float]) -> np.ndarray:
    return unit_vector(DIM, *parts)


# the query is axis 0; two firm copies of it (z 18); a hit at z 4 that both hold at z 5
# (VOUCH_Z or more); a look-alike at z 5 that neither holds; a hit at z 4 that one of them holds
COPY_A = _unit((0, 0.9), (1, 0.436))
COPY_B = _unit((0, 0.9), (2, 0.436))
EDIT = _unit((0, 0.2), (1, 0.16), (2, 0.16), (3, 0.953))
LOOKALIKE = _unit((0, 0.25), (1, -0.3), (2, -0.3), (4, 0.87))
HELD_BY_ONE = _unit((0, 0.2), (1, 0.2), (2, -0.2), (5, 0.94))
NAMES = ["copy a", "copy b", "edit", "look-alike", "held by one"]


def _search(library: list[np.ndarray], answers: dict[int, bool | None]) -> tuple[list, list]:
    """(name, duplicate, copy score) of the hits of a query on axis 0, and the witness's
    questions (image id, the copies it may match besides the query, after)."""
    config = DescriptorConfig(rotations=1, frames=False, labels=0.0, expand=1, regions=False)
    scorer = synthetic_scorer(np.stack(library), config, SD)
    asked: list[tuple[int, list[int], int]] = []

    def witness(
        image_id: int, better: list[int], after: int = 0, **_asked_last: object
    ) -> bool | None:
        asked.append((image_id, list(better), after))
        return answers.get(image_id)

    hits = scorer.search(_unit((0, 1.0))[None], [], k=len(library), witness=witness)
    return [(h.id, h.duplicate, round(h.copy / SD, 2)) for h in hits], asked


def test_a_hit_two_copies_hold_is_a_copy_when_its_key_points_match_theirs() -> None:
    library = [COPY_A, COPY_B, EDIT, LOOKALIKE, HELD_BY_ONE]
    assert VOUCH_Z <= float(EDIT @ COPY_A) / SD < DUPLICATE_Z  # held in the grey band
    assert float(HELD_BY_ONE @ COPY_B) / SD < VOUCH_Z <= float(HELD_BY_ONE @ COPY_A) / SD
    before, _ = _search(library, {})
    assert [h[0] for h in before] == [0, 1, 3, 2, 4]  # the edit under the look-alike
    hits, asked = _search(library, {2: True})
    # asked of both copies' key points before the query's; only the hit both hold
    assert asked == [(2, [0, 1], 2)]
    assert hits[:3] == [(0, True, 18.0), (1, True, 18.0), (2, True, DUPLICATE_Z)]
    assert [h[:2] for h in hits[3:]] == [(3, False), (4, False)]  # raised over the look-alike


def test_a_refuted_or_untold_match_vouches_for_nothing() -> None:
    library = [COPY_A, COPY_B, EDIT, LOOKALIKE, HELD_BY_ONE]
    before, _ = _search(library, {})
    for answer in (False, None):
        hits, asked = _search(library, {2: answer})
        assert asked == [(2, [0, 1], 2)] and hits == before


@pytest.mark.parametrize("itself", [1.0, 0.995])
def test_the_query_itself_is_no_voucher(itself: float) -> None:
    """The query's own file, its exact copy or the query under a caption holds what the query
    holds: with it and one other copy, a hit has one voucher."""
    library = [_unit((0, itself), (3, np.sqrt(1 - itself * itself))), COPY_A, EDIT, LOOKALIKE]
    assert float(library[0] @ EDIT) / SD >= VOUCH_Z  # it holds the hit as the copy does
    hits, asked = _search(library, {2: True})
    assert asked == [] and (2, False) in [h[:2] for h in hits]


@pytest.fixture(scope="module")
def crop_library(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path):  # type: ignore[no-untyped-def]
    """Ten photos, two plain copies of the first and a heavy crop of it (a quarter, enlarged);
    the query is a third plain copy: its copies settle it, and the crop scores under the
    decision from it."""
    return copies_library(tmp_path_factory.mktemp("vouched"), data_dir, models_dir, quarter=True)


def test_a_heavy_crop_of_the_querys_copies_is_found_as_a_copy(crop_library) -> None:
    root, settings, original = crop_library
    with SearchEngine.open(settings) as engine:
        hits = engine.search_image(root / "query.jpg", k=8)
    name = {h.id: Path(h.path).stem for h in hits}
    crop = next(h for h in hits if name[h.id] == "quarter")
    assert crop.duplicate and crop.copy_of and len(crop.copy_of) >= 2, crop
    assert {name[i] for i in crop.copy_of} <= {original, "copy_small", "copy_cropped"}
    assert crop.z == DUPLICATE_Z and crop.to_dict()["copy_of"] == crop.copy_of
    assert "a copy of the query's copies #" in copy_text(crop) and ", by key points)" in copy_text(
        crop
    )
    # every copy of the photo is ranked over the other photos
    assert {name[h.id] for h in hits[:4]} == {original, "copy_small", "copy_cropped", "quarter"}
    assert [h.duplicate for h in hits[4:]] == [False] * (len(hits) - 4)


def test_without_a_key_point_match_the_crop_stays_under_the_decision(
    crop_library, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, settings, _original = crop_library
    monkeypatch.setattr("search.query.key_point_witness.key_points_match", lambda a, b: False)
    monkeypatch.setattr("search.query.local_check.count_inliers_closer", lambda *a, **k: 0)
    with SearchEngine.open(settings) as engine:
        hits = engine.search_image(root / "query.jpg", k=8)
    crop = next(h for h in hits if Path(h.path).stem == "quarter")
    assert not crop.duplicate and crop.copy_of is None and crop.z < DUPLICATE_Z
