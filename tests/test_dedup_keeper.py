"""Dedup keeps the original, not an edited copy: through `imgsearch index` + `imgsearch dedup
--json` on small real libraries, and the rules one by one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from PIL import Image

from cli.main import cli
from search.dedup import DedupImage, choose_keeper


def _dedup(tmp_path: Path, models_dir: Path, photos: Path, *extra: str) -> dict:  # type: ignore[type-arg]
    common = ["--library", str(tmp_path / "lib"), "--model-path", str(models_dir)]
    runner = CliRunner()
    indexed = runner.invoke(cli, [*common, "index", "--no-progress", str(photos)])
    assert indexed.exit_code == 0, indexed.output
    out = runner.invoke(cli, [*common, "dedup", "--no-progress", *extra])
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)


def _group_of(report: dict, name: str) -> dict:  # type: ignore[type-arg]
    for group in report["groups"]:
        names = [Path(group["keeper"]).name] + [Path(m["path"]).name for m in group["members"]]
        if name in names:
            return group
    raise AssertionError(f"{name} is in no group: {report['groups']}")


def _distractors(data_dir: Path, folder: Path) -> None:
    for src in sorted((data_dir / "hymenoptera" / "images" / "train" / "bees").glob("*.jpg"))[:4]:
        shutil.copy(src, folder / src.name)


def test_original_jpeg_with_exif_beats_its_rotated_png_resave(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    # A camera JPEG with EXIF and a copy turned 5 degrees and saved as PNG: the same pixel
    # count, a larger file (PNG). The old rules kept the PNG ("largest file").
    photos = tmp_path / "photos"
    photos.mkdir()
    original = data_dir / "near_duplicates" / "images" / "ukbench00120.jpg"
    shutil.copy(original, photos / "ukbench00120.jpg")
    with Image.open(original) as img:
        assert img.getexif().get(306)  # DateTime: the original has EXIF
        img.rotate(5).save(photos / "turned.png")
    assert (photos / "turned.png").stat().st_size > original.stat().st_size
    _distractors(data_dir, photos)
    report = _dedup(tmp_path, models_dir, photos)
    group = _group_of(report, "turned.png")
    assert Path(group["keeper"]).name == "ukbench00120.jpg", group
    assert "EXIF" in group["reason"]


def test_original_beats_its_screenshot(tmp_path: Path, data_dir: Path, models_dir: Path) -> None:
    # AugLy's screenshot copy: a 4531x2779 PNG with the 1920x1080 photo inside (the old rules
    # kept it: "highest resolution"); the indexer stores the photo's box in image_frames.
    photos = tmp_path / "photos"
    photos.mkdir()
    source = data_dir / "near_duplicates" / "images"
    for name in (
        "augly_dfdc_1.jpg",
        "augly_dfdc_1__overlay_onto_screenshot.png",
        "augly_dfdc_2.jpg",
    ):
        shutil.copy(source / name, photos / name)
    _distractors(data_dir, photos)
    report = _dedup(tmp_path, models_dir, photos)
    group = _group_of(report, "augly_dfdc_1__overlay_onto_screenshot.png")
    assert Path(group["keeper"]).name == "augly_dfdc_1.jpg", group
    assert "frame" in group["reason"]
    # the old order is still there for who wants it
    old = _dedup(tmp_path, models_dir, photos, "--keeper-rules", "resolution,filesize")
    group = _group_of(old, "augly_dfdc_1.jpg")
    assert Path(group["keeper"]).name == "augly_dfdc_1__overlay_onto_screenshot.png"


def test_original_beats_its_turned_copy_on_a_grown_canvas(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    # A photo turned 7 degrees with `expand`: a 538x391 canvas for a 500x333 photo, black
    # corners (no EXIF on either, same format). "Highest resolution" kept the turned copy;
    # the indexer now finds the photo inside the filled corners, so the copy is framed.
    photos = tmp_path / "photos"
    photos.mkdir()
    source = sorted((data_dir / "hymenoptera" / "images" / "val" / "ants").glob("*.jpg"))[0]
    with Image.open(source) as img:
        img.convert("RGB").save(photos / "photo.jpg", quality=92)
        turned = img.convert("RGB").rotate(7, expand=True, resample=Image.Resampling.BICUBIC)
        turned.save(photos / "photo__turned.jpg", quality=92)
    assert turned.width * turned.height > img.width * img.height
    _distractors(data_dir, photos)
    report = _dedup(tmp_path, models_dir, photos)
    group = _group_of(report, "photo__turned.jpg")
    assert Path(group["keeper"]).name == "photo.jpg", group
    assert "frame" in group["reason"]


def test_a_turned_photo_on_filled_corners_is_found_and_a_plain_one_is_not(data_dir: Path) -> None:
    from models.frame import find_content_box

    for source in sorted((data_dir / "hymenoptera" / "images" / "val" / "bees").glob("*.jpg"))[:6]:
        with Image.open(source) as img:
            photo = img.convert("RGB")
        assert find_content_box(photo) is None, source.name
        for angle in (4, 12, 30, -20):
            magenta = (255, 0, 255)  # a fill no photo pixel is near
            turned = photo.rotate(
                angle, expand=True, resample=Image.Resampling.BICUBIC, fillcolor=magenta
            )
            box = find_content_box(turned)
            assert box is not None, (source.name, angle)
            # the box is the turned photo stood upright: no filled corner in it
            inner = np.asarray(box.crop(turned), np.int16)
            fill = (np.abs(inner - np.array(magenta)).max(axis=2) < 60).mean()
            assert fill < 0.001, (source.name, angle, fill)
            upright = box.crop(turned).size
            assert upright[0] > 0.9 * photo.width and upright[1] > 0.9 * photo.height


def test_rules_frame_format_content_resolution() -> None:
    def img(i: int, w: int, h: int, fmt: str, **kw: object) -> DedupImage:
        return DedupImage(i, f"/p/{i}.{fmt.lower()}", 1000 * i, w, h, format=fmt, **kw)  # type: ignore[arg-type]

    jpeg, png = img(1, 1920, 1080, "JPEG"), img(2, 1920, 1080, "PNG")
    keeper, reason = choose_keeper([png, jpeg])
    assert keeper is jpeg and reason.startswith("original format (JPEG: a camera format vs PNG")
    assert choose_keeper([img(3, 1920, 1080, "WEBP"), png])[0].format == "WEBP"
    framed = img(4, 4000, 3000, "JPEG", frame=(0.5, 0.5))  # a 2000x1500 photo in a frame
    assert framed.content_pixels == 3_000_000
    keeper, reason = choose_keeper([framed, jpeg])
    assert keeper is jpeg and reason.startswith("not inside a frame")
    keeper, reason = choose_keeper([framed, jpeg], ("resolution",))
    assert keeper is framed and "2000x1500 in a 4000x3000 frame" in reason
    older = img(5, 1920, 1080, "JPEG", mtime=100.0)
    newer_bigger = img(6, 1920, 1080, "JPEG", mtime=200.0)  # a re-encode at a higher quality
    assert choose_keeper([newer_bigger, older])[0] is older


def test_oldest_of_two_taken_at_one_time_names_the_file_times_that_decided() -> None:
    """Two copies with one EXIF capture time: the file times decide, and the reason said
    "oldest (taken 2005-07-29 14:34:56 vs taken 2005-07-29 14:34:56)", no reason at all."""
    from datetime import datetime

    taken = datetime(2005, 7, 29, 14, 34, 56)
    first = DedupImage(1, "/p/a.jpg", 1000, 640, 480, format="JPEG", exif_datetime=taken, mtime=1e9)
    later = DedupImage(2, "/p/b.jpg", 1000, 640, 480, format="JPEG", exif_datetime=taken, mtime=2e9)
    keeper, reason = choose_keeper([later, first], ("oldest",))
    assert keeper is first
    assert reason == (
        "oldest file (both taken 2005-07-29 14:34:56; modified 2001-09-09 01:46:40 UTC vs "
        "modified 2033-05-18 03:33:20 UTC)"
    )


def test_oldest_of_two_files_written_in_one_second_shows_the_times_that_differ() -> None:
    """Files written within one second (a checkout, a batch copy): the reason read "oldest
    (modified 2026-12-02 01:23:43 UTC vs modified 2026-12-02 01:23:43 UTC)"."""
    first = DedupImage(1, "/p/a.png", 1000, 640, 480, format="PNG", mtime=1e9 + 0.25)
    later = DedupImage(2, "/p/b.png", 1000, 640, 480, format="PNG", mtime=1e9 + 0.5)
    keeper, reason = choose_keeper([later, first], ("oldest",))
    assert keeper is first
    assert reason == (
        "oldest (modified 2001-09-09 01:46:40.250 UTC vs modified 2001-09-09 01:46:40.500 UTC)"
    )
    apart = DedupImage(3, "/p/c.png", 1000, 640, 480, format="PNG", mtime=1e9 + 2)
    assert choose_keeper([apart, first], ("oldest",))[1] == (
        "oldest (modified 2001-09-09 01:46:40 UTC vs modified 2001-09-09 01:46:42 UTC)"
    )


def test_files_changed_since_indexing_are_never_listed_for_deletion(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """A stale report listed a duplicate whose file had since been overwritten with another
    photo (exit 0, only a stderr line): a script deleting the report's duplicates deleted the
    new photo. Changed files are now left out, a changed keeper's group kept by its best file
    left, and the report counts them."""
    photos = tmp_path / "photos"
    photos.mkdir()
    bees = sorted((data_dir / "hymenoptera" / "images" / "val" / "bees").glob("*.jpg"))
    ants = sorted((data_dir / "hymenoptera" / "images" / "val" / "ants").glob("*.jpg"))
    for n, source in enumerate(bees[:2]):
        with Image.open(source) as opened:
            photo = opened.convert("RGB")
        photo.save(photos / f"photo{n}.jpg", quality=95)
        for k in (2, 3):
            small = photo.resize((photo.width * 2 // (k + 1), photo.height * 2 // (k + 1)))
            small.save(photos / f"photo{n}-small{k}.jpg", quality=90)
    common = ["--library", str(tmp_path / "lib"), "--model-path", str(models_dir)]
    runner = CliRunner()
    assert runner.invoke(cli, [*common, "index", "--no-progress", str(photos)]).exit_code == 0
    # since indexing: a copy of photo0 and photo1 itself overwritten with other photos
    shutil.copy(ants[0], photos / "photo0-small2.jpg")
    shutil.copy(ants[1], photos / "photo1.jpg")
    out = runner.invoke(cli, [*common, "dedup", "--no-progress", "--json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    listed = {Path(m["path"]).name for g in report["groups"] for m in g["members"]}
    keepers = {Path(g["keeper"]).name: g for g in report["groups"]}
    assert "photo0-small2.jpg" not in listed and "photo0-small2.jpg" not in keepers
    assert "photo1.jpg" not in listed and "photo1.jpg" not in keepers
    assert keepers["photo0.jpg"]["members"][0]["path"].endswith("photo0-small3.jpg")
    assert "photo1.jpg) has changed since indexing" in keepers["photo1-small2.jpg"]["reason"]
    assert report["stats"]["changed_since_index"] == 2
    assert "2 file(s) changed since indexing were left out" in out.stderr


def test_other_shots_taken_seconds_apart_are_no_duplicates(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """Four views of one object, taken seconds apart (UKBench: EXIF 13:32:59, 13:33:15 ...),
    were grouped as duplicates, `--verify` marking them confirmed: a deleting script lost
    three unique shots. Two different capture times are two exposures, never copies; a copy
    that kept its photo's capture time is still found."""
    photos = tmp_path / "photos"
    photos.mkdir()
    views = sorted((data_dir / "ukbench_subset" / "images").glob("ukbench0000[0-3].jpg"))
    taken = set()
    for view in views:
        shutil.copy(view, photos / view.name)
        with Image.open(view) as opened:
            taken.add(opened.getexif().get_ifd(0x8769).get(0x9003))
    assert len(taken) == len(views) == 4  # four capture times
    with Image.open(views[0]) as opened:
        exif = opened.info["exif"]
        small = opened.resize((opened.width // 2, opened.height // 2))
    small.save(photos / "copy.jpg", quality=85, exif=exif)
    report = _dedup(tmp_path, models_dir, photos, "--verify", "--json")
    (group,) = report["groups"]
    assert Path(group["keeper"]).name == views[0].name
    assert [Path(m["path"]).name for m in group["members"]] == ["copy.jpg"]
    assert report["stats"]["distinct_exposures"] >= 1


def _taken(when: str, fraction: str | None) -> Image.Exif:
    exif = Image.Exif()
    taken = exif.get_ifd(0x8769)
    taken[0x9003] = when  # DateTimeOriginal
    if fraction is not None:
        taken[0x9291] = fraction  # SubSecTimeOriginal
    return exif


def test_a_bursts_shots_within_one_second_are_no_duplicates(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """Two shots of a burst share their capture second (phones take ten a second): they were
    grouped as duplicates, one listed for deletion. SubSecTimeOriginal tells them apart; a
    copy whose editor kept the capture second but dropped the fraction is still a copy."""
    photos = tmp_path / "photos"
    photos.mkdir()
    source = sorted((data_dir / "hymenoptera" / "images" / "val" / "bees").glob("*.jpg"))[1]
    with Image.open(source) as opened:
        photo = opened.convert("RGB")
    w, h = photo.size
    second = photo.crop((3, 2, w, h)).resize((w, h))  # the next shot: moved a little
    photo.save(photos / "burst_1.jpg", quality=92, exif=_taken("2024:05:01 10:20:30", "12"))
    second.save(photos / "burst_2.jpg", quality=92, exif=_taken("2024:05:01 10:20:30", "48"))
    small = photo.resize((w // 2, h // 2))
    small.save(photos / "burst_1_small.jpg", quality=85, exif=_taken("2024:05:01 10:20:30", None))
    _distractors(data_dir, photos)
    report = _dedup(tmp_path, models_dir, photos, "--json")
    group = _group_of(report, "burst_1.jpg")
    assert Path(group["keeper"]).name == "burst_1.jpg", group
    assert [Path(m["path"]).name for m in group["members"]] == ["burst_1_small.jpg"], group
    assert report["stats"]["distinct_exposures"] >= 1
    common = ["--library", str(tmp_path / "lib"), "--model-path", str(models_dir)]
    out = CliRunner().invoke(cli, [*common, "search", "--json", str(photos / "burst_2.jpg")])
    assert out.exit_code == 0, out.output
    hits = {Path(h["path"]).name: h for h in json.loads(out.stdout)["results"]}
    assert hits["burst_1.jpg"]["duplicate"] is False, hits["burst_1.jpg"]
    reason = hits["burst_1.jpg"]["lookalike_reason"]
    assert reason == "another shot (taken 2024-05-01 10:20:30.12, the query 2024-05-01 10:20:30.48)"


def test_a_resave_with_the_same_pixels_is_an_exact_copy(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """A PNG re-save of a JPEG holds its very pixels: `search` and `lookup` call it an exact
    copy ("same pixels, other encoding"), `dedup` said `exact: false` (same bytes only)."""
    photos = tmp_path / "photos"
    photos.mkdir()
    source = sorted((data_dir / "hymenoptera" / "images" / "val" / "bees").glob("*.jpg"))[0]
    shutil.copy(source, photos / "photo.jpg")
    with Image.open(source) as opened:
        opened.convert("RGB").save(photos / "resaved.png")
        small = opened.convert("RGB").resize((opened.width // 2, opened.height // 2))
    small.save(photos / "small.jpg", quality=95)
    report = _dedup(tmp_path, models_dir, photos, "--json")
    group = _group_of(report, "resaved.png")
    exact = {Path(m["path"]).name: m["exact"] for m in group["members"]}
    assert Path(group["keeper"]).name == "photo.jpg"
    assert exact == {"resaved.png": True, "small.jpg": False}, exact
    assert report["stats"]["same_pixels"] == 1
