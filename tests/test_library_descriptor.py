"""The library's descriptor end to end: framed photos stored and searched, the whitening
learned by an index run and kept in SQLite, index caches stamped with the descriptor."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import indexer.whiten
import search.descriptor.whitening
from indexer.run import IndexOptions, index_collections
from search.dedup import MultiRowNeighbours
from search.descriptor import DUPLICATE_Z, DescriptorConfig
from search.evaluation import apply_edits
from search.index import VectorIndex
from search.library import Library
from search.query import NEAR, SearchEngine, library_duplicates, lookup
from search.store import ImageFrame
from tests.engine_library import make_settings

pytestmark = pytest.mark.slow

ORIGINAL = "ukbench00004.jpg"


def _edit(src: Path, recipe: list[str], seed: int, out: Path) -> None:
    with Image.open(src) as img:
        edited, _params = apply_edits(img.convert("RGB"), recipe, np.random.default_rng(seed))
    edited.save(out, quality=90)


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """UKBench photos and hymenoptera bees, plus a screenshot and a captioned copy of one."""
    root = tmp_path_factory.mktemp("framed")
    uk = data_dir / "ukbench_subset" / "images"
    for path in sorted(uk.glob("*.jpg"))[:24]:
        shutil.copy2(path, root / path.name)
    for path in sorted((data_dir / "hymenoptera" / "images" / "val" / "bees").glob("*.jpg"))[:16]:
        shutil.copy2(path, root / path.name)
    _edit(uk / ORIGINAL, ["screenshot"], 0, root / "shot_of_original.jpg")
    _edit(uk / ORIGINAL, ["caption"], 0, root / "captioned_original.jpg")
    return root


def _index(settings, folder: Path, descriptor: str | None = None):  # type: ignore[no-untyped-def]
    with Library.open(settings, create=True) as library:
        model = library.load_model(bind=True)
        return index_collections(
            library,
            model,
            IndexOptions(paths=[folder], progress=False, workers=2, descriptor=descriptor),
        )


@pytest.fixture(scope="module")
def framed_settings(tmp_path_factory: pytest.TempPathFactory, photos: Path, models_dir: Path):
    settings = make_settings(tmp_path_factory.mktemp("lib") / "library", models_dir)
    summary = _index(settings, photos)
    assert summary.failed == 0 and summary.descriptor == DescriptorConfig().describe()
    return settings


def test_framed_photos_are_stored_with_their_box(framed_settings, photos: Path) -> None:
    with SearchEngine.open(framed_settings) as engine:
        with engine.store.session() as session:
            frames = {row.image.rel_path: row for row in session.query(ImageFrame).all()}
        shot = frames["shot_of_original.jpg"]
        assert shot.dominant and 0 <= shot.left < shot.right <= 1 and 0 <= shot.top < shot.bottom
        assert "captioned_original.jpg" in frames and not frames["captioned_original.jpg"].dominant
        assert ORIGINAL not in frames  # an ordinary photo has no frame row


def test_an_original_finds_its_screenshot_and_captioned_copies(framed_settings, photos) -> None:
    with SearchEngine.open(framed_settings) as engine:
        hits = engine.search_image(photos / ORIGINAL, k=5)
        names = [Path(h.path).name for h in hits]
        assert names[0] == ORIGINAL and hits[0].exact
        assert {"shot_of_original.jpg", "captioned_original.jpg"} <= set(names[:3])
        for hit in hits[:3]:
            assert hit.duplicate and hit.z is not None and hit.z >= DUPLICATE_Z
        assert not any(h.duplicate for h in hits[3:]), "group mates are other photos"
        # ... and the screenshot finds the original (its framed photo is what is compared).
        back = engine.search_image(photos / "shot_of_original.jpg", k=3)
        assert {Path(h.path).name for h in back[:3]} >= {ORIGINAL}
        similar = engine.similar(engine.records.image_id_for(photos / "shot_of_original.jpg"), k=3)
        assert Path(similar[0].path).name in {ORIGINAL, "captioned_original.jpg"}


def test_plain_descriptor_misses_the_screenshot(
    tmp_path: Path, photos: Path, models_dir: Path
) -> None:
    settings = make_settings(tmp_path / "plain", models_dir)
    _index(settings, photos, descriptor="plain")
    with SearchEngine.open(settings) as engine:
        assert engine.library.descriptor_config().is_plain
        assert engine.store.descriptors.frame_count() == 0
        hits = engine.search_image(photos / ORIGINAL, k=5)
        shot = [h for h in hits if Path(h.path).name == "shot_of_original.jpg"]
        assert not shot or not shot[0].duplicate


def test_lookup_and_dedup_use_the_framed_photo(framed_settings, photos: Path) -> None:
    with SearchEngine.open(framed_settings) as engine:
        result = lookup(engine, photos / "shot_of_original.jpg")
        near = {Path(m.hit.path).name for m in result.of_kind(NEAR)}
        assert ORIGINAL in near and result.z_threshold == DUPLICATE_Z
        groups = library_duplicates(engine).groups
        together = [g for g in groups if ORIGINAL in {Path(i.path).name for i in g.images}]
        assert len(together) == 1
        assert {"shot_of_original.jpg", "captioned_original.jpg"} <= {
            Path(i.path).name for i in together[0].images
        }


def test_multi_row_neighbours_reach_an_image_through_its_second_row() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ids = np.array([10, 11, 12, 13])
    # image 13's framed photo is image 10's picture
    provider = MultiRowNeighbours(x, ids, x[[0]], np.array([13]))
    scores, found = provider(np.array([10, 13]), 3)
    assert 13 in found[0].tolist() and scores[0][found[0].tolist().index(13)] == pytest.approx(1)
    assert 10 in found[1].tolist()


def test_index_run_learns_the_whitening_and_the_index_follows(
    tmp_path: Path, photos: Path, models_dir: Path, monkeypatch
) -> None:
    # A real library learns from 100 images up; 42 photos x 5 edits are enough pairs here.
    monkeypatch.setattr(indexer.whiten, "MIN_IMAGES", 40)
    monkeypatch.setattr(search.descriptor.whitening, "MIN_IMAGES", 40)
    monkeypatch.setattr(indexer.whiten, "EDITS_PER_IMAGE", 5)
    monkeypatch.setattr(indexer.whiten, "EDIT_BUDGET", 5.0)
    settings = make_settings(tmp_path / "white", models_dir)
    summary = _index(settings, photos)
    assert summary.whitening.startswith("learned the whitening"), summary.whitening
    with Library.open(settings) as library:
        whitening = library.whitening()
        assert whitening is not None and whitening.images == 42
        live = library.searchable()
        searched = live.descriptor.whitening  # its leading axes (DescriptorConfig.dims)
        assert searched is not None and searched.dimension == DescriptorConfig().dims
        assert live.index.dimension == searched.dimension
        assert f"white={searched.fingerprint}" in live.fingerprint
        stamp = VectorIndex.read_header(settings.index_path).stamp
        assert stamp["descriptor"] == live.fingerprint  # the saved cache is in that space
    with SearchEngine.open(settings) as engine:
        shown = engine.admin.stats()["descriptor"]  # what `imgsearch stats` says applies
        assert shown["whitening"]["images"] == 42
        assert shown["whitening"]["shrink"] == pytest.approx(
            search.descriptor.shrink_for(42), abs=1e-3
        )
        # measured on the library (its sd capped at the prior's where UKBench's four views of
        # each object spread it wider), never the prior's alone; a decision copies can reach
        assert shown["calibration"]["background"].startswith("measured")
        assert shown["calibration"]["duplicate_threshold"] <= 0.84
        hits = engine.search_image(photos / ORIGINAL, k=3)
        assert Path(hits[0].path).name == ORIGINAL and hits[0].score >= 0.999
        assert {Path(h.path).name for h in hits} >= {"shot_of_original.jpg"}
    again = _index(settings, photos)  # nothing new: kept, not learned again
    assert again.whitening.startswith("whitening kept")
    # Whitening off: the cache of the whitened space is stale and rebuilt in the plain one.
    with Library.open(settings) as library:
        library.set_descriptor(DescriptorConfig(whiten=False))
        library.rebuild_index()
        assert library.descriptor().whitening is None
        assert (
            VectorIndex.read_header(settings.index_path).stamp["descriptor"].endswith("white=none")
        )


def test_verify_raises_a_geometrically_confirmed_pair_only(tmp_path: Path, data_dir: Path) -> None:
    pytest.importorskip("cv2")
    from search.dedup import VerifiedNeighbours

    uk = data_dir / "ukbench_subset" / "images"
    with Image.open(uk / ORIGINAL) as img:
        w, h = img.size
        img.crop((w // 5, h // 6, w * 3 // 4, h * 5 // 6)).rotate(12, expand=True).save(
            tmp_path / "crop.jpg", quality=80
        )
    paths = {1: uk / ORIGINAL, 2: tmp_path / "crop.jpg", 3: uk / "ukbench00008.jpg"}

    def inner(ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        # both candidates sit in the grey zone (0.3 .. 0.5): only the crop is the same photo
        return np.array([[1.0, 0.35, 0.34]], np.float32), np.array([[1, 3, 2]])

    provider = VerifiedNeighbours(inner, paths.get, low=0.3, threshold=0.5)
    scores, found = provider(np.array([1]), 3)
    assert found[0].tolist() == [1, 2, 3]  # the confirmed crop moves up past the threshold
    # ... to its verified copy score: the engine's verify=on and the evaluation's rule
    from search.descriptor import verified_copy_score

    raised = verified_copy_score(0.34, provider.decided[(1, 2, False)], None)
    assert raised >= 0.5 and scores[0].tolist() == pytest.approx([1.0, raised, 0.35])
    assert provider.raised == {(1, 2): pytest.approx(0.34)}  # its own score, for the report
    assert provider.stats() == {
        "verify_checked": 2,
        "verify_confirmed": 1,
        "verify_images": 3,
        "verify_dense_images": 0,  # no layouts given: no pair laid out alike
        "verify_refuted": 0,  # nor refuted
    }
    # key points made on threads (the default: the machine's cores) or in one: the same
    alone = VerifiedNeighbours(inner, paths.get, low=0.3, threshold=0.5, workers=1)
    assert [a.tolist() for a in alone(np.array([1]), 3)] == [scores.tolist(), found.tolist()]
    assert alone.decided == provider.decided
    # none made ahead for pairs past the budget: the best pair's two images only
    capped = VerifiedNeighbours(inner, paths.get, low=0.3, threshold=0.5, max_pairs=1, workers=4)
    capped(np.array([1]), 3)
    assert sorted(capped.features) == [1, 3] and capped.stats()["verify_checked"] == 1


def test_eval_measures_the_library_path(data_dir: Path, models_dir: Path) -> None:
    """`eval --descriptor library` indexes the set into a fresh library and searches it."""
    import json

    from click.testing import CliRunner

    from cli.main import cli

    folder = data_dir / "near_duplicates"
    out = CliRunner().invoke(
        cli,
        ["--model-path", str(models_dir), "eval", str(folder), "--json", "--descriptor", "library"],
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    details = data["details"]["descriptor"]
    assert details["indexing"]["added"] == 45 and details["indexing"]["failed"] == 0
    assert details["descriptor"] == DescriptorConfig().describe()
    assert details["query_ms"]["p50"] > 0
    assert data["recall@1"] == 1.0 and data["pair_ap"] >= 0.98
    assert data["recall_at_p99"] >= 0.97 and data["pair_precision"] >= 0.99
    flags = details["flags_per_query"]  # each search's own flags (query -> hit)
    assert 0 < flags["flagged"] <= flags["true_pairs"] and flags["wrong"] <= 1


def test_flags_per_query_count_each_direction() -> None:
    """The pair counts take a pair flagged by either of its two searches; the flags per
    query count what each search showed: a copy found only one way is half found."""
    from pathlib import Path

    from cli.eval_library import flags_per_query
    from search.evaluation import GroundTruth

    files = ("a.jpg", "a__crop.jpg", "a_other_view.jpg", "b.jpg")
    truth = GroundTruth(
        "t",
        "clusters",
        Path("."),
        files,
        (("a.jpg", "a__crop.jpg"),),
        distractors=("a_other_view.jpg", "b.jpg"),
        related={"a.jpg": 1, "a__crop.jpg": 1, "a_other_view.jpg": 1},
    )
    shown = {(0, 1), (0, 2), (3, 0)}  # a -> its copy; a -> its object's other view; b -> a
    assert flags_per_query(truth, [0, 1, 2, 3], shown) == {
        "true_pairs": 2,
        "flagged": 1,
        "wrong": 2,
        "wrong_neutral": 1,
        "by_edit": {  # the original's search flagged its crop; the crop's did not flag it
            "crop": {"flagged": 0, "true_pairs": 1},
            "original": {"flagged": 1, "true_pairs": 1},
        },
    }
    assert flags_per_query(truth, [0, 2, 3], shown)["true_pairs"] == 0  # the copy failed
