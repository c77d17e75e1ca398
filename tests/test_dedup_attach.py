"""dedup --verify: pairs of the lower band attach images no group took, and change nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from search.dedup import (
    DedupImage,
    DedupResult,
    VerifiedNeighbours,
    attach_free,
    find_duplicates,
    render_html,
    to_json,
)

THRESHOLD = 0.5


def image(image_id: int, width: int = 640, height: int = 480) -> DedupImage:
    return DedupImage(image_id, f"/photos/{image_id}.jpg", 1000 * image_id, width, height)


def grouped(images: list[DedupImage], edges: dict[tuple[int, int], float]) -> DedupResult:
    """Star groups of ``images`` over ``edges`` (image ids -> score over the threshold)."""
    index = {im.id: n for n, im in enumerate(images)}

    def neighbours(ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        rows = []
        for i in ids.tolist():
            row = [(1.0, i)] + [
                (s, b if a == i else a) for (a, b), s in edges.items() if i in (a, b)
            ]
            rows.append(sorted(row, reverse=True)[:k] + [(-1.0, -1)] * (k - len(row)))
        return np.array([[s for s, _ in r] for r in rows]), np.array(
            [[j for _, j in r] for r in rows]
        )

    assert len(index) == len(images)
    return find_duplicates(images, threshold=THRESHOLD, neighbours=neighbours)


def test_a_free_image_joins_its_partners_group_and_no_image_moves() -> None:
    # 1 is the keeper (most pixels), 2 its copy; 3 and 4 are in no group; 5 and 6 make a
    # group of their own; 7 is free too but has more pixels than 1: it would be the keeper
    images = [image(1, 800, 600), image(2), image(3), image(4), image(5, 700, 500), image(6)]
    images.append(image(7, 1000, 700))
    result = grouped(images, {(1, 2): 0.9, (5, 6): 0.8})
    assert [[g.keeper.id, *(m.image.id for m in g.members)] for g in result.groups] == [
        [1, 2],
        [5, 6],
    ]
    lower = {(2, 3): 0.31, (1, 3): 0.25, (3, 5): 0.2, (4, 6): 0.3, (1, 7): 0.4, (5, 2): 0.45}
    attached = attach_free(result, lower, {im.id: im for im in images})
    groups = {g.keeper.id: g for g in attached.groups}
    assert [m.image.id for m in groups[1].members] == [2, 3]  # 3's best partner is 2
    three = groups[1].members[1]
    assert (three.via, three.verified, three.score, three.exact) == (2, True, 0.31, False)
    assert [m.image.id for m in groups[5].members] == [6, 4]  # 4 through 6, 6 kept first
    assert groups[5].members[0].via is None  # a member of the star keeps its own record
    # 7 would rank before its partner's keeper: it stays out; 5 and 2 were grouped already
    assert 7 not in {im.id for g in attached.groups for im in g.images}
    assert attached.stats["attached"] == 2
    assert attached.stats["duplicates"] == result.stats["duplicates"] + 2
    # nothing to attach: the same groups
    same = attach_free(result, {(5, 6): 0.3}, {im.id: im for im in images})
    assert same.groups == result.groups and same.stats["attached"] == 0


def test_the_report_says_whom_an_attached_member_was_confirmed_with() -> None:
    images = [image(1, 800, 600), image(2), image(3)]
    result = attach_free(
        grouped(images, {(1, 2): 0.9}), {(2, 3): 0.3}, {im.id: im for im in images}
    )
    members = to_json(result)["groups"][0]["members"]
    assert [(m["id"], m["via"], m["verified"]) for m in members] == [
        (2, None, False),
        (3, 2, True),
    ]
    json.dumps(members)  # JSON-ready
    page = render_html(result, thumbnail=lambda _id: None)
    assert "confirmed by local features with 2.jpg" in page


def test_the_verifier_keeps_the_lower_bands_confirmed_pairs_apart(
    tmp_path: Path, data_dir: Path
) -> None:
    """A pair under the grey band is no edge (its score stays); once the groups are made, only
    a pair of a grouped and a free image is checked, and one that key points confirm is given
    to attach."""
    pytest.importorskip("cv2")
    uk = data_dir / "ukbench_subset" / "images"
    with Image.open(uk / "ukbench00004.jpg") as img:
        w, h = img.size
        img.crop((w // 5, h // 6, w * 3 // 4, h * 5 // 6)).rotate(12, expand=True).save(
            tmp_path / "crop.jpg", quality=80
        )
    paths = {1: uk / "ukbench00004.jpg", 2: tmp_path / "crop.jpg", 3: uk / "ukbench00008.jpg"}

    def inner(ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return np.array([[1.0, 0.25, 0.24]], np.float32), np.array([[1, 3, 2]])

    without = VerifiedNeighbours(inner, paths.get, low=0.3, threshold=THRESHOLD)
    assert without(np.array([1]), 3)[0][0].tolist() == pytest.approx([1.0, 0.25, 0.24])
    assert without.stats()["verify_checked"] == 0 and without.lower == {}

    provider = VerifiedNeighbours(inner, paths.get, low=0.3, threshold=THRESHOLD, attach_low=0.2)
    scores, found = provider(np.array([1]), 3)
    assert found[0].tolist() == [1, 3, 2]  # not raised: no edge of the graph
    assert scores[0].tolist() == pytest.approx([1.0, 0.25, 0.24])
    assert provider.lower == {
        (1, 3): (pytest.approx(0.25), 0.0),
        (1, 2): (pytest.approx(0.24), 0.0),
    }
    assert provider.stats()["verify_checked"] == 0  # checked once the groups are made
    # pairs of two grouped (or two free) images are never checked
    assert provider.attachable({1, 2, 3}) == {} and provider.attachable(set()) == {}
    assert provider.stats()["verify_checked"] == 0
    # one grouped, one free: the crop is confirmed, the other photo is not
    assert provider.attachable({1}) == {(1, 2): pytest.approx(0.24)}
    assert provider.stats()["verify_checked"] == 2 and provider.raised == {}
