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
