"""A photo replaced by another and indexed again shows its new picture at once: the pages and
the JSON API link its thumbnail and file by the version of the content that was indexed, so
the new content has new URLs (thumbnails were served with ``max-age=300`` at one URL: the
browser showed the old picture for up to 5 minutes), while an unchanged one is kept."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

from flask.testing import FlaskClient

from search.settings import Settings
from tests.cli_process import run_cli
from tests.web_library import API
from web.app import create_app

IMMUTABLE = {"private", "max-age=31536000", "immutable"}


def directives(answer) -> set[str]:  # type: ignore[no-untyped-def]
    return {d.strip() for d in answer.headers["Cache-Control"].split(",")}


def links(client: FlaskClient, image_id: int) -> dict[str, str]:
    """The URLs of image ``image_id`` as the API, Browse and its own page give them."""
    listed = client.get(f"{API}/images").get_json()["results"]
    item = next(hit for hit in listed if hit["id"] == image_id)
    browse = client.get("/browse").get_data(as_text=True)
    page = client.get(f"/images/{image_id}").get_data(as_text=True)
    card = re.search(rf'src="({API}/images/{image_id}/thumbnail[^"]*)"', browse)
    large = re.search(rf'src="({API}/images/{image_id}/thumbnail[^"]*size=1024[^"]*)"', page)
    original = re.search(rf'href="({API}/images/{image_id}/file[^"]*)"', page)
    assert card and large and original, page
    return {
        "api_thumbnail": item["thumbnail_url"],
        "api_file": item["file_url"],
        "card": card[1].replace("&amp;", "&"),
        "large": large[1].replace("&amp;", "&"),
        "original": original[1].replace("&amp;", "&"),
    }


def test_a_reindexed_photo_gets_new_urls_and_its_new_picture(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    sources = sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copyfile(sources[0], photos / "changing.jpg")
    shutil.copyfile(sources[4], photos / "kept.jpg")
    index = ["--library", "library", "--model-path", str(models_dir), "index", "--no-progress"]
    assert run_cli([*index, "photos"], tmp_path).returncode == 0
    settings = Settings(library=tmp_path / "library", model_path=(models_dir,))
    client = create_app(settings).test_client()
    ids = {Path(h["path"]).name: h["id"] for h in client.get(f"{API}/images").get_json()["results"]}
    changing, kept = ids["changing.jpg"], ids["kept.jpg"]

    before, kept_before = links(client, changing), links(client, kept)
    assert before["api_thumbnail"] == before["card"] and "?v=" in before["card"], before
    old = {name: client.get(url) for name, url in before.items()}
    for name, answer in old.items():
        assert answer.status_code == 200 and directives(answer) >= IMMUTABLE, name

    shutil.copyfile(sources[8], photos / "changing.jpg")  # another photo under its name
    assert run_cli([*index, "photos"], tmp_path).returncode == 0
    time.sleep(1.2)  # the server looks for a new index generation once a second

    after = links(client, changing)
    assert links(client, kept) == kept_before  # unchanged: still cached
    for name, url in after.items():
        assert url != before[name], name
        answer = client.get(url)
        assert answer.status_code == 200 and directives(answer) >= IMMUTABLE, name
        assert answer.data != old[name].data, name  # the new picture, not the old one
    assert client.get(after["original"]).data == sources[8].read_bytes()
    # an old page's URL, or one without a version: the picture now, never kept
    for url in (before["card"], before["card"].split("?")[0]):
        answer = client.get(url)
        assert answer.data == client.get(after["card"]).data, url
        assert "no-cache" in directives(answer) and "immutable" not in directives(answer)
