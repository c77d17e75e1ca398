"""Top k with videos in the library: a smaller k shows the first hits of a larger one.

Two ways a smaller k dropped better hits: only the first k videos (by their sampled frames)
had their moment refined, so a video refined at a larger k rose above one shown at a smaller;
and a video's own row (its first frame) took a photo's place among the k image candidates,
then gave way to the video's frame match, so a photo scoring above the videos shown was gone.
The clips are made at test time (PyAV): a slideshow with cuts and its copies (re-encoded,
half size, trimmed, timestamps starting at 5 s), another clip, and photos."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tests.cli_process import run_cli
from tests.video_clips import panning_shots, write_frames

pytest.importorskip("av")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path):  # type: ignore[no-untyped-def]
    """The library (indexed through the CLI) and the query files."""
    from search.settings import Settings

    work = tmp_path_factory.mktemp("top-k")
    col, queries = work / "col", work / "queries"
    col.mkdir()
    queries.mkdir()
    train = data_dir / "hymenoptera" / "images" / "train"
    bees, ants = sorted((train / "bees").glob("*.jpg")), sorted((train / "ants").glob("*.jpg"))
    frames = panning_shots(bees[6:9], (320, 240), 30)  # 9 s, cuts at 3 s and 6 s
    write_frames(col / "cuts.mp4", frames)
    write_frames(col / "cuts_crf40.mp4", frames, crf=40)
    write_frames(col / "cuts_half.mkv", [a[::2, ::2].copy() for a in frames])
    write_frames(col / "cuts_trim.mp4", frames[20:70])
    write_frames(col / "cuts_offset.mkv", frames, first_pts=50)
    write_frames(col / "ants.mp4", panning_shots(ants[10:14], (320, 240), 40))
    for photo in [*bees[:3], *ants[:3], ants[10]]:
        Image.open(photo).convert("RGB").save(col / photo.name)
    Image.fromarray(frames[75]).resize((150, 112)).save(col / "small.jpg")  # flagged tiny
    asked = []
    for n in (15, 75):
        asked.append(queries / f"frame_{n * 100}ms.png")
        Image.fromarray(frames[n]).save(asked[-1])
    asked += bees[20:23]  # photos that are in no video
    args = ["--library", str(work / "lib"), "--model-path", str(models_dir)]
    done = run_cli([*args, "index", "--no-progress", str(col)], work)
    assert done.returncode == 0, done.stderr
    return Settings(library=work / "lib", model_path=(models_dir,)), asked


def _first_k_of_more(settings, query: Path, ks: range) -> None:  # type: ignore[no-untyped-def]
    """``search query -k k`` is the first k hits of ``-k 12`` for every k of ``ks``."""
    from search.query import SearchEngine

    with SearchEngine.open(settings) as engine:
        more = engine.search_image(query, k=12)
        full = [(h.id, h.score) for h in more]
        assert len(full) == 12 and {h.media for h in more} == {"image", "video"}
        for k in ks:
            shown = [(h.id, h.score) for h in engine.search_image(query, k=k)]
            assert shown == full[:k], (query.name, k, shown, full[: k + 1])


def test_a_smaller_k_keeps_the_best_videos_of_a_larger_one(library) -> None:  # type: ignore[no-untyped-def]
    """`search still.png -k 1` showed the trimmed copy at 0.92, `-k 12` the original first at
    0.94; `-k 3` left out a copy that `-k 5` ranked above its 3rd."""
    settings, asked = library
    for query in asked[:2]:
        _first_k_of_more(settings, query, range(1, 6))


def test_a_video_takes_no_photos_place_at_a_smaller_k(library) -> None:  # type: ignore[no-untyped-def]
    """`search bee.jpg -k 1` showed a video at 0.44 where `-k 12` ranked a photo first at
    0.50: the videos' own rows had taken the photo's place among the image candidates."""
    settings, asked = library
    for query in asked[2:]:
        _first_k_of_more(settings, query, range(1, 4))


def test_a_flag_filter_keeps_its_photos_at_a_smaller_k(library) -> None:  # type: ignore[no-untyped-def]
    """`search still.png --flag tiny -k 1` said "no results" where `-k 3` found the tiny
    photo: the videos (which have no quality flags) took the k places, then the filter
    dropped them."""
    from search.query import QualityFilter, SearchEngine

    settings, asked = library
    tiny = QualityFilter.parse("tiny")
    with SearchEngine.open(settings) as engine:
        for k in (1, 2, 12):
            hits = engine.search_image(asked[1], k=k, flags=tiny)
            assert [Path(h.path).name for h in hits] == ["small.jpg"], (k, hits)
