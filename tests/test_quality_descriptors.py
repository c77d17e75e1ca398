"""Descriptor options, scoring rules, calibration; learned whitening and its augmentations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from search.descriptor import (
    PLAIN_BACKGROUND,
    Calibration,
    Descriptor,
    DescriptorConfig,
    DescriptorError,
    StoredImage,
    Whitening,
    WhiteningError,
    augment,
    label_similarities,
    label_vectors,
    learn_whitening,
    unit_labels,
)
from search.descriptor import whitening as wmod
from search.descriptor.config import TURNED_VIEW_DISCOUNT


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


# ---------------------------------------------------------------------- configuration


def test_config_parse_and_describe() -> None:
    assert DescriptorConfig.parse(None) == DescriptorConfig()
    assert DescriptorConfig.parse("plain").is_plain
    c = DescriptorConfig.parse("plain, frames=on ,rotations=2")
    assert (c.frames, c.rotations, c.whiten, c.labels) == (True, 2, False, 0.0)
    assert c.angles == (0, 180)
    assert DescriptorConfig.parse("default,labels=0.3,verify=yes").labels == 0.3
    assert DescriptorConfig.parse(c.describe().replace("=on", "=1")) == c
    assert c.fingerprint != DescriptorConfig().fingerprint
    for bad in ("rotations=3", "labels=1.5", "frames=maybe", "nonsense", "labels=x", "whiten"):
        with pytest.raises(DescriptorError):
            DescriptorConfig.parse(bad)


def test_stored_rows_and_query_rows_follow_the_options() -> None:
    rng = np.random.default_rng(0)
    v = unit(rng.normal(size=(6, 8)))
    images = [
        StoredImage(v[0]),
        StoredImage(v[1], frame=v[2]),
        StoredImage(v[3], frame=v[4], frame_dominant=True),
    ]
    rows, owner = Descriptor(DescriptorConfig()).stored_rows(images)
    assert owner.tolist() == [0, 1, 1, 2]  # the dominated whole image is not searched
    assert np.allclose(rows, v[[0, 1, 2, 4]])
    rows, owner = Descriptor(DescriptorConfig.plain()).stored_rows(images)
    assert owner.tolist() == [0, 1, 2] and np.allclose(rows, v[[0, 1, 3]])

    names = (
        "full",
        "full@90",
        "full@180",
        "full@270",
        "frame",
        "frame@90",
        "frame@180",
        "frame@270",
    )
    views = unit(rng.normal(size=(8, 8)))
    d = Descriptor(DescriptorConfig(rotations=2))
    turned = np.array([1, 1 - TURNED_VIEW_DISCOUNT, 1, 1 - TURNED_VIEW_DISCOUNT])[:, None]
    assert np.allclose(d.query_rows(views, names), views[[0, 2, 4, 6]] * turned)
    assert np.allclose(d.query_rows(views, names, frame_dominant=True), views[[4, 6]] * turned[2:])
    assert np.allclose(Descriptor(DescriptorConfig.plain()).query_rows(views, names), views[[0]])


def test_copy_scores_take_the_best_view_and_row() -> None:
    rows = unit(np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float32))
    owner = np.array([0, 1, 1])
    query = unit(np.array([[1, 1, 0], [0, 0.2, 1]], np.float32))
    scores = Descriptor(DescriptorConfig.plain()).copy_scores(query, rows, owner, 3)
    assert scores[0] == pytest.approx(np.sqrt(0.5))
    assert scores[1] == pytest.approx(max(np.sqrt(0.5), 1 / np.sqrt(1.04)))
    assert scores[2] == -np.inf  # an image without rows is never a match


def test_rank_scores_gate_labels_off_for_copies() -> None:
    d = Descriptor(DescriptorConfig(labels=0.2), calibration=Calibration(0.0, 0.05))
    copy = np.array([0.5, 0.5, 0.05, 0.05, 0.07])  # z = 10 (a copy), z = 1 (look-alikes)
    labels = np.array([0.0, 1.0, 0.0, 1.0, 0.0])  # (the last: the best evidence below z 4)
    rank = d.rank_scores(copy, labels)
    assert rank[0] == pytest.approx(rank[1], abs=1e-4)  # labels cannot demote a copy
    assert rank[3] - rank[2] == pytest.approx(0.2, abs=1e-3)  # but re-rank look-alikes
    assert rank[0] > rank[3]
    assert np.allclose(Descriptor(DescriptorConfig(labels=0.0)).rank_scores(copy, labels), copy)


def test_labels_never_lift_a_look_alike_over_the_best_copy_evidence() -> None:
    """A weak copy (a tiny rescale: copy score 0.40, z 3.4, below the copy gate) whose
    labels are garbled stays above same-class look-alikes that score a little lower; label
    similarity still re-orders the look-alikes after it."""
    d = Descriptor(DescriptorConfig(), calibration=Calibration(0.09, 0.09, 0.12, 0.12))
    #                 self  weak copy  look-alikes ...
    copy = np.array([[1.0, 0.40, 0.37, 0.36, 0.33, 0.30]])
    labels = np.array([[1.0, 0.10, 1.00, 1.00, 0.20, 1.00]])
    for c in (copy, np.where(np.arange(6) == 0, -np.inf, copy)):  # with the query, without
        rank = d.rank_scores(c, labels)[0]
        order = [int(i) for i in np.argsort(-rank, kind="stable") if np.isfinite(rank[i])]
        assert order[-5:] == [1, 2, 3, 5, 4]


def test_label_vectors_and_similarity() -> None:
    vocab: dict[str, int] = {}
    lv = label_vectors([[("bee", 0.64), ("fly", 0.16)], [("bee", 0.25), ("ant", 0.25)], []], vocab)
    assert set(vocab) == {"bee", "fly", "ant"}
    sim = lv @ lv.T
    assert sim[0, 0] == pytest.approx(1.0) and sim[2, 2] == 0.0
    expect = (0.8 * 0.5) / (np.sqrt(0.64 + 0.16) * np.sqrt(0.5))
    assert sim[0, 1] == pytest.approx(expect, rel=1e-5)


def test_a_querys_label_similarities_are_those_of_the_label_vectors() -> None:
    """The engine scores its candidates' labels without a matrix: the same similarities."""
    rows = [
        [("bee", 0.64), ("fly", 0.16)],
        [("bee", 0.25), ("ant", 0.25), ("bee", 0.09)],  # a name twice: its last probability
        [],
        [("wasp", 0.5)],
        [("fly", 0.3), ("bee", 0.2), ("ant", 0.1), ("moth", 0.1), ("wasp", 0.1), ("gnat", 0.1)],
    ]
    for query in rows:
        dense = label_vectors([query, *rows], {})
        found = label_similarities(query, [unit_labels(row) for row in rows])
        assert found == pytest.approx(dense[1:] @ dense[0], abs=1e-6)
    assert not label_similarities([], [unit_labels(row) for row in rows]).any()


def test_calibration_is_robust_to_duplicates() -> None:
    rng = np.random.default_rng(1)
    v = unit(rng.normal(size=(300, 128)))
    images = [StoredImage(x) for x in v] + [StoredImage(v[0]) for _ in range(10)]
    assert Descriptor(DescriptorConfig.plain()).calibrate(images[:50]) == PLAIN_BACKGROUND
    cal = Descriptor(DescriptorConfig.plain()).calibrate(images, seed=0)
    assert abs(cal.median) < 0.02 and 0.06 < cal.spread < 0.12  # ~1/sqrt(128)
    assert abs(cal.mean) < 0.02 and 0.06 < cal.sd < 0.12 and not cal.capped
    assert cal.z(cal.score(4.0)) == pytest.approx(4.0)
    assert cal.duplicate_z(cal.duplicate_threshold(4.5)) == pytest.approx(4.5)
    w = learn_whitening(*synthetic_pairs(d=128)[:2], v)
    with pytest.raises(DescriptorError):
        Descriptor(whitening=w).calibrate(images[:2])


def test_a_sample_filled_with_copies_of_one_picture_keeps_a_reachable_decision() -> None:
    """A library where a third of the images are copies of one photo (36 edits among 111
    in the shared sets, as a folder of a photo's edits is): a tenth of its random pairs are
    copies, whose scores put mean + 6 sd past any copy score - nothing could be flagged, not
    even an identical copy. Its decision is capped at the plain-space prior's, while an
    ordinary library's background stays exactly as measured."""
    rng = np.random.default_rng(3)
    photos = unit(rng.normal(size=(210, 256)))  # different photos: cosine ~0 +- 0.06
    edits = unit(photos[0] + 0.02 * rng.normal(size=(100, 256)))  # its copies: ~0.9
    everything = np.concatenate([photos, edits])
    images = [StoredImage(x) for x in everything]
    cal = Descriptor(DescriptorConfig.plain()).calibrate(images, seed=0)
    i, j = np.triu_indices(len(everything), 1)
    scores = np.einsum("ij,ij->i", everything[i], everything[j])
    assert scores.mean() + 6 * scores.std() > 1.0  # as measured before: out of reach
    assert cal.capped and cal.sd == PLAIN_BACKGROUND.sd
    assert cal.duplicate_threshold() < PLAIN_BACKGROUND.duplicate_threshold()
    copies = scores[(i >= 210) & (j >= 210)]
    assert np.mean(copies >= cal.duplicate_threshold()) > 0.9  # the photo's copies flagged
    others = scores[(i < 210) & (j < 210)]
    assert not np.any(others >= cal.duplicate_threshold())  # different photos are not
    ordinary = Descriptor(DescriptorConfig.plain()).calibrate(images[:210], seed=0)
    assert not ordinary.capped and ordinary.duplicate_threshold() < 0.5


# ---------------------------------------------------------------------- whitening


def synthetic_pairs(n: int = 600, d: int = 32, seed: int = 0):
    """Photos are random directions; an 'edit' adds a big move along 3 fixed directions."""
    rng = np.random.default_rng(seed)
    photos = unit(rng.normal(size=(n, d)))
    nuisance = np.linalg.qr(rng.normal(size=(d, 3)))[0].T
    edit = photos + 1.5 * rng.normal(size=(n, 3)) @ nuisance + 0.05 * rng.normal(size=(n, d))
    return photos, unit(edit), nuisance


def test_whitening_suppresses_edit_directions() -> None:
    photos, edited, _ = synthetic_pairs()
    w = learn_whitening(photos[:400], edited[:400], photos)
    plain = (photos[400:] * edited[400:]).sum(1)
    white = (w.apply(photos[400:]) * w.apply(edited[400:])).sum(1)
    assert white.mean() > plain.mean() + 0.2  # copies move closer
    # ... and copies still rank first among other photos.
    sims = w.apply(edited[400:]) @ w.apply(photos).T
    assert (sims.argmax(1) == np.arange(400, 600)).mean() > 0.95
    assert np.allclose(np.linalg.norm(w.apply(photos[:5]), axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("background_rows", [300, 30])  # more / fewer rows than dimensions
@pytest.mark.parametrize("shrink", [0.2, 0.0])
def test_whitening_matches_the_textbook_one(background_rows: int, shrink: float) -> None:
    """Cholesky factor and Gram-matrix axes (the cheap path) or not: the whitened space is
    the inverse square root of the edit covariance rotated to the background's principal
    axes, so the cosines of any two vectors are those of the textbook computation."""
    rng = np.random.default_rng(3)
    photos = unit(rng.normal(size=(400, 48)) * np.linspace(3, 0.2, 48))
    edited = unit(photos + 0.1 * rng.normal(size=photos.shape))
    background = photos[:background_rows]
    w = learn_whitening(photos, edited, background, shrink=shrink, dimension=16)
    cs = ((photos - edited).T @ (photos - edited)) / len(photos)
    cs = (1 - shrink) * cs + shrink * np.trace(cs) / 48 * np.eye(48)
    values, vectors = np.linalg.eigh(cs)
    inv_sqrt = (vectors * np.maximum(values, values.max() * 1e-6) ** -0.5) @ vectors.T
    y = (background - background.mean(0)) @ inv_sqrt
    values2, vectors2 = np.linalg.eigh(y.T @ y / len(y))
    projection = vectors2[:, np.argsort(-values2)[:16]].T @ inv_sqrt
    probe = unit(rng.normal(size=(6, 48)))
    expected = unit((probe - background.mean(0)) @ projection.T)
    assert np.allclose(w.apply(probe) @ w.apply(probe).T, expected @ expected.T, atol=1e-4)


def test_whitening_storage_and_errors() -> None:
    photos, edited, _ = synthetic_pairs()
    w = learn_whitening(photos, edited, photos, dimension=16)
    back = Whitening.from_bytes(w.to_bytes())
    assert back.fingerprint == w.fingerprint and back.dimension == 16 and back.pairs == 600
    assert np.allclose(back.apply(photos[:3]), w.apply(photos[:3]))
    with pytest.raises(WhiteningError):
        Whitening.from_bytes(b"not a whitening")
    with pytest.raises(WhiteningError):
        w.apply(np.ones((2, 5), np.float32))
    with pytest.raises(WhiteningError):
        learn_whitening(photos[:50], edited[:50], photos)  # too few pairs
    with pytest.raises(WhiteningError):
        learn_whitening(photos, edited[:, :10], photos)
    bad = photos.copy()
    bad[0, 0] = np.nan
    with pytest.raises(WhiteningError):
        learn_whitening(bad, edited, photos)


def test_whitening_shrinks_towards_the_plain_space_in_small_libraries() -> None:
    shrinks = [wmod.shrink_for(n) for n in (0, wmod.MIN_IMAGES, 300, wmod.FULL_IMAGES, 10**6)]
    assert shrinks == sorted(shrinks, reverse=True)
    assert shrinks[0] == 1.0 and shrinks[-1] == shrinks[-2] == wmod.DEFAULT_SHRINK


def test_small_libraries_keep_the_plain_space() -> None:
    with pytest.raises(WhiteningError, match="keeps the plain embedding"):
        wmod.learn_from_images(
            [], lambda imgs: np.zeros((len(imgs), 4)), np.zeros((wmod.MIN_IMAGES - 1, 4))
        )


def test_augment_is_seeded_and_varied(data_dir: Path) -> None:
    with Image.open(sorted((data_dir / "hymenoptera/images/val/ants").glob("*.jpg"))[0]) as im:
        photo = im.convert("RGB")
    a = augment(photo, np.random.default_rng([7, 1]))
    b = augment(photo, np.random.default_rng([7, 1]))
    assert a.mode == "RGB" and np.array_equal(np.asarray(a), np.asarray(b))
    others = {augment(photo, np.random.default_rng([7, k])).size for k in range(2, 12)}
    assert len(others) > 3


@pytest.mark.slow
def test_training_pairs_on_real_photos(data_dir: Path, models_dir: Path) -> None:
    from models import open_model

    model = open_model(None, [models_dir], threads=1)
    paths = sorted((data_dir / "hymenoptera/images/val/bees").glob("*.jpg"))[:12]
    images = [model.load(p).image.convert("RGB") for p in paths]
    anchors, positives = wmod.training_pairs(images, model.embed_images, edits_per_image=3, batch=5)
    assert anchors.shape == positives.shape == (36, model.dimension)
    assert np.allclose(anchors[0], anchors[2]) and not np.allclose(anchors[0], anchors[3])
    cos = (anchors * positives).sum(1)
    assert 0.2 < cos.mean() < 0.99  # edits are real changes, not copies and not noise


def test_expansion_chains_sure_copies_only() -> None:
    cal = Calibration(median=0.0, spread=0.05)  # sure copy: robust z >= 6, score >= 0.3
    d = Descriptor(DescriptorConfig(expand=2), calibration=cal)
    # Query row against 4 stored images: image 0 is a sure copy, image 1 a look-alike.
    copy = np.array([[0.6, 0.2, 0.05, 0.0]], np.float32)
    graph = np.full((4, 4), -np.inf, np.float32)
    graph[0, 2] = graph[2, 0] = 0.9  # image 2 is a sure copy of image 0
    graph[1, 3] = graph[3, 1] = 0.9  # image 3 is a copy of the look-alike only
    out = d.expand(copy, graph)
    # min(0.6, 0.9) via image 0, less 0.01 x its own distance: below image 0, never a tie
    assert out[0].tolist() == pytest.approx([0.6, 0.2, 0.6 - 0.01 * 0.95, 0.0])
    # The query's own vector (score ~1: the image itself) takes no hub's place (expand=1).
    with_self = np.array([[0.6, 0.2, 0.05, 0.0, 1.0]], np.float32)
    graph5 = np.full((5, 5), -np.inf, np.float32)
    graph5[:4, :4] = graph
    graph5[4, 0] = graph5[0, 4] = 0.6
    one = Descriptor(DescriptorConfig(expand=1), calibration=cal).expand(with_self, graph5)
    assert one[0, 2] == pytest.approx(0.6 - 0.01 * 0.95)
    assert np.array_equal(
        Descriptor(DescriptorConfig(expand=0), calibration=cal).expand(copy, graph), copy
    )
    assert DescriptorConfig.parse("expand=5").expand == 5
    with pytest.raises(DescriptorError):
        DescriptorConfig(expand=-1)
