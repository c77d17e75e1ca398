"""Where the descriptor and another ranking - the plain embedding, the grey-level layout -
put different candidates first, the other ranking's first is checked by its key points
(:mod:`search.descriptor.second_opinion`): a photo under a large sticker kept its original
first by both while the whitened space put a look-alike first, below the grey band."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from search.descriptor import MIN_INLIERS, layout_first, plain_nominees, verified_floor
from search.query import SearchEngine
from search.settings import Settings
from tests.engine_library import make_settings, photo_library

pytest.importorskip("cv2")


def test_only_the_plain_first_where_the_rankings_disagree() -> None:
    query = np.array([1.0, 0.0, 0.0], np.float32)
    vectors = {10: np.array([0.0, 1.0, 0.0]), 11: np.array([0.9, 0.1, 0.0]), 12: np.zeros(3)}
    ids = [10, 11, 12]
    assert plain_nominees(query, ids, np.array([0.5, 0.2, 0.1]), vectors, 0.8) == [1]
    # the descriptor's first is the plain one's too: nothing to settle
    assert plain_nominees(query, ids, np.array([0.2, 0.5, 0.1]), vectors, 0.8) == []
    # already sure or confirmed (at the floor): not checked again
    assert plain_nominees(query, ids, np.array([0.9, 0.85, 0.1]), vectors, 0.8) == []
    # a candidate without a stored vector is passed over, not nominated
    assert plain_nominees(query, ids, np.array([0.5, 0.2, 0.1]), {10: vectors[10]}, 0.8) == []
    assert plain_nominees(query, [], np.array([]), vectors, 0.8) == []


def test_the_layouts_first_only_where_the_rankings_disagree() -> None:
    rho = {0: 0.2, 1: 0.6, 2: -0.9}  # an inverted layout is the threshold rule's, not this
    assert layout_first(rho, np.array([0.5, 0.2, 0.1]), 0.8) == [1]
    assert layout_first(rho, np.array([0.2, 0.5, 0.1]), 0.8) == []
    assert layout_first({2: -0.9}, np.array([0.5, 0.2, 0.1]), 0.8) == []
    assert layout_first({}, np.array([0.5]), 0.8) == []


def _with_sticker(photo: Path, out: Path) -> None:
    """A big flat disc over the middle of the photo (a sticker, an emoji)."""
    im = Image.open(photo).convert("RGB")
    r = min(im.size) // 4
    cx, cy = im.width // 2, im.height // 2
    ImageDraw.Draw(im).ellipse((cx - r, cy - r, cx + r, cy + r), fill=(255, 204, 0))
    im.save(out, quality=85)


OPINIONS = {
    "plain": "search.query.check_nominees.plain_nominees",
    "layout": "search.query.check_nominees.layout_first",
}


@dataclass
class StickerCase:
    """A 12-photo library, a sticker copy of its fourth photo, and the candidates a whitened
    library could give it: a look-alike (the eighth photo) at 0.3, the original at 0.02."""

    settings: Settings
    original: Path
    other: Path
    query: Path


@pytest.fixture
def sticker_case(data_dir: Path, models_dir: Path, tmp_path: Path) -> StickerCase:
    photos = sorted((data_dir / "hymenoptera" / "images" / "val").rglob("*.jpg"))[:12]
    photo_library(photos, tmp_path, models_dir)
    col = tmp_path / "photos"
    query = tmp_path / "sticker.jpg"
    _with_sticker(col / photos[3].name, query)  # its key points match as they are
    settings = make_settings(tmp_path / "lib", models_dir)
    return StickerCase(settings, col / photos[3].name, col / photos[7].name, query)


def _checked(case: StickerCase) -> tuple[np.ndarray, dict[int, int], int, float]:
    """The engine's local check of the case's candidates: (their copy scores after it, what
    it confirmed, the original's id, the floor a confirmed copy scores at least)."""
    with SearchEngine.open(case.settings) as engine:
        original = engine.records.image_id_for(case.original)
        ids = [engine.records.image_id_for(case.other), original]
        descriptor = engine.library.searchable().descriptor
        views, data = engine.embed_views(case.query)
        local = engine.local.for_query(descriptor, data, None, views)
        raised = local.check(ids, np.array([0.3, 0.02], np.float32))  # type: ignore[misc]
        return raised, local.confirmed, original, verified_floor(descriptor.calibration)


def _only(monkeypatch: pytest.MonkeyPatch, *kept: str) -> None:
    """Every nominator of the local check but ``kept`` nominates nothing."""
    nominators = "search.query.check_nominees"
    names = ["grey_band", f"{nominators}.nominated_layouts", f"{nominators}.crop_nominees"]
    names += OPINIONS.values()
    for name in names:
        if name not in kept:
            target = name if "." in name else f"search.query.local_check.{name}"
            monkeypatch.setattr(target, lambda *a: [])


@pytest.mark.slow
@pytest.mark.parametrize("opinion", sorted(OPINIONS))
def test_another_rankings_first_is_confirmed_by_its_key_points(
    opinion: str, sticker_case: StickerCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The query's candidates as a whitened library could rank them: a look-alike first, the
    original far below the grey band. The plain cosine (or the layout) puts the original
    first, so its key points are read and confirm it; without that opinion nothing would."""
    _only(monkeypatch, OPINIONS[opinion])
    raised, confirmed, original, floor = _checked(sticker_case)
    assert raised[1] >= floor, raised
    assert confirmed[original] >= MIN_INLIERS, confirmed
    assert raised[0] == pytest.approx(0.3)  # the look-alike is not asked

    _only(monkeypatch)
    raised, confirmed, _, _ = _checked(sticker_case)
    assert raised[1] == pytest.approx(0.02) and not confirmed


@pytest.mark.slow
def test_an_inverted_layouts_nominee_is_matched_as_it_is_too(
    sticker_case: StickerCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A nominee whose layout is the query's inverted is matched with the query's inverted
    key points, and, when those confirm nothing, as it is: a noisy, mirrored duotone of a
    photo (hold-out photos-120) had the inverted layout of its original (rho -0.998) and
    matched it by 46 inliers as it was, none inverted."""
    _only(monkeypatch)
    monkeypatch.setattr("search.query.check_nominees.nominated_layouts", lambda *a: [(1, -0.95)])
    raised, confirmed, original, floor = _checked(sticker_case)
    assert confirmed[original] >= MIN_INLIERS, confirmed
    assert raised[1] >= floor > raised[0]
