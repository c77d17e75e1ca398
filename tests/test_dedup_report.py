"""Dedup reports: JSON shape, CSV rows, self-contained HTML, atomic writes, photos untouched."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from search.dedup import (
    CSV_COLUMNS,
    DedupImage,
    csv_rows,
    data_uri,
    file_thumbnails,
    find_duplicates,
    render_html,
    to_json,
    write_csv,
    write_report,
)

T = 0.9


def unit(rows) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def img(i: int, name: str | None = None, w: int = 100, h: int = 100, **kw) -> DedupImage:
    return DedupImage(i, name or f"/photos/{i:05d}.jpg", kw.pop("size", 1000), w, h, **kw)


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture()
def result():
    vectors = unit(np.array([[1, 0, 0], [1, 0.1, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0.05]]))
    images = [
        img(1, "/p/a.jpg", w=300, h=200, sha256="s1"),
        img(2, "/p/a-small.jpg", w=150, h=100, exif_datetime=datetime(2021, 1, 2, 3, 4, 5)),
        img(3, "/q/a.jpg", w=300, h=200, sha256="s1"),
        img(4, '/p/<script>alert("x")</script>.jpg', size=2000),
        img(5, "relative/b.png", size=1000),
    ]
    # the rules of old (resolution first): the keeper a.jpg is not the one with EXIF
    rules = ("resolution", "filesize", "exif", "oldest")
    return find_duplicates(images, vectors, threshold=T, keeper_rules=rules)


def test_json_has_the_promised_shape(result) -> None:
    data = json.loads(json.dumps(to_json(result)))
    assert data["threshold"] == T
    assert len(data["groups"]) == 2
    for g in data["groups"]:
        assert {"keeper", "reason", "members"} <= set(g)
        assert isinstance(g["keeper"], str) and isinstance(g["reason"], str)
        for m in g["members"]:
            assert {"path", "id", "score", "exact"} <= set(m)
            assert m["path"] != g["keeper"] and T <= m["score"] <= 1.0
    first = data["groups"][0]
    assert first["keeper"] == "/p/a.jpg"
    assert [(m["path"], m["exact"], m["score"]) for m in first["members"]] == [
        ("/q/a.jpg", True, 1.0),
        ("/p/a-small.jpg", False, pytest.approx(0.995, abs=1e-3)),
    ]
    assert first["members"][1]["exif_datetime"] == "2021-01-02T03:04:05"


def test_csv_has_one_row_per_duplicate(result) -> None:
    buf = io.StringIO(newline="")
    assert write_csv(result, buf) == 3
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert list(rows[0]) == list(CSV_COLUMNS) and len(rows) == 3
    assert [(r["group"], r["keeper_path"], r["duplicate_path"], r["exact"]) for r in rows] == [
        ("1", "/p/a.jpg", "/q/a.jpg", "yes"),
        ("1", "/p/a.jpg", "/p/a-small.jpg", "no"),
        ("2", '/p/<script>alert("x")</script>.jpg', "relative/b.png", "no"),
    ]
    assert len(list(csv_rows(result))) == result.duplicate_count


def _jpeg(colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 6), colour).save(buf, "JPEG")
    return buf.getvalue()


def test_html_is_self_contained_and_escaped(result, caplog) -> None:
    def thumbnail(image_id: int) -> bytes | None:
        if image_id == 2:
            raise OSError("file vanished")
        return b"not an image" if image_id == 5 else _jpeg((image_id * 40, 0, 0))

    html = render_html(result, thumbnail)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert not re.search(r"<link|@import|url\(|<script[^>]+src|<iframe|<object", html, re.I)
    assert html.count('src="data:image/jpeg;base64,') == 3  # ids 1, 3, 4
    assert html.count("no thumbnail") == 2  # the failing one and the non-image
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    assert 'href="file:///p/a.jpg"' in html and "KEEP" in html and "EXACT" in html
    assert "file vanished" in caplog.text


def test_html_pages_many_groups() -> None:
    n = 240
    vectors = np.zeros((n, n // 2 + 1), np.float32)
    vectors[np.arange(n), np.arange(n) // 2] = 1.0  # 120 pairs of identical vectors
    images = [img(i) for i in range(n)]
    res = find_duplicates(images, vectors, threshold=T)
    assert len(res.groups) == n // 2
    html = render_html(res, lambda i: _jpeg((0, 0, 0)), page_size=50)
    assert (
        html.count('<details class="page"') == 3 and html.count('<details class="page" open') == 1
    )
    assert html.count('loading="lazy"') == n and html.count('class="group"') == n // 2


def test_reports_write_atomically_and_leave_photos_alone(tmp_path: Path, result) -> None:
    photos = []
    for i, colour in enumerate([(200, 10, 10), (200, 10, 10), (10, 10, 200)]):
        p = tmp_path / f"p{i}.png"
        Image.new("RGB", (64, 48), colour).save(p)
        photos.append(p)
    before = {p: (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest()) for p in photos}
    images = [
        DedupImage(i, str(p), p.stat().st_size, 64, 48, hashlib.sha256(p.read_bytes()).hexdigest())
        for i, p in enumerate(photos)
    ]
    res = find_duplicates(images, near=False)
    assert len(res.groups) == 1
    for fmt in ("json", "csv", "html"):
        out = write_report(res, tmp_path / f"report.{fmt}", thumbnail=file_thumbnails(images))
        assert out.stat().st_size > 0
    assert 'src="data:image/jpeg;base64,' in (tmp_path / "report.html").read_text()
    after = {p: (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest()) for p in photos}
    assert after == before
    assert sorted(x.name for x in tmp_path.iterdir()) == sorted(
        [p.name for p in photos] + ["report.csv", "report.html", "report.json"]
    )
    with pytest.raises(ValueError, match="format"):
        write_report(res, tmp_path / "report.txt")


def test_reports_carry_the_copies_of_a_video(tmp_path: Path) -> None:
    facts = {"duration_ms": 9000, "width": 640, "height": 360, "file_size": 5000}
    group = {
        "media": "video",
        "keeper": "/v/a.mp4",
        "reason": "longest",
        "members": [
            {"path": "/v/a.mp4", "id": 1, "keeper": True, **facts},
            {"path": "/v/a_trim.mp4", "id": 2, "keeper": False, "coverage": 1.0}
            | {"score": 0.95, "offset_ms": 2680, "exact": False, **facts, "duration_ms": 6000},
        ],
    }
    res = find_duplicates([], near=False)
    for fmt in ("json", "csv", "html"):
        write_report(res, tmp_path / f"r.{fmt}", video_groups=[group])
    assert json.loads((tmp_path / "r.json").read_text())["video_groups"] == [group]
    (row,) = csv.DictReader((tmp_path / "r.csv").open(newline=""))
    assert (row["media"], row["keeper_path"], row["duplicate_path"]) == (
        "video",
        "/v/a.mp4",
        "/v/a_trim.mp4",
    )
    assert (row["offset_ms"], row["coverage"], row["duplicate_duration_ms"]) == (
        "2680",
        "1.000",
        "6000",
    )
    html = (tmp_path / "r.html").read_text()
    assert 'class="group video-group"' in html and "00:02.6" in html and "00:06.0" in html
    assert "No duplicates found" not in html
    plain = write_report(res, tmp_path / "plain.json")  # no video groups given: no key
    assert "video_groups" not in json.loads(plain.read_text())


def test_html_marks_files_gone_since_indexing(tmp_path: Path) -> None:
    """A keeper deleted (or moved) after the index run: the report said KEEP under its name
    as of any other, and its copy - now the only one - stood as the one to delete."""
    keeper, copy = tmp_path / "original.jpg", tmp_path / "copy.jpg"
    for path in (keeper, copy):
        path.write_bytes(_jpeg((200, 10, 10)))
    images = [img(1, str(keeper), w=300, h=200), img(2, str(copy), w=150, h=100)]
    res = find_duplicates(images, unit([[1, 0], [1, 0.01]]), threshold=T)
    assert res.groups[0].keeper.path == str(keeper)
    assert "FILE MISSING" not in render_html(res)
    keeper.unlink()
    video = {"path": str(tmp_path / "clip.mp4"), "id": 3, "keeper": True, "duration_ms": 9000}
    video |= {"width": 640, "height": 360, "file_size": 5000}
    group = {"media": "video", "keeper": video["path"], "reason": "longest", "members": [video]}
    html = render_html(res, video_groups=[group])
    assert html.count('class="badge gone"') == 1 + 2  # the legend, the photo, the video
    assert 'id="missing-files"><strong>2 files are' in html and "imgsearch index" in html


def test_a_keeper_gone_since_indexing_gives_way_to_its_best_copy_still_there(
    tmp_path: Path,
) -> None:
    """The keeper rules read only what the library stores: a deleted original stayed the
    keeper, and the report suggested deleting its copies - now the picture's only files.
    ``keep_present`` (what `imgsearch dedup` of a library applies) keeps the best file still
    there by the same rules, the gone one listed among the duplicates."""
    from search.dedup import keep_present

    paths = [tmp_path / name for name in ("original.jpg", "big.jpg", "small.jpg")]
    for path in paths[1:]:
        path.write_bytes(_jpeg((200, 10, 10)))
    images = [
        img(1, str(paths[0]), w=300, h=200),
        img(2, str(paths[1]), w=200, h=150),
        img(3, str(paths[2]), w=150, h=100),
    ]
    res = find_duplicates(images, unit([[1, 0], [1, 0.01], [1, 0.02]]), threshold=T)
    assert res.groups[0].keeper.path == str(paths[0])  # by the rules: the most pixels
    kept = keep_present(res, lambda path: not Path(path).exists())
    (group,) = kept.groups
    assert group.keeper.path == str(paths[1]) and "gone since indexing" in group.reason
    assert {m.image.path for m in group.members} == {str(paths[0]), str(paths[2])}
    assert kept.stats["keepers_gone"] == 1
    assert keep_present(res, lambda path: False) is res  # all there: unchanged
    everything_gone = keep_present(res, lambda path: True)
    assert everything_gone.groups[0].keeper.path == str(paths[0])


def test_data_uri_accepts_only_small_images() -> None:
    png = io.BytesIO()
    Image.new("RGB", (4, 4)).save(png, "PNG")
    webp = io.BytesIO()
    Image.new("RGB", (4, 4)).save(webp, "WEBP")
    assert data_uri(png.getvalue()).startswith("data:image/png;base64,")
    assert data_uri(webp.getvalue()).startswith("data:image/webp;base64,")
    assert data_uri(_jpeg((1, 2, 3))).startswith("data:image/jpeg;base64,")
    assert data_uri(b"<svg onload=alert(1)>") is None and data_uri(None) is None
    assert data_uri(b"\xff\xd8\xff" + bytes(300 * 1024)) is None  # too large for the page


def test_a_video_keeper_gone_since_indexing_gives_way_to_its_best_copy_still_there() -> None:
    """``keep_present_videos``: as ``keep_present`` for images, the best video still there
    (longest, then most pixels) keeps the group, the gone one a member seen from it."""
    from search.dedup import VideoFacts, VideoPair, keep_present_videos, video_groups

    facts = {
        1: VideoFacts("/gone/original.mp4", 9000, 640, 360, 900),
        2: VideoFacts("/here/small.mp4", 9000, 320, 180, 300),
        3: VideoFacts("/here/trim.mp4", 5000, 640, 360, 500),
    }
    pairs = [VideoPair(2, 1, 1.0, 1.0, 0, 0.9), VideoPair(3, 1, 1.0, 1.0, 2500, 0.95)]
    (group,) = video_groups(pairs, facts)
    assert group.keeper == 1
    # the reason names the rule that tells the keeper from the runner-up, with both figures
    # (it said "filesize" of a copy at a quarter of the pixels: the trimmed one was shorter)
    assert group.reason == "most pixels (640x360 vs 320x180) (as long: 9.0 s)"
    assert video_groups(pairs[1:], facts)[0].reason == "longest (9.0 s vs 5.0 s)"
    (kept,) = keep_present_videos([group], facts, lambda path: path.startswith("/gone"))
    assert kept.keeper == 2 and "(/gone/original.mp4) is gone since indexing" in kept.reason
    assert [(p.a, p.offset_ms) for p in kept.members] == [(1, 0), (3, 2500)]
    assert keep_present_videos([group], facts, lambda path: False) == [group]
    assert keep_present_videos([group], facts, lambda path: True) == [group]


def test_each_duplicate_says_why_the_keeper_is_kept_over_it() -> None:
    """The group's reason compares the keeper with its runner-up only: a member that lost on
    another rule (here a PNG re-save, behind a downscale) was listed for deletion with a
    reason about someone else. Each member now has its own, in JSON, CSV and HTML."""
    vectors = unit(np.array([[1, 0, 0], [1, 0.05, 0], [1, 0, 0.05]]))
    images = [
        img(1, "/p/photo.jpg", w=1000, h=800, format="JPEG"),
        img(2, "/p/photo-small.jpg", w=500, h=400, format="JPEG"),
        img(3, "/p/photo.png", w=1000, h=800, format="PNG"),
    ]
    result = find_duplicates(images, vectors, threshold=T)
    (group,) = to_json(result)["groups"]
    assert group["keeper"] == "/p/photo.jpg"
    assert group["reason"].startswith("highest resolution")  # over the runner-up, a JPEG
    why = {Path(m["path"]).name: m["reason"] for m in group["members"]}
    assert why["photo.png"].startswith("original format (JPEG")
    assert why["photo-small.jpg"].startswith(
        "highest resolution of the photo (1000x800 vs 500x400)"
    )
    rows = {Path(str(r["duplicate_path"])).name: r["reason"] for r in csv_rows(result)}
    assert rows == why
    page = render_html(result)
    assert "highest resolution of the photo (1000x800 vs 500x400)" in page


def test_a_keeper_chosen_by_file_dates_alone_is_marked_weak() -> None:
    """A same-size greyscale, blurred or watermarked copy that is older than its photo (a
    folder copied back, a backup restored) was kept by its file date, the report as sure of
    it as of any other. Each member now says which rule decided (`decided_by`), and the file
    dates, the file size or the path alone are marked for a person to look at."""
    vectors = unit(np.array([[1, 0, 0], [1, 0.05, 0], [1, 0, 0.05]]))
    images = [
        img(1, "/p/edited.jpg", w=800, h=600, format="JPEG", mtime=1_000.0),
        img(2, "/p/photo.jpg", w=800, h=600, format="JPEG", mtime=2_000.0),
        img(3, "/p/small.jpg", w=400, h=300, format="JPEG", mtime=500.0),
    ]
    result = find_duplicates(images, vectors, threshold=T)
    (group,) = to_json(result)["groups"]
    assert group["keeper"] == "/p/edited.jpg"
    decided = {Path(m["path"]).name: m["decided_by"] for m in group["members"]}
    assert decided == {"photo.jpg": "modified", "small.jpg": "resolution"}
    rows = {Path(str(r["duplicate_path"])).name: r["decided_by"] for r in csv_rows(result)}
    assert rows == decided
    page = render_html(result)
    assert page.count("weak evidence: look before deleting") == 1
