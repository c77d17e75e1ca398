"""Dedup: a member goes with the image it is most like, not with the first keeper over the
threshold (search.dedup.stars; an audit found edits of UKBench photos grouped under another
photo of the same object that came first in keeper order)."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from search.dedup import DedupImage, find_duplicates

T = 0.9


def in_plane(degrees: list[float]) -> np.ndarray:
    rad = np.deg2rad(np.asarray(degrees, dtype=np.float64))
    v = np.zeros((len(degrees), 4), dtype=np.float32)
    v[:, 0], v[:, 1] = np.cos(rad), np.sin(rad)
    return v


def img(i: int, name: str, width: int, **kw) -> DedupImage:
    return DedupImage(i, f"/photos/{name}.jpg", 1000, width, width, **kw)


def groups(result) -> dict[str, set[str]]:
    name = lambda im: im.path.rsplit("/", 1)[1][:-4]  # noqa: E731
    return {name(g.keeper): {name(m.image) for m in g.members} for g in result.groups}


# A (another photo, first in keeper order) at 0 degrees, its own copy A2 at -10; the copy C at
# 23 (0.92 to A: over the threshold) and its original O at 31 (0.99 to C, 0.86 to A: no edge).
ANGLES = {"a": 0.0, "a2": -10.0, "c": 23.0, "o": 31.1}


@pytest.mark.parametrize("linkage", ["star", "complete"])
@pytest.mark.parametrize(
    "order",
    [("a", "o", "c", "a2"), ("a", "c", "o", "a2")],
    ids=["original-before-copy", "copy-before-original"],
)
def test_copy_goes_with_its_original_not_the_first_keeper(order, linkage) -> None:
    widths = dict(zip(order, (400, 300, 200, 100), strict=True))  # resolution decides
    names = list(ANGLES)
    images = [img(i, n, widths[n]) for i, n in enumerate(names)]
    vectors = in_plane([ANGLES[n] for n in names])
    result = find_duplicates(images, vectors, threshold=T, linkage=linkage)
    first = min(("c", "o"), key=lambda n: -widths[n])  # the better of the copy and original
    second = "o" if first == "c" else "c"
    assert groups(result) == {"a": {"a2"}, first: {second}}  # before: {"a": {"a2", "c"}}
    for g in result.groups:
        for m in g.members:
            assert m.score >= T
            assert m.score == pytest.approx(float(vectors[g.keeper.id] @ vectors[m.image.id]))


def test_a_keeper_with_nothing_else_keeps_the_copy() -> None:
    # without A2 nothing else would be A's: it keeps C (as before) rather than stay alone
    names = ["a", "c", "o"]
    images = [img(i, n, w) for i, (n, w) in enumerate(zip(names, (400, 200, 300), strict=True))]
    result = find_duplicates(images, in_plane([ANGLES[n] for n in names]), threshold=T)
    assert groups(result) == {"a": {"c"}}


def test_another_exposure_does_not_keep_the_copy_of_the_later_photo() -> None:
    # the audit's case: A and O are two shots of one object (EXIF times 40 s apart: their edge
    # is refused), C a JPEG copy of O, 0.92 to A but 0.99 to O; A comes first (older shot)
    c = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    a = np.array([0.92, np.sqrt(1 - 0.92**2), 0.0], dtype=np.float32)
    o = np.array([0.99, 0.0, np.sqrt(1 - 0.99**2)], dtype=np.float32)
    images = [
        img(0, "a", 640, exif_datetime=datetime(2005, 7, 29, 13, 40, 11)),
        img(1, "c", 640),
        img(2, "o", 640, exif_datetime=datetime(2005, 7, 29, 13, 40, 51)),
    ]
    result = find_duplicates(images, np.stack([a, c, o]), threshold=T)
    assert groups(result) == {"o": {"c"}}  # before: {"a": {"c"}}, O in no group
    assert result.groups[0].members[0].score == pytest.approx(0.99, abs=1e-4)


# A new user's library: a photo, its captioned copy (0.94), its JPEG at quality 30 (0.887) and
# a third-size PNG of it (0.92 to the JPEG, under the threshold to the photo); threshold 0.84.
DEGRADED = {"photo": 0.0, "caption": -19.95, "q30": 27.5, "small": 50.6}


@pytest.mark.parametrize("checked", [True, False])
def test_a_copy_most_like_another_copy_stays_with_its_photo_when_a_check_says_so(
    checked: bool,
) -> None:
    """The JPEG is most like the small PNG, which has no edge to the photo: it was left to
    the PNG, and the report kept the photo and the JPEG apart, two keepers of one picture
    (a pair over the threshold). Where the library's check (layouts, key points) finds the
    photo and the PNG one picture, the JPEG stays; without a check, as before."""
    names = list(DEGRADED)
    images = [
        img(i, n, w) for i, (n, w) in enumerate(zip(names, (400, 300, 200, 100), strict=True))
    ]
    vectors = in_plane([DEGRADED[n] for n in names])
    asked: list[tuple[str, str]] = []

    def holds(a: int, b: int) -> bool:
        asked.append((names[a], names[b]))
        return True

    result = find_duplicates(images, vectors, threshold=0.84, holds=holds if checked else None)
    if checked:
        assert groups(result) == {"photo": {"caption", "q30"}}
        assert ("photo", "small") in asked
    else:
        assert groups(result) == {"photo": {"caption"}, "q30": {"small"}}
