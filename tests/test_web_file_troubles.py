"""Library files that are no longer what was indexed, as the server tells it: a link out of
the collection in a photo's place, a file that never was an image (audits of 2026-12-07:
security and file system)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from search.settings import Settings
from tests.cli_process import run_cli
from tests.web_library import API, library_ids
from web.app import create_app

TOKEN = "t0ken-for-tests"
NETWORK = {"Authorization": f"Bearer {TOKEN}", "Host": "127.0.0.1"}


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path) -> Path:
    """``photos/`` of three ukbench photos and a web page saved as ``page.jpg`` (a failed
    file), indexed through the CLI into ``library/`` beside it."""
    home = tmp_path_factory.mktemp("troubles")
    folder = home / "photos"
    folder.mkdir()
    for source in sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[:3]:
        shutil.copyfile(source, folder / source.name)
    (folder / "page.jpg").write_text("<html><body><script>alert(1)</script></body></html>")
    args = ["--library", str(home / "library"), "--model-path", str(models_dir), "index"]
    done = run_cli([*args, "--no-progress", "photos"], home)
    assert done.returncode == 0, done.stderr
    return folder


@contextmanager
def serve(photos: Path, models_dir: Path, *, exposed: bool) -> Iterator[FlaskClient]:
    library = photos.parent / "library"
    settings = Settings(library=library, model_path=(models_dir,))
    app: Flask = create_app(settings, token=TOKEN if exposed else None, exposed=exposed)
    try:
        yield app.test_client()
    finally:
        app.extensions["imgsearch"].close()


def image_ids(client: FlaskClient, headers: dict[str, str]) -> dict[str, int]:
    listed = client.get(f"{API}/images?per_page=50", headers=headers).get_json()["results"]
    return {Path(hit["rel_path"]).name: hit["id"] for hit in listed}


@pytest.mark.parametrize("exposed", [False, True], ids=["loopback", "network"])
def test_a_link_out_of_the_collection_in_a_photos_place_keeps_the_path_rule(
    photos: Path, models_dir: Path, tmp_path: Path, exposed: bool
) -> None:
    """A photo replaced by a link to a file outside its collection: every answer about it
    named the collection's absolute folder ("... leads outside /srv/photos"), also to the
    clients of a server on the network (they see paths relative to their collection), and
    its image page was a 404 error page. The network's clients now read the collection's
    folder name; the page shows the image with a notice and its stored neighbours."""
    name = sorted(p.name for p in photos.glob("ukbench*.jpg"))[0]
    outside = tmp_path / "elsewhere.jpg"
    shutil.copyfile(photos / name, outside)
    headers = NETWORK if exposed else {}
    with serve(photos, models_dir, exposed=exposed) as client:
        image_id = image_ids(client, headers)[name]
        (photos / name).rename(tmp_path / "kept.jpg")
        (photos / name).symlink_to(outside)
        try:
            answers = [
                client.get(f"{API}/images/{image_id}/{what}", headers=headers)
                for what in ("file", "thumbnail", "similar")
            ]
            answers += [
                client.post(f"{API}/{what}", data={"image_id": str(image_id)}, headers=headers)
                for what in ("search", "lookup")
            ]
            page = client.get(f"/images/{image_id}", headers=headers)
        finally:
            (photos / name).unlink()
            (tmp_path / "kept.jpg").rename(photos / name)
    root = str(photos) if not exposed else "photos"
    for answer in answers:
        error = answer.get_json()["error"]
        assert answer.status_code == 404, error
        assert f"{name} now leads outside its collection ({root})" in error["message"]
        assert exposed is (str(photos.parent) not in error["message"]), error
        assert str(tmp_path) not in error["message"]  # nor where the link leads
    text = page.get_data(as_text=True)
    assert page.status_code == 200, text
    assert "No picture to show: its file now leads outside its collection." in text
    assert 'data-code="file_changed"' in text and 'class="grid"' in text  # its neighbours
    assert exposed is (str(photos.parent) not in text)


def test_a_file_that_failed_to_index_is_served_as_a_download_only(
    photos: Path, models_dir: Path
) -> None:
    """A web page saved as ``page.jpg`` failed to index (nothing read it as an image), yet
    ``/images/ID/file`` served it as ``image/jpeg`` from its name, inline. It comes as a
    download now (``application/octet-stream``, attachment, its bytes as they are: the user
    can look at what the file is and repair it), never under an image type."""
    with serve(photos, models_dir, exposed=False) as client:
        image_id = library_ids(client.application)["page.jpg"]
        answer = client.get(f"{API}/images/{image_id}/file")
        photo = client.get(f"{API}/images/{image_ids(client, {})['ukbench00001.jpg']}/file")
    assert answer.status_code == 200
    assert answer.mimetype == "application/octet-stream"
    assert answer.headers["Content-Disposition"].startswith("attachment;"), answer.headers
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.data == (photos / "page.jpg").read_bytes()
    assert photo.mimetype == "image/jpeg"  # an indexed photo: shown, as before
    assert photo.headers["Content-Disposition"].startswith("inline;")
