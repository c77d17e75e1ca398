"""Videos through the CLI as a user runs it: `index` takes video files (frames with timestamps,
bad ones recorded with a reason, incremental), `search STILL` finds the video at the still's
moment (`clip.mp4 @ 00:03.2`, `media`/`timestamp_ms` in the JSON), `search CLIP` ranks
videos, `dedup` groups copies of a video, `embed --running-mode video` prints frames.

The videos are made at test time from the shared photos (PyAV, H.264)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.cli_process import run_cli
from tests.video_clips import write_slideshow

av = pytest.importorskip("av")

from search.descriptor import DUPLICATE_Z  # noqa: E402
from search.evaluation import make_video_set, take_stills  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def video_lib(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path):  # type: ignore[no-untyped-def]
    """A collection of 2 slideshows, their copies, one unrelated clip, 6 photos and two bad
    videos, indexed through the CLI."""
    work = tmp_path_factory.mktemp("videos")
    photos = sorted((data_dir / "hymenoptera" / "images").rglob("*.jpg"))
    made = make_video_set(
        photos, work / "col", videos=2, unrelated=1, shots=2, shot_s=2.0, size=(480, 272), seed=3
    )
    for photo in photos[-6:]:
        shutil.copy(photo, work / "col" / photo.name)
    original = (work / "col" / made.originals[0]).read_bytes()
    (work / "col" / "truncated.mp4").write_bytes(original[: len(original) // 3])
    (work / "col" / "garbage.mkv").write_bytes(b"\x1a\x45\xdf\xa3" + b"not a video" * 50)
    damaged = bytearray(original)  # garbage in the middle of its frames, the size kept
    middle = len(damaged) // 2
    damaged[middle : middle + 20000] = np.random.default_rng(0).bytes(20000)
    (work / "col" / "damaged.mp4").write_bytes(bytes(damaged))
    write_slideshow(photos[:3], work / "whole.mkv", (160, 120), hold=20)
    whole = (work / "whole.mkv").read_bytes()  # its first half plays: it was indexed as whole
    (work / "col" / "truncated.mkv").write_bytes(whole[: len(whole) // 2])
    args = ["--library", str(work / "lib"), "--model-path", str(models_dir)]
    indexed = run_cli([*args, "index", str(work / "col"), "--json"], work)
    assert indexed.returncode == 0, indexed.stderr
    return work, args, made, json.loads(indexed.stdout)


def search_json(work: Path, args: list[str], query: Path, k: int = 3) -> list[dict]:
    done = run_cli([*args, "search", str(query), "-k", str(k), "--json"], work)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["results"]


def test_index_records_videos_and_bad_ones_with_reasons(video_lib) -> None:  # type: ignore[no-untyped-def]
    _work, _args, made, summary = video_lib
    videos = len(made.originals) + len(made.copies) + len(made.unrelated)
    assert summary["added"] == videos + 6
    failures = {Path(f["path"]).name: f["error"] for f in summary["failures"]}
    reasons = {name: error.split(":")[0] for name, error in failures.items()}
    # told from the container: a file cut short (whatever part of it plays) is truncated, one
    # damaged in the middle corrupt, and FFmpeg's error numbers are not shown
    assert reasons == {
        "truncated.mp4": "truncated_video",
        "truncated.mkv": "truncated_video",
        "damaged.mp4": "corrupt_video",
        "garbage.mkv": "not_a_video",
    }, failures
    assert not any("Errno" in error for error in failures.values()), failures


def test_a_still_from_any_frame_finds_the_video_at_its_moment(video_lib) -> None:  # type: ignore[no-untyped-def]
    work, args, made, _summary = video_lib
    originals = [made.folder / name for name in made.originals]
    stills = take_stills(originals, work / "stills", 4, seed=5)
    for still, video, truth_ms in stills:
        # the library also holds the video's copies (re-encoded, small, trimmed): they come
        # first with it, the original at the still's moment
        group = {video.name} | {
            Path(c).name for c, (o, _ms) in made.copies.items() if o == video.name
        }
        results = search_json(work, args, still, k=4)
        assert Path(results[0]["path"]).name in group
        hit = next(r for r in results if Path(r["path"]).name == video.name)
        assert hit["media"] == "video"
        assert abs(hit["timestamp_ms"] - truth_ms) <= 1000, (still, hit["timestamp_ms"])
    text = run_cli([*args, "search", str(stills[0][0]), "-k", "2"], work)
    assert f"{stills[0][1].name} @ 00:0" in text.stdout


def test_a_videos_moment_is_refined_once_for_every_query_that_meets_it(
    video_lib, data_dir: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """Each query refines the moment of the library's best videos by decoding stills around
    their best sampled frame: an audit's image pages took 0.6-0.9 s at every view in a library
    of 111 photos and 5 videos, the same stills decoded and embedded again each time. The
    stills of a window are kept: a later query meeting the same frame decodes nothing, and
    finds the same moment and score."""
    import search.query.video_frames as frames
    from search.query import SearchEngine
    from search.settings import Settings

    work, _args, made, _summary = video_lib
    decoded: list[int] = []
    real = frames.VideoFrames._window

    def counted(self, live, analyzer, match, path):  # type: ignore[no-untyped-def]
        decoded.append(match.video_id)
        return real(self, live, analyzer, match, path)

    monkeypatch.setattr(frames.VideoFrames, "_window", counted)
    still, original, truth_ms = take_stills(
        [made.folder / made.originals[0]], work / "stills-refined", 1, seed=11
    )[0]
    unrelated = sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[0]
    with SearchEngine.open(Settings(library=work / "lib", model_path=(models_dir,))) as engine:
        first = engine.search_image(still, k=5)
        assert decoded, "no video was refined"
        once = len(decoded)
        again = engine.search_image(still, k=5)
        assert len(decoded) == once  # every window met before: nothing decoded
        engine.search_image(unrelated, k=5)
        met = len(decoded)
        engine.search_image(unrelated, k=5)
        assert len(decoded) == met
    assert [(h.path, h.score, h.timestamp_ms) for h in again] == [
        (h.path, h.score, h.timestamp_ms) for h in first
    ]
    hit = next(h for h in first if h.path.endswith(original.name))
    assert hit.timestamp_ms is not None and abs(hit.timestamp_ms - truth_ms) <= 1000


def test_images_are_tagged_as_images(video_lib, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    work, args, _made, _summary = video_lib
    photo = sorted((data_dir / "hymenoptera" / "images").rglob("*.jpg"))[-1]
    results = search_json(work, args, photo)
    assert results[0]["media"] == "image" and "timestamp_ms" not in results[0]
    assert results[0]["exact"] is True


def test_search_by_clip_ranks_the_video_it_was_cut_from(video_lib) -> None:  # type: ignore[no-untyped-def]
    work, args, made, _summary = video_lib
    trimmed = next(c for c, (o, _ms) in made.copies.items() if c.endswith("_trim.mp4"))
    original, offset = made.copies[trimmed]
    results = search_json(work, args, made.folder / trimmed, k=5)
    names = [Path(r["path"]).name for r in results]
    assert names[0] in (Path(trimmed).name, original)
    hit = next(r for r in results if Path(r["path"]).name == original)
    assert hit["media"] == "video" and abs(hit["timestamp_ms"] - offset) <= 1000


def test_lookup_with_a_trimmed_copy_finds_the_original_and_its_copies(video_lib) -> None:  # type: ignore[no-untyped-def]
    work, args, made, _summary = video_lib
    trimmed = next(c for c in made.copies if c.endswith("_trim.mp4"))
    original, offset = made.copies[trimmed]
    done = run_cli([*args, "lookup", str(made.folder / trimmed), "--json"], work)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["query"]["media"] == "video"
    # no --threshold: the library's calibrated decision (lookup handed the threshold it shows
    # on as if the user had given it, so a video query never used the calibration)
    assert answer["z_threshold"] == DUPLICATE_Z
    by_name = {Path(r["path"]).name: r for r in answer["results"]}
    assert by_name[Path(trimmed).name]["match"] == "exact"
    family = {Path(c).name for c, (o, _ms) in made.copies.items() if o == original}
    near = {name for name, r in by_name.items() if r["match"] == "near"}
    assert near == (family | {original}) - {Path(trimmed).name}
    assert abs(by_name[original]["timestamp_ms"] - offset) <= 1000
    assert all(r["match"] == "similar" for n, r in by_name.items() if n not in family | {original})


def test_a_pair_of_videos_scores_the_same_in_search_similar_and_lookup(video_lib) -> None:  # type: ignore[no-untyped-def]
    """Searching with a library video's file, `similar` of its id and `lookup` of its file
    give each other video one score (they gave three: 0.888 / 0.979 / 0.922 for a re-encode),
    the same either way round, and the video itself is first, exact, at 1.0 (it scored
    0.916)."""
    work, args, made, _summary = video_lib
    video = made.folder / made.originals[0]
    searched = search_json(work, args, video, k=8)
    assert Path(searched[0]["path"]) == video and searched[0]["exact"]
    assert searched[0]["score"] == 1.0
    video_id = searched[0]["id"]
    done = run_cli([*args, "similar", str(video_id), "-k", "7", "--json"], work)
    assert done.returncode == 0, done.stderr
    similar = {r["id"]: r["score"] for r in json.loads(done.stdout)["results"]}
    looked = run_cli([*args, "lookup", str(video), "--others", "7", "--json"], work)
    assert looked.returncode == 0, looked.stderr
    lookup = {r["id"]: r for r in json.loads(looked.stdout)["results"]}
    copies = {Path(c).name for c, (o, _ms) in made.copies.items() if o == made.originals[0]}
    for hit in searched[1:]:
        assert similar[hit["id"]] == pytest.approx(hit["score"], abs=1e-4), hit["path"]
        assert lookup[hit["id"]]["copy_score"] == pytest.approx(hit["score"], abs=1e-4)
        assert hit["duplicate"] == (Path(hit["path"]).name in copies), hit
        assert lookup[hit["id"]]["duplicate"] == hit["duplicate"]
    copy = next(hit for hit in searched if Path(hit["path"]).name in copies)
    back = search_json(work, args, Path(copy["path"]), k=8)  # the pair the other way round
    assert next(h for h in back if h["id"] == video_id)["score"] == copy["score"]
    # the video rule decides, not one copy score: the headings say so (a video scoring above
    # the copy score's threshold sat under "not duplicates: z < 6")
    text = run_cli([*args, "lookup", str(video)], work).stdout
    assert "Copies (their frames found in order" in text and "not duplicates" not in text


def test_lookup_of_a_videos_id_whose_file_is_gone_uses_its_stored_frames(video_lib) -> None:  # type: ignore[no-untyped-def]
    """`lookup ID` of a video whose file was moved away since indexing answers from its
    stored frames (nothing decoded), with the same copies as the lookup of its file had,
    and says the file is missing."""
    work, args, made, _summary = video_lib
    video = made.folder / made.originals[1]
    looked = run_cli([*args, "lookup", str(video), "--json"], work)
    assert looked.returncode == 0, looked.stderr
    with_file = json.loads(looked.stdout)["results"]
    video_id = next(r["id"] for r in with_file if Path(r["path"]) == video)
    away = work / "away.mp4"
    video.rename(away)
    try:
        done = run_cli([*args, "lookup", str(video_id), "--json"], work)
    finally:
        away.rename(video)
    assert done.returncode == 0, done.stderr
    assert "no longer on disk" in done.stderr
    body = json.loads(done.stdout)
    assert body["file_missing"] is True and body["query"]["media"] == "video"
    copies = [(r["id"], r["match"]) for r in with_file if r["duplicate"] and r["id"] != video_id]
    assert copies and [(r["id"], r["match"]) for r in body["results"] if r["duplicate"]] == copies


def test_dedup_groups_copies_of_a_video(video_lib) -> None:  # type: ignore[no-untyped-def]
    work, args, made, _summary = video_lib
    done = run_cli([*args, "dedup", "--format", "json", "--no-progress"], work)
    assert done.returncode == 0, done.stderr
    groups = json.loads(done.stdout)["video_groups"]
    found = {
        frozenset(str(Path(m["path"]).relative_to(made.folder)) for m in g["members"])
        for g in groups
    }
    truth = {}
    for copy, (original, _ms) in made.copies.items():
        truth.setdefault(original, {original}).add(copy)
    assert found == {frozenset(v) for v in truth.values()}
    assert all(Path(g["keeper"]).name in made.originals for g in groups)


def test_csv_and_html_reports_list_the_copies_of_a_video(video_lib) -> None:  # type: ignore[no-untyped-def]
    work, args, made, _summary = video_lib
    reports = {fmt: work / "reports" / f"dedup.{fmt}" for fmt in ("csv", "html")}
    for path in reports.values():
        done = run_cli([*args, "dedup", "--output", str(path), "--no-progress"], work)
        assert done.returncode == 0, done.stderr
        assert "group(s) of copies of a video" in done.stderr
    copies = {str(made.folder / c) for c in made.copies}
    rows = list(csv.DictReader(reports["csv"].open(newline="")))
    videos = [r for r in rows if r["media"] == "video"]
    assert {r["duplicate_path"] for r in videos} == copies
    originals = {str(made.folder / o) for o, _ms in made.copies.values()}
    assert {r["keeper_path"] for r in videos} == originals
    trimmed = next(r for r in videos if r["duplicate_path"].endswith("_trim.mp4"))
    trim_name = str(Path(trimmed["duplicate_path"]).relative_to(made.folder))
    offset = made.copies[trim_name][1]
    assert abs(int(trimmed["offset_ms"]) - offset) <= 1000 and float(trimmed["coverage"]) >= 0.8
    assert int(trimmed["duplicate_duration_ms"]) < int(trimmed["keeper_duration_ms"])
    html = reports["html"].read_text()
    assert html.count('class="group video-group"') == len(made.originals)
    assert all(f'data-path="{path}"' in html for path in copies | originals)
    assert html.count('<img src="data:image/jpeg;base64,') >= len(copies | originals)


def test_labels_find_videos_by_their_frames_classes(video_lib) -> None:  # type: ignore[no-untyped-def]
    work, args, made, _summary = video_lib
    clip = made.folder / made.originals[0]
    found = search_json(work, args, clip, k=3)
    hit = next(r for r in found if Path(r["path"]) == clip)
    assert hit["labels"], hit  # the classifier's labels of its sampled frames, best first
    top = hit["labels"][0]["name"]
    done = run_cli([*args, "labels", top, "--json"], work)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)["results"]
    mine = next(r for r in results if Path(r["path"]) == clip)
    assert mine["media"] == "video" and mine["score"] == pytest.approx(
        hit["labels"][0]["score"], abs=1e-3
    )


def test_index_is_incremental_for_videos(video_lib) -> None:  # type: ignore[no-untyped-def]
    work, args, made, _summary = video_lib
    again = json.loads(run_cli([*args, "index", str(work / "col"), "--json"], work).stdout)
    assert (again["added"], again["updated"], again["moved"]) == (0, 0, 0)
    moved = made.folder / "moved_unrelated.mp4"
    (made.folder / made.unrelated[0]).rename(moved)
    after = json.loads(run_cli([*args, "index", str(work / "col"), "--json"], work).stdout)
    assert (after["moved"], after["added"], after["removed"]) == (1, 0, 0)
    moved.rename(made.folder / made.unrelated[0])


def test_embed_running_mode_video_prints_frames(video_lib) -> None:  # type: ignore[no-untyped-def]
    work, args, made, _summary = video_lib
    clip = made.folder / made.originals[0]
    done = run_cli([*args, "embed", str(clip), "--running-mode", "video", "--json"], work)
    assert done.returncode == 0, done.stderr
    frames = json.loads(done.stdout)["embeddings"]
    times = [f["timestamp_ms"] for f in frames]
    assert times == sorted(times) and len(times) >= 2 and times[0] == 0
    assert len(frames[0]["embedding"]) > 100


def test_embed_of_a_video_without_running_mode_names_the_option(video_lib) -> None:  # type: ignore[no-untyped-def]
    work, args, made, _summary = video_lib
    clip = made.folder / made.originals[0]
    done = run_cli([*args, "embed", str(clip)], work)
    assert done.returncode == 1
    assert "--running-mode video" in done.stdout + done.stderr
    assert f"{clip}: {clip}" not in done.stdout  # the path is said once
    assert "Traceback" not in done.stderr
    # a text file named like a video is no video: no advice to embed it as one
    notes = work / "notes.mp4"
    notes.write_text("not a clip")
    done = run_cli([*args, "embed", str(notes)], work)
    assert done.returncode == 1 and "not an image" in done.stdout, done.stdout
    assert "--running-mode video" not in done.stdout + done.stderr, done.stdout


def test_api_answers_with_the_moment_serves_its_frame_and_plays_from_it(
    video_lib, models_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    from search.settings import Settings
    from web.app import create_app

    work, _args, made, _summary = video_lib
    still, video, truth_ms = take_stills([made.folder / made.originals[1]], work / "api", 1, 7)[0]
    app = create_app(Settings(library=work / "lib", model_path=(models_dir,)))
    try:
        client = app.test_client()
        with still.open("rb") as handle:
            answer = client.post("/api/v1/search", data={"image": (handle, "still.jpg"), "k": "4"})
        assert answer.status_code == 200, answer.get_data(as_text=True)
        results = answer.get_json()["results"]
        hit = next(r for r in results if Path(r["path"]).name == video.name)
        assert hit["media"] == "video" and abs(hit["timestamp_ms"] - truth_ms) <= 1000
        frame = client.get(f"{hit['thumbnail_url']}?t={hit['timestamp_ms']}")
        assert frame.status_code == 200 and frame.data[:2] == b"\xff\xd8"
        part = client.get(hit["file_url"], headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and len(part.data) == 100
        assert part.headers["Content-Type"] == "video/mp4"
        page = client.post("/search", data={"image": (still.open("rb"), "still.jpg")})
        assert b'<video class="clip"' in page.data
    finally:
        app.extensions["imgsearch"].close()
