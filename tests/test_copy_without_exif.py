"""A copy saved without its EXIF (resized, re-sent, screenshotted) of a photo whose library
has the photographer's other shots of the scene: those shots were flagged copies of it (a
UKBench object's other three views, copy score 0.64-0.90, z 6-8.4 past the decision) where
the photo itself, with its capture time, made them look-alikes ("another shot"). The query's
photo - its best copy, firm, whole, with a capture time - now lends the query its time: a
shot taken at another time is another shot of the query too, unless it scores as high as the
photo (shots the expansion left tied with it: which comes first tells nothing).
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from cli.main import cli
from search.store import StoredImage

pytestmark = pytest.mark.slow
VIEWS = ["ukbench00004.jpg", "ukbench00005.jpg", "ukbench00006.jpg", "ukbench00007.jpg"]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path):  # type: ignore[no-untyped-def]
    """The four views of one UKBench object (capture times 13:34:53 to 13:35:42) among 12
    other objects' views and 110 hymenoptera photos: a library that learns its whitening."""
    root = tmp_path_factory.mktemp("no-exif")
    photos = root / "photos"
    photos.mkdir()
    ukbench = sorted((data_dir / "ukbench_subset" / "images").glob("ukbench000*.jpg"))[:16]
    insects = sorted((data_dir / "hymenoptera" / "images").rglob("*.jpg"))[:110]
    for path in [*ukbench, *insects]:
        shutil.copyfile(path, photos / path.name)
    assert set(VIEWS) <= {p.name for p in ukbench}
    common = ["--library", str(root / "library"), "--model-path", str(models_dir)]
    done = CliRunner().invoke(cli, [*common, "index", "--no-progress", str(photos)])
    assert done.exit_code == 0, done.output
    return root, common


def _hits(common: list[str], query: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    done = CliRunner().invoke(cli, [*common, "search", "--json", "-k", "6", str(query)])
    assert done.exit_code == 0, done.output
    return {Path(h["path"]).name: h for h in json.loads(done.stdout)["results"]}


@pytest.mark.parametrize("keep_exif", [False, True])
def test_a_copy_without_exif_keeps_the_other_shots_look_alikes(library, keep_exif) -> None:  # type: ignore[no-untyped-def]
    root, common = library
    photo = Image.open(root / "photos" / VIEWS[0])
    query = root / f"copy-{keep_exif}.jpg"
    exif = photo.info.get("exif") if keep_exif else None
    photo.resize((320, 240)).save(query, quality=85, **({"exif": exif} if exif else {}))
    assert bool(Image.open(query).getexif()) is keep_exif

    hits = _hits(common, query)
    assert hits[VIEWS[0]]["duplicate"], hits[VIEWS[0]]
    for view in VIEWS[1:]:
        hit = hits[view]
        assert not hit["duplicate"], hit
        assert hit["lookalike"] and hit["lookalike_reason"].startswith("another shot"), hit
        if not keep_exif:  # the time the query took from its photo, said
            assert "the query is a copy of ukbench00004.jpg" in hit["lookalike_reason"], hit
        assert hit["score"] < hits[VIEWS[0]]["score"]


def _shot(image_id: int, taken: str | None) -> StoredImage:
    when = None if taken is None else datetime.fromisoformat(f"2005-07-29T{taken}")
    row = StoredImage(image_id, 1, "/lib", f"{image_id}.jpg", 100, 10, 10, "JPEG", None, None)
    row.exif_datetime = when
    return row


def test_the_photos_time_is_lent_only_where_it_tells_the_shots_apart() -> None:
    """The rule in isolation (no capture time on the query): a shot scoring within the
    margin of the photo is no less likely the query's photo (kept a copy); a query with a
    part that is a copy of its own holds more than one picture (nothing lent); a photo with no
    capture time lends none."""
    from search.descriptor import Calibration, ScoredHit
    from search.query import hits_from_scores

    cal = Calibration(0.09, 0.09, mean=0.12, sd=0.097)  # z 8 near copy 0.90

    def flags(scored: list) -> dict[int, bool]:  # type: ignore[type-arg]
        hits = hits_from_scores(scored, cal, lambda row, copy: False, taken=None)
        return {h.id: bool(h.duplicate) for h in hits}

    photo, far, tied = _shot(1, "13:34:53"), _shot(2, "13:35:07"), _shot(3, "13:35:21")
    scored = [
        (ScoredHit(1, 0.99, 0.99, None, True), photo),
        (ScoredHit(3, 0.989, 0.9895, None, True), tied),  # within 0.1 z of the photo
        (ScoredHit(2, 0.80, 0.80, None, True), far),
    ]
    assert flags(scored) == {1: True, 3: True, 2: False}
    with_part = [*scored[:2], (ScoredHit(2, 0.80, 0.80, None, True, part=1), far)]
    assert flags(with_part) == {1: True, 3: True, 2: True}
    untimed = [(ScoredHit(1, 0.99, 0.99, None, True), _shot(1, None)), *scored[1:]]
    assert flags(untimed) == {1: True, 3: True, 2: True}


def test_the_photo_the_key_points_put_first_lends_its_time() -> None:
    """Two shots tied on their vectors (copy scores 0.008 apart, 0.8 z at this background):
    the key points put the query's own photo first (search.descriptor.tied_copies) though the
    other shot scores higher. The photo the query lends its time from is that first one: it
    stays a copy, first (it was made "another shot" of the other, which led it by more than
    0.1 z, and put under it); the other, above it by its vectors, is led by nothing."""
    from search.descriptor import Calibration, ScoredHit
    from search.query import hits_from_scores

    cal = Calibration(0.09, 0.09, mean=0.12, sd=0.01)
    photo, other, far = _shot(1, "13:34:53"), _shot(2, "13:35:07"), _shot(3, "13:35:21")
    scored = [
        (ScoredHit(1, 0.9700, 0.900, None, True), photo),  # first by its key points
        (ScoredHit(2, 0.9699, 0.908, None, True), other),
        (ScoredHit(3, 0.90, 0.85, None, True), far),
    ]
    hits = hits_from_scores(scored, cal, lambda row, copy: False, taken=None)
    assert [h.id for h in hits] == [1, 2, 3]
    assert hits[0].duplicate and hits[1].duplicate, hits
    assert not hits[2].duplicate and hits[2].lookalike_reason.startswith("another shot"), hits
    assert "the query is a copy of 1.jpg" in hits[2].lookalike_reason
