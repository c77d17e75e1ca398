"""The grey-level layout (models.image_layout) and the nomination by rank correlation
(search.descriptor.layout_match), on real photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from models import LAYOUT_BYTES, image_layout, load_image
from search.descriptor import (
    LAYOUT_MATCH,
    layout_correlation,
    layout_correlations,
    layout_matches,
    layout_ranks,
    nominated_layouts,
)


def layout_nominees(query: bytes | None, stored: dict[int, bytes]) -> list[tuple[int, float]]:
    """The engine's nomination of ``stored`` layouts (by position) for a query's layout."""
    return nominated_layouts(layout_correlations(query, stored))


@pytest.fixture(scope="module")
def photos(data_dir: Path) -> list[Image.Image]:
    paths = sorted((data_dir / "hymenoptera" / "images" / "val").rglob("*.jpg"))[:60]
    return [Image.open(p).convert("RGB") for p in paths]


def _sepia(image: Image.Image, inverted: bool = False) -> Image.Image:
    dark, light = ((40, 26, 13), (255, 240, 192))
    if inverted:
        dark, light = light, dark
    toned = ImageOps.colorize(ImageOps.grayscale(image), dark, light)
    return toned.point(lambda i: int(255 * (i / 255) ** 0.7))


def test_a_layout_is_the_whole_picture_in_16_by_16_grey_levels(photos) -> None:
    photo = photos[0]
    layout = image_layout(photo)
    assert len(layout) == LAYOUT_BYTES == 256
    smaller = image_layout(photo.resize((photo.width // 3, photo.height // 3)))
    assert layout_correlation(layout, smaller) > 0.98  # the decode size hardly matters
    assert image_layout(photo.convert("P")) == image_layout(photo.convert("P").convert("RGB"))
    assert len(image_layout(Image.new("RGBA", (5, 3)))) == LAYOUT_BYTES  # tiny, alpha


def test_rank_correlation_ignores_monotone_changes_and_signs_an_inversion() -> None:
    levels = np.random.default_rng(0).integers(0, 256, LAYOUT_BYTES).astype(np.uint8)
    a = levels.tobytes()
    assert layout_correlation(a, (levels // 3 + 40).astype(np.uint8).tobytes()) > 0.99
    assert layout_correlation(a, (255 - levels).tobytes()) < -0.99
    assert layout_correlation(a, bytes(LAYOUT_BYTES)) == 0.0  # uniform: correlates with none
    assert layout_ranks([]).shape == (0, LAYOUT_BYTES)
    rho = np.array([0.2, -0.97, np.nan, 0.9, 0.86])
    assert layout_matches(rho) == [(1, -0.97), (3, 0.9)]  # strongest first, at most two
    assert all(abs(r) >= LAYOUT_MATCH for _, r in layout_matches(rho, limit=5))


def test_a_toned_copy_nominates_its_photo_first(photos, tmp_path: Path) -> None:
    """Sepia and inverted duotone copies (saved as JPEG, read back as a query is): among 60
    photos the original is the first nominee, with the sign of the toning."""
    stored = {n: image_layout(p) for n, p in enumerate(photos)}
    for n in range(0, 60, 6):
        for inverted in (False, True):
            path = tmp_path / f"{n}-{inverted}.jpg"
            _sepia(photos[n], inverted).save(path, quality=80)
            query = image_layout(load_image(path).image)
            nominees = layout_nominees(query, stored)
            assert nominees and nominees[0][0] == n, (n, inverted, nominees)
            assert (nominees[0][1] < 0) == inverted
            others = {m: layout for m, layout in stored.items() if m != n}
            assert all(m != n for m, _ in layout_nominees(query, others))
    assert layout_nominees(None, stored) == [] and layout_nominees(stored[0], {}) == []


def test_the_library_index_finds_a_toned_copys_photo_among_all(photos, tmp_path: Path) -> None:
    """The whole library's layouts (LayoutIndex): the photo of an inverted duotone, however
    far its vector; the query's own image can be left out; an empty library finds none."""
    from search.index import LayoutIndex

    index = LayoutIndex([100 + n for n in range(len(photos))], [image_layout(p) for p in photos])
    path = tmp_path / "duotone.jpg"
    _sepia(photos[17], inverted=True).save(path, quality=80)
    query = image_layout(load_image(path).image)
    assert index.strongest(query, 2)[:1] == [117]
    assert 117 not in index.strongest(query, 2, exclude=117)
    assert index.strongest(image_layout(photos[3]), 1) == [103]  # itself
    assert LayoutIndex([], []).strongest(query, 2) == []


def test_nominated_images_join_the_candidates_of_a_query_in_doubt() -> None:
    """QueryScorer.search: images the local evidence nominates (outside every view's
    candidates) are scored like the others and handed to the local check; a query with a
    sure copy never asks for them."""
    from search.descriptor import (
        Calibration,
        Descriptor,
        DescriptorConfig,
        QueryScorer,
        StoredImage,
    )

    rng = np.random.default_rng(0)
    library = rng.normal(size=(40, 64)).astype(np.float32)
    library /= np.linalg.norm(library, axis=1, keepdims=True)
    config = DescriptorConfig(whiten=False, labels=0.0, expand=0, rotations=1, frames=False)
    descriptor = Descriptor(config, calibration=Calibration(0.0, 0.125, 0.0, 0.125))
    scorer = QueryScorer(
        descriptor,
        lambda rows, k: np.argsort(-(rows @ library.T), axis=1)[:, :k],
        lambda ids: {i: StoredImage(library[i]) for i in ids if i < len(library)},
        candidates=5,
    )
    query = library[30:31] * 0.2 + rng.normal(size=(1, 64)).astype(np.float32)  # in doubt
    query /= np.linalg.norm(query)
    far = int(np.argsort(library @ query[0])[0])  # the least like it: no view's candidate
    checked: list[list[int]] = []

    def check(ids, copy, tiles):  # type: ignore[no-untyped-def]
        checked.append(list(ids))
        out = np.array(copy, np.float32)
        out[list(ids).index(far)] = 0.99  # confirmed by its key points
        return out

    hits = scorer.search(query, k=3, local=check, nominated=lambda own: [far, 999])
    assert far in checked[0] and 999 not in checked[0]  # an id no longer stored is left out
    assert hits[0].id == far
    asked: list[int] = []
    copy = library[11:12] + rng.normal(size=(1, 64)).astype(np.float32) * 0.02  # a sure copy
    copy /= np.linalg.norm(copy)
    sure = scorer.search(copy, k=3, local=check, nominated=lambda own: asked.append(1) or [1])
    assert sure[0].id == 11 and not asked and len(checked) == 1


def test_the_engines_layout_index_is_read_again_when_the_library_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """search.query.library_layouts: one read per library state, not more than once every
    LAYOUT_REFRESH_S while it changes; none for a library over LAYOUT_LIBRARY_MAX."""
    import search.query.library_layouts as library_layouts

    layouts = [bytes(range(256)), bytes(range(255, -1, -1))]
    reads: list[int] = []

    class Records:
        size = 2

        def all_layouts(self, limit: int):  # type: ignore[no-untyped-def]
            reads.append(limit)
            return None if self.size > limit else ([1, 2][: self.size], layouts[: self.size])

    records = Records()
    held = library_layouts.LibraryLayouts(records)  # type: ignore[arg-type]
    first = held.index(generation=5)
    assert first is not None and len(first) == 2 and held.index(5) is first and len(reads) == 1
    records.size = 1
    assert held.index(6) is first and len(reads) == 1  # changed a moment ago: kept
    monkeypatch.setattr(library_layouts, "LAYOUT_REFRESH_S", 0.0)
    assert len(held.index(6)) == 1 and len(reads) == 2  # type: ignore[arg-type]
    monkeypatch.setattr(library_layouts, "LAYOUT_LIBRARY_MAX", 0)
    assert held.index(7) is None


def test_the_library_joins_a_weaker_layout_match_than_it_nominates(photos) -> None:
    """A query whose best layout in the library correlates under LAYOUT_MATCH but from
    LAYOUT_JOINED (a watermarked copy's original: rho 0.74-0.97) is joined to its candidates
    (``at_least=LAYOUT_JOINED``, the engine's library-wide nominees), not nominated."""
    from search.descriptor import LAYOUT_JOINED, LAYOUT_MATCH, layout_correlation
    from search.index import LayoutIndex

    layouts = [image_layout(p) for p in photos]
    index = LayoutIndex([100 + n for n in range(len(photos))], layouts)
    cells = np.frombuffer(layouts[5], np.uint8).astype(np.int16)
    for seed in range(50):  # the photo's levels with noise: rho between the two levels
        noisy = cells + np.random.default_rng(seed).normal(0, 20, cells.shape)
        query = np.clip(noisy, 0, 255).astype(np.uint8).tobytes()
        if LAYOUT_JOINED + 0.01 < layout_correlation(query, layouts[5]) < LAYOUT_MATCH - 0.01:
            break
    else:
        pytest.fail("no noisy layout between the two levels")
    assert 105 not in index.strongest(query, 2)
    assert index.strongest(query, 2, at_least=LAYOUT_JOINED)[:1] == [105]


def test_the_querys_own_image_takes_no_library_nominees_place(photos) -> None:
    """search.query.library_crops.LibraryNominees.by_layout: searching with a library file,
    its own stored layout (the query's, rho 1) is not one of the LAYOUT_NOMINATED joined;
    the next best layout takes its place."""
    from search.descriptor import LAYOUT_NOMINATED
    from search.index import LayoutIndex
    from search.query.library_crops import LibraryNominees

    grey = ImageOps.grayscale(photos[5]).convert("RGB")
    stored = [photos[5], grey, photos[6], photos[7]]  # the file itself, its greyscale copy, ...
    index = LayoutIndex([10, 11, 12, 13], [image_layout(p) for p in stored])
    nominees = LibraryNominees(records=None)  # type: ignore[arg-type]
    nominees.layouts.index = lambda generation: index  # type: ignore[method-assign]
    query = image_layout(photos[5])
    assert LAYOUT_NOMINATED == 2 and nominees.by_layout(query, 1)[:1] == [10]
    assert nominees.by_layout(query, 1, own={10})[:1] == [11]
    assert 10 not in nominees.by_layout(query, 1, own={10})
