"""A copy that its key points confirm is past the look-alikes: in a whitened space, where
look-alikes of one class reach duplicate z 6-8.5, a confirmed copy scores at least what a firm
copy does (``duplicate_z >= WITNESS_Z``), so the copies the vectors put past the decision but
not past the look-alikes are checked too, and a confirmed original outranks a look-alike above
it (a tight crop of a coneflower photo was flagged as a copy of a daisy at z 6.6, its
original second at 6.5 with 29 inliers)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models.views import ViewSet
from search.descriptor import (
    GREY_BAND_Z,
    MIN_INLIERS,
    WITNESS_Z,
    Calibration,
    Descriptor,
    DescriptorConfig,
    Whitening,
    grey_band,
    verified_copy_score,
    verified_floor,
)
from search.query import SearchEngine
from tests.engine_library import make_settings, photo_library

# decision (duplicate z 6) 0.60, firm (duplicate z 8) 0.76, robust z 8 only 0.50
CALIBRATION = Calibration(median=0.1, spread=0.05, mean=0.12, sd=0.08)


def _whitened(config: DescriptorConfig, dimension: int = 64) -> Descriptor:
    identity = Whitening(np.zeros(dimension, np.float32), np.eye(dimension, dtype=np.float32), 1, 1)
    return Descriptor(config, identity, calibration=CALIBRATION)


def test_a_confirmed_copy_is_firm_in_a_whitened_space_only() -> None:
    plain = Descriptor(DescriptorConfig.parse("plain"), calibration=CALIBRATION)
    whitened = _whitened(DescriptorConfig.parse("default"))
    assert plain.calibration is not None and whitened.calibration is not None
    firm = CALIBRATION.duplicate_threshold(WITNESS_Z)
    assert verified_floor(plain.calibration) == pytest.approx(0.60)  # the decision
    assert verified_floor(whitened.calibration) == pytest.approx(firm) == whitened.firm_score()
    assert plain.calibration == whitened.calibration  # the same background, measured once

    # two past the decision, not firm; two in the band down to GREY_BAND_Z (z 2.25); one under
    copy = np.array([0.72, 0.66, 0.40, 0.30, 0.25])
    assert CALIBRATION.duplicate_threshold(GREY_BAND_Z) == pytest.approx(0.28)
    assert grey_band(copy, plain.calibration, 6) == [2, 3]
    assert grey_band(copy, whitened.calibration, 6) == [0, 1, 2, 3]
    assert grey_band(copy, whitened.calibration, 2) == [0, 1]  # its best first
    confirmed = verified_copy_score(0.66, MIN_INLIERS, whitened.calibration)
    assert confirmed >= firm > 0.72  # above the look-alike the vectors put first
    assert verified_copy_score(0.66, MIN_INLIERS - 1, whitened.calibration) == 0.66


@pytest.mark.slow
def test_a_confirmed_original_outranks_a_look_alike_past_the_decision(
    data_dir: Path, models_dir: Path, tmp_path: Path
) -> None:
    """Through a real library's key points: a crop of a photo whose candidates a whitened
    space could score look-alike 0.72, original 0.66 (both past the decision, neither firm)."""
    with _crop_of_a_library_photo(data_dir, models_dir, tmp_path) as found:
        engine, original, other, config, views, data = found
        ids, copy = [other, original], np.array([0.72, 0.66], np.float32)

        whitened = _whitened(config)
        local = engine.local.for_query(whitened, data, None, views)
        raised = local.check(ids, copy)  # type: ignore[misc]
        assert local.confirmed[original] >= MIN_INLIERS, local.confirmed
        assert raised[1] >= whitened.firm_score() > raised[0] == pytest.approx(0.72)

        # in the plain space the decision is the firm level: both are copies already
        plain = Descriptor(config, calibration=CALIBRATION)
        unasked = engine.local.for_query(plain, data, None, views)
        assert unasked.check(ids, copy)[1] == pytest.approx(0.66)  # type: ignore[misc]
        assert not unasked.confirmed


@pytest.mark.slow
def test_the_check_asked_of_chained_candidates_checks_those_alone_and_once(
    data_dir: Path, models_dir: Path, tmp_path: Path
) -> None:
    """``check(ids, copy, chained=positions)``, as the scorer asks it for the candidates the
    duplicate graph raised into the grey band: only those are matched with the query's key
    points (not the rest of the grey band, no layout nominees), and one the check met
    already is not matched again."""
    with _crop_of_a_library_photo(data_dir, models_dir, tmp_path) as found:
        engine, original, other, config, views, data = found
        ids, copy = [other, original], np.array([0.66, 0.45], np.float32)  # both in the band
        whitened = _whitened(config)
        local = engine.local.for_query(whitened, data, None, views)
        raised = local.check(ids, copy, chained=[1])  # type: ignore[misc]
        assert set(local.confirmed) == {original} and local.checked == {original}
        assert raised[1] >= whitened.firm_score() and raised[0] == pytest.approx(0.66)
        matched = engine.local.stats.checked
        again = local.check(ids, copy, chained=[1])  # type: ignore[misc]
        assert engine.local.stats.checked == matched  # met already: not matched again
        assert again[1] == pytest.approx(0.45)


@contextmanager
def _crop_of_a_library_photo(
    data_dir: Path, models_dir: Path, tmp_path: Path
) -> Iterator[tuple[SearchEngine, int, int, DescriptorConfig, ViewSet, object]]:
    """A library of 12 hymenoptera photos, a crop of the fourth (not indexed) as a query:
    the engine, the fourth's id, the eighth's (another photo), the library's descriptor
    configuration, and the query's views and data."""
    pytest.importorskip("cv2")
    photos = sorted((data_dir / "hymenoptera" / "images" / "val").rglob("*.jpg"))[:12]
    photo_library(photos, tmp_path, models_dir)
    settings, col = make_settings(tmp_path / "lib", models_dir), tmp_path / "photos"
    query = tmp_path / "crop.jpg"
    with Image.open(col / photos[3].name) as im:
        w, h = im.size
        im.crop((w // 5, h // 5, w - w // 10, h - h // 8)).save(query, quality=88)
    with SearchEngine.open(settings) as engine:
        original = engine.records.image_id_for(col / photos[3].name)
        other = engine.records.image_id_for(col / photos[7].name)
        config = engine.library.searchable().descriptor.config
        views, data = engine.embed_views(query)
        yield engine, original, other, config, views, data
