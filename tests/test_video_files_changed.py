"""A video's file gone or changed since it was indexed: `dedup` hands its group to the best
copy still there, and `/images/ID/file` refuses to serve other bytes (409)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_process import run_cli

av = pytest.importorskip("av")

pytestmark = pytest.mark.slow


def _indexed_video(tmp_path: Path, data_dir: Path, models_dir: Path):  # type: ignore[no-untyped-def]
    """One slideshow and its copies in ``tmp_path/col``, indexed into ``tmp_path/lib``
    through the CLI: the video set and the CLI's library arguments."""
    from search.evaluation import make_video_set

    photos = sorted((data_dir / "hymenoptera" / "images").rglob("*.jpg"))
    made = make_video_set(
        photos, tmp_path / "col", videos=1, unrelated=0, shots=2, shot_s=2.0, size=(320, 192)
    )
    args = ["--library", str(tmp_path / "lib"), "--model-path", str(models_dir)]
    indexed = run_cli([*args, "index", "--no-progress", str(tmp_path / "col")], tmp_path)
    assert indexed.returncode == 0, indexed.stderr
    return made, args


def test_a_video_keeper_gone_since_indexing_gives_way_to_its_best_copy(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """The original of a video deleted after the index run stayed its group's keeper (the
    HTML report marked it gone and still suggested deleting every copy - now the only files),
    and the stderr warning counted only the files of image groups: the best copy still there
    now keeps the group, as for images, and the warning counts the gone video."""
    made, args = _indexed_video(tmp_path, data_dir, models_dir)
    original = made.folder / made.originals[0]
    original.unlink()
    best = made.folder / next(c for c in made.copies if c.endswith("_reencode.mp4"))
    report = tmp_path / "dedup.html"
    for out in (["--format", "json"], ["--output", str(report)]):
        done = run_cli([*args, "dedup", "--no-progress", *out], tmp_path)
        assert done.returncode == 0, done.stderr
        assert "warning: 1 file(s) of these groups are no longer as indexed" in done.stderr
    (group,) = json.loads(run_cli([*args, "dedup", "--json"], tmp_path).stdout)["video_groups"]
    assert group["keeper"] == str(best) and "gone since indexing" in group["reason"], group
    keepers = [m["path"] for m in group["members"] if m["keeper"]]
    assert keepers == [str(best)] and str(original) in {m["path"] for m in group["members"]}
    html = report.read_text()
    assert f'<figure class="keeper" data-path="{best}">' in html, html
    assert f'<figure class="copy" data-path="{original}">' in html


def test_a_video_file_changed_since_indexing_is_not_served(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """`/images/ID/file` of a video whose file changed since it was indexed served the new
    bytes as video (an image's file replaced is a 409 `file_changed`): a video's is too."""
    from search.settings import Settings
    from web.app import create_app

    made, _args = _indexed_video(tmp_path, data_dir, models_dir)
    video = made.folder / made.originals[0]
    app = create_app(Settings(library=tmp_path / "lib", model_path=(models_dir,)))
    try:
        client = app.test_client()
        found = client.get("/api/v1/images?per_page=50").get_json()
        (video_id,) = [r["id"] for r in found["results"] if Path(r["path"]) == video]
        served = client.get(f"/api/v1/images/{video_id}/file")
        assert served.status_code == 200 and served.headers["Content-Type"] == "video/mp4"
        assert served.data == video.read_bytes()
        kept = video.read_bytes()
        for changed in (kept + b"\0" * 100, b"<html><script>alert(1)</script></html>"):
            video.write_bytes(changed)
            answer = client.get(f"/api/v1/images/{video_id}/file")
            assert answer.status_code == 409, (answer.status_code, answer.headers)
            assert answer.get_json()["error"]["code"] == "file_changed"
        video.write_bytes(kept)
        assert client.get(f"/api/v1/images/{video_id}/file").status_code == 200
    finally:
        app.extensions["imgsearch"].close()


def test_a_video_replaced_since_indexing_is_answered_from_its_stored_frames(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """A video whose file was replaced by another video was looked up, searched by id and
    shown at a moment with the new file's content, without a word ("Copies: 0"; the id among
    its own results; a frame of the other video): it is answered as a changed photo is, from
    its stored frames with `file_changed` and a note, and its frames are a 409."""
    import os

    from search.settings import Settings
    from tests.video_clips import write_slideshow
    from web.app import create_app

    made, args = _indexed_video(tmp_path, data_dir, models_dir)
    video = made.folder / made.originals[0]
    kept = video.read_bytes()
    app = create_app(Settings(library=tmp_path / "lib", model_path=(models_dir,)))
    try:
        client = app.test_client()
        found = client.get("/api/v1/images?per_page=50").get_json()
        (video_id,) = [r["id"] for r in found["results"] if Path(r["path"]) == video]
        assert client.get(f"/api/v1/images/{video_id}/thumbnail?t=1000").status_code == 200
        done = run_cli([*args, "lookup", str(video_id), "--json"], tmp_path)
        copies = {r["id"] for r in json.loads(done.stdout)["results"] if r["match"] == "near"}
        assert len(copies) >= 2, done.stdout
        others = sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[:3]
        write_slideshow(others, video, (320, 192), hold=40)  # another video, same name

        done = run_cli([*args, "lookup", str(video_id), "--json"], tmp_path)
        assert done.returncode == 0, done.stderr
        looked = json.loads(done.stdout)
        assert looked.get("file_changed") and not looked.get("file_missing"), looked
        assert {r["id"] for r in looked["results"] if r["match"] == "near"} == copies
        assert "changed on disk since it was indexed" in done.stderr
        answer = client.post("/api/v1/search", data={"image_id": str(video_id)}).get_json()
        assert answer.get("file_changed") and "changed on disk" in answer["note"], answer
        listed = [r["id"] for r in answer["results"]]
        assert video_id not in listed and copies <= set(listed), answer
        frame = client.get(f"/api/v1/images/{video_id}/thumbnail?t=1000")
        assert frame.status_code == 409, frame.status_code
        assert frame.get_json()["error"]["code"] == "file_changed"

        # other bytes of the same size are another file; the same bytes touched are not
        video.write_bytes(kept[:1000] + bytes(255 - b for b in kept[1000:2000]) + kept[2000:])
        assert client.get(f"/api/v1/images/{video_id}/thumbnail?t=1000").status_code == 409
        assert client.get(f"/api/v1/images/{video_id}/file").status_code == 409
        video.write_bytes(kept)
        os.utime(video, (1e9, 1e9))
        assert client.get(f"/api/v1/images/{video_id}/thumbnail?t=1000").status_code == 200
        answer = client.post("/api/v1/search", data={"image_id": str(video_id)}).get_json()
        assert "file_changed" not in answer and "note" not in answer, answer
    finally:
        app.extensions["imgsearch"].close()
