"""A photo rewritten in place by a tool that keeps its date (same size, same mtime, other
bytes): an audit found `index` skipping it for good while the server and `search` told the
user to run `imgsearch index`. `index --checksum` reads such files and re-embeds the changed
ones, and every message about such a file names it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from search.settings import Settings
from tests.cli_process import run_cli
from tests.web_library import API, assert_error
from web.app import create_app


def _rewrite_in_place(path: Path, source: Path) -> None:
    """``path`` gets the picture of ``source`` (padded to its size) and its old mtime back."""
    before = path.stat()
    data = source.read_bytes()
    assert len(data) < before.st_size
    path.write_bytes(data + bytes(before.st_size - len(data)))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def _index(tmp_path: Path, models_dir: Path, *args: str) -> dict[str, object]:
    done = run_cli(
        ["--library", "library", "--model-path", str(models_dir), "index", *args, "--json"],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_index_checksum_re_embeds_a_file_rewritten_under_its_old_size_and_date(
    tmp_path, weblib, models_dir
):
    photos = tmp_path / "photos"
    photos.mkdir()
    big, small = sorted(weblib.ukbench.glob("*.jpg"), key=lambda p: p.stat().st_size)[-1:-3:-1]
    shutil.copyfile(big, photos / "edited.jpg")
    shutil.copyfile(small, photos / "other.jpg")
    assert _index(tmp_path, models_dir, "photos")["added"] == 2
    _rewrite_in_place(photos / "edited.jpg", small)

    app = create_app(Settings(library=tmp_path / "library", model_path=(models_dir,)))
    client = app.test_client()
    ids = {Path(r["path"]).name: r["id"] for r in client.get(f"{API}/images").get_json()["results"]}
    edited = ids["edited.jpg"]
    error = assert_error(client.get(f"{API}/images/{edited}/file"), 409, "file_changed")
    command = f"imgsearch --library {tmp_path / 'library'}"  # this server's library
    assert f"run `{command} index --checksum`" in error["message"]
    page = client.get(f"/images/{edited}").get_data(as_text=True)
    assert "holds other bytes than were indexed, under the same size and date" in page
    assert f"run <code>{command} index --checksum</code>" in page
    note = client.get(f"{API}/images/{edited}/similar").get_json()["note"]
    # the API's note gives the command for this library too, as the page (a new user's audit)
    assert f"`{command} index --checksum` when the file kept its size and date" in note

    assert _index(tmp_path, models_dir)["unchanged"] == 2  # size and mtime decide: unread
    summary = _index(tmp_path, models_dir, "--checksum")
    assert (summary["updated"], summary["unchanged"]) == (1, 1)
    assert client.get(f"{API}/images/{edited}/file").status_code == 200
    page = client.get(f"/images/{edited}").get_data(as_text=True)
    assert "not as it was indexed" not in page
    app.extensions["imgsearch"].close()
