"""Why a video query found nothing, said truly and alike in the CLI's text and JSON and in the
API: a filter that emptied it (a quality flag: videos have none; a minimum score) was
explained as "a video query is compared with the library's videos only, not its photos" in
a library full of videos; in a library without videos `search clip --json` said nothing; and
`lookup clip --threshold` called copies whose frames match in order, under the threshold,
"not copies: their frames do not match in order"."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from search.query import QualityFilter, empty_clip_note
from tests.cli_process import run_cli
from tests.video_clips import panning_shots, write_frames

PHOTOS_ONLY = "compared with the library's videos and animations only, not with its photos"


def test_the_note_names_what_emptied_a_video_querys_results() -> None:
    """No video: the library's doing; a flag asked for or a minimum score: the filter's."""
    dark = QualityFilter.parse("dark")
    assert PHOTOS_ONLY in str(empty_clip_note(0, 0.99, dark, query="clip.mp4"))
    flagged = str(empty_clip_note(7, None, dark))
    assert flagged.startswith("no results: --flag dark keeps none of the library's 7 videos")
    scored = str(empty_clip_note(7, 0.99, None, names=("min_score", "flag")))
    assert scored == "no results: none of the library's 7 videos and animations scores at " + (
        "least min_score 0.99"
    )
    assert empty_clip_note(7, None, QualityFilter.parse(None, "dark")) is None  # they pass it


@pytest.fixture(scope="module")
def libraries(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path):  # type: ignore[no-untyped-def]
    """A library of a clip and its copies and photos, one of photos only, and the query: a
    trim of the clip from 3 s."""
    pytest.importorskip("av")
    work = tmp_path_factory.mktemp("clip-notes")
    bees = sorted((data_dir / "hymenoptera" / "images" / "train" / "bees").glob("*.jpg"))
    frames = panning_shots(bees[6:9], (320, 240), 30)
    for folder in ("videos", "photos"):
        (work / folder).mkdir()
        for photo in bees[:3]:
            shutil.copy(photo, work / folder / photo.name)
    write_frames(work / "videos" / "clip.mp4", frames)
    write_frames(work / "videos" / "clip_crf35.mp4", frames, crf=35)
    write_frames(work / "videos" / "clip.mkv", frames, first_pts=50)
    write_frames(work / "trim.mp4", frames[30:80])
    for folder in ("videos", "photos"):
        args = ["--library", str(work / f"{folder}-lib"), "--model-path", str(models_dir)]
        done = run_cli([*args, "index", "--no-progress", folder], work)
        assert done.returncode == 0, done.stderr
    return work


def _cli(work: Path, library: str, *command: str) -> str:
    done = run_cli(["--library", str(work / f"{library}-lib"), *command], work)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
def test_a_video_query_emptied_by_a_filter_says_so(libraries) -> None:  # type: ignore[no-untyped-def]
    work = libraries
    said = _cli(work, "videos", "search", "trim.mp4", "--min-score", "0.99")
    assert said.startswith("no results: none of the library's 3 videos and animations scores")
    assert "--min-score 0.99" in said and "photos" not in said, said
    said = json.loads(_cli(work, "videos", "search", "trim.mp4", "--flag", "dark", "--json"))
    assert said["results"] == [] and said["note"].startswith("no results: --flag dark keeps")
    said = json.loads(_cli(work, "photos", "search", "trim.mp4", "--json"))
    assert said["results"] == [] and PHOTOS_ONLY in said["note"], said
    said = json.loads(
        _cli(work, "videos", "similar", "videos/clip.mp4", "--flag", "dark", "--json")
    )
    assert said["note"].startswith("no results: --flag dark keeps none of the library's 2 other")


@pytest.mark.slow
def test_the_api_says_which_filter_emptied_a_video_query(libraries, models_dir: Path) -> None:  # type: ignore[no-untyped-def]
    from search.settings import Settings
    from web.app import create_app

    work = libraries
    clip = (work / "trim.mp4").read_bytes()
    for library, form, said in (
        ("videos", {"flag": "dark"}, "No results: flag dark keeps none of the library's 3 "),
        ("videos", {"min_score": "0.99"}, "No results: none of the library's 3 videos"),
        ("photos", {}, "No results: the uploaded file is a video"),
    ):
        app = create_app(Settings(library=work / f"{library}-lib", model_path=(models_dir,)))
        try:
            form = {**form, "image": (io.BytesIO(clip), "trim.mp4")}
            body = app.test_client().post("/api/v1/search", data=form).get_json()
        finally:
            app.extensions["imgsearch"].close()
        assert body["results"] == [] and body["note"].startswith(said), (form, body)
        assert (PHOTOS_ONLY in body["note"]) == (library == "photos"), body


@pytest.mark.slow
def test_a_lookup_under_a_threshold_says_the_frames_match_in_order(libraries) -> None:  # type: ignore[no-untyped-def]
    work = libraries
    looked = json.loads(_cli(work, "videos", "lookup", "trim.mp4", "--threshold", "0.99", "--json"))
    others = [r for r in looked["results"] if r["match"] == "similar"]
    assert len(others) == 3, looked
    for row in others:
        assert "found in order" in row["evidence"], row
        assert "under the threshold 0.99" in row["evidence"], row
    said = _cli(work, "videos", "lookup", "trim.mp4", "--threshold", "0.99")
    assert "not copies: their frames do not match in order at copy score >= 0.99" in said
    assert json.loads(_cli(work, "videos", "lookup", "trim.mp4", "--json"))["counts"]["near"] == 3
