"""``exact`` means the same thing in ``imgsearch search`` as in ``imgsearch lookup``: the same
bytes, or the same pixels saved in another format (a PNG re-save of a library JPEG); run as a
user runs the CLI, in a separate process."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from tests.cli_process import run_cli

ORIGINAL = "ukbench00004.jpg"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path) -> Path:
    """A library of 6 JPEGs (./imgsearch-library) and query.png: one of them saved losslessly."""
    cwd = tmp_path_factory.mktemp("pixels")
    (cwd / "photos").mkdir()
    for n in range(4, 10):
        name = f"ukbench{n:05d}.jpg"
        shutil.copyfile(data_dir / "ukbench_subset" / "images" / name, cwd / "photos" / name)
    with Image.open(cwd / "photos" / ORIGINAL) as im:
        im.save(cwd / "query.png")
    done = run_cli(["--model-path", str(models_dir), "index", "--no-progress", "photos"], cwd)
    assert done.returncode == 0, done.stderr
    return cwd


@pytest.mark.slow  # the fast loop has the API's: tests/test_web_lookup.py
def test_search_marks_a_same_pixels_copy_exact_like_lookup(folder: Path) -> None:
    searched = run_cli(["search", "query.png", "-k", "3", "--json"], folder)
    assert searched.returncode == 0, searched.stderr
    results = json.loads(searched.stdout)["results"]
    assert Path(results[0]["path"]).name == ORIGINAL and results[0]["exact"] is True
    assert not any(r["exact"] for r in results[1:])
    looked = run_cli(["lookup", "query.png", "--json"], folder)
    assert looked.returncode == 0, looked.stderr
    exact = [r for r in json.loads(looked.stdout)["results"] if r["match"] == "exact"]
    assert [r["id"] for r in exact] == [results[0]["id"]]
    assert exact[0]["evidence"] == "same pixels, other encoding"
    table = run_cli(["search", "query.png", "-k", "3"], folder)
    first = table.stdout.splitlines()[1]
    assert ORIGINAL in first and "=" in first.split()[1], table.stdout
    assert "exact copy of the query: same bytes or same pixels" in table.stdout


@pytest.mark.slow
def test_similar_marks_a_same_pixels_copy_of_the_image_exact(folder: Path) -> None:
    shutil.copyfile(folder / "query.png", folder / "photos" / "resaved.png")
    try:
        done = run_cli(["index", "--no-progress", "photos"], folder)
        assert done.returncode == 0, done.stderr
        similar = run_cli(["similar", f"photos/{ORIGINAL}", "-k", "2", "--json"], folder)
        assert similar.returncode == 0, similar.stderr
        first = json.loads(similar.stdout)["results"][0]
        assert Path(first["path"]).name == "resaved.png" and first["exact"] is True
    finally:
        (folder / "photos" / "resaved.png").unlink()
        assert run_cli(["index", "--no-progress", "photos"], folder).returncode == 0


def test_a_library_files_pixels_are_read_once_until_it_changes(
    folder: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Repeated uploads of one photo decode its library file once (its pixel digest is kept
    by path, size and mtime), and the upload itself never again (hashed from the decode its
    analysis made); a file rewritten in place with other pixels is read again, and is no
    longer an exact copy."""
    import os

    import search.query.pixels as pixels
    from search.query import SearchEngine
    from tests.engine_library import make_settings

    decoded: list[str] = []
    digest = pixels.query_pixel_hash
    monkeypatch.setattr(
        pixels, "query_pixel_hash", lambda p, *a: decoded.append(str(p)) or digest(p, *a)
    )
    settings = make_settings(folder / "imgsearch-library", models_dir)
    query = (folder / "query.png").read_bytes()
    library_file = folder / "photos" / ORIGINAL
    with SearchEngine.open(settings) as engine:
        for _ in range(3):
            (best, *_rest) = engine.query_image(query, k=3).hits
            assert Path(best.path).name == ORIGINAL and best.exact
        assert decoded == [str(library_file)]
        kept = library_file.read_bytes()
        stat = library_file.stat()
        try:
            with Image.open(folder / "query.png") as im:  # other pixels, another mtime
                im.rotate(180).save(library_file, quality=95)
            os.utime(library_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
            (best, *_rest) = engine.query_image(query, k=3).hits
            assert Path(best.path).name == ORIGINAL and not best.exact
            assert decoded == [str(library_file)] * 2
        finally:
            library_file.write_bytes(kept)
            os.utime(library_file, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_a_large_jpeg_query_is_an_exact_copy_of_its_pixels_saved_as_png(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """A query JPEG large enough for a JPEG draft reduction (the analysis decodes it at half
    size) is decoded again at full size for its pixels: the library's PNG of them is exact."""
    from search.query import SearchEngine
    from tests.engine_library import make_settings

    (tmp_path / "photos").mkdir()
    with Image.open(data_dir / "ukbench_subset" / "images" / ORIGINAL) as im:
        im.resize((1600, 1200)).save(tmp_path / "query.jpg", quality=90)
    with Image.open(tmp_path / "query.jpg") as im:
        im.save(tmp_path / "photos" / "decoded.png")
    for n in (5, 8):
        name = f"ukbench{n:05d}.jpg"
        shutil.copyfile(data_dir / "ukbench_subset" / "images" / name, tmp_path / "photos" / name)
    done = run_cli(["--model-path", str(models_dir), "index", "--no-progress", "photos"], tmp_path)
    assert done.returncode == 0, done.stderr
    settings = make_settings(tmp_path / "imgsearch-library", models_dir)
    with SearchEngine.open(settings) as engine:
        best, *rest = engine.query_image((tmp_path / "query.jpg").read_bytes(), k=3).hits
    assert Path(best.path).name == "decoded.png" and best.exact
    assert not any(hit.exact for hit in rest)
