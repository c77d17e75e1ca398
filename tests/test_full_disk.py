"""A full disk under the library: nothing committed is lost, and what only reads goes on.

On a disk with no room left, opening the library for reading failed on SQLite's WAL index
(`search`, `lookup`, `serve` refused: "cannot grow: the disk is full"), and the 3-byte
``-shm`` and empty ``-wal`` that failed open left made even a read-only reader call the
library "not an imgsearch library". A reader now reads it as it is. The end-to-end test needs
a small tmpfs (root, as CI runs); the leftovers are checked on any disk.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_process import run_cli
from tests.indexer_helpers import photo_paths


@contextlib.contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _index(cwd: Path, library: Path, data_dir: Path, models_dir: Path) -> Path:
    photos = cwd / "photos"
    photos.mkdir()
    for photo in photo_paths(data_dir, 4):
        shutil.copyfile(photo, photos / photo.name)
    options = ["--library", str(library), "--model-path", str(models_dir)]
    done = run_cli([*options, "index", "--no-progress", "photos"], cwd)
    assert done.returncode == 0, done.stderr
    return sorted(photos.iterdir())[0]


def _search(cwd: Path, library: Path, query: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli(["--library", str(library), "search", str(query), "-k", "1"], cwd, env=env)


def test_a_library_on_a_full_disk_is_still_searched(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    with small_disk(tmp_path / "disk", "8m") as disk:
        library = disk / "lib"
        query = _index(tmp_path, library, data_dir, models_dir)
        with (disk / "filler").open("wb") as filler, contextlib.suppress(OSError):
            while True:  # every byte taken
                filler.write(b"\0" * (1 << 16))
                filler.flush()
        assert shutil.disk_usage(disk).free < 1 << 16
        for env in ({}, {}, {"IMGSEARCH_READ_ONLY": "1"}):  # again, with what the first left
            found = _search(tmp_path, library, query, **env)
            assert found.returncode == 0 and "1.0000=" in found.stdout, found.stderr
        stats = run_cli(["--library", str(library), "stats"], tmp_path)
        assert stats.returncode == 0 and "not an imgsearch library" not in stats.stderr


def test_what_a_failed_open_left_is_no_writer(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """A 3-byte ``-shm`` beside an empty ``-wal`` (an open that a full disk stopped): a
    read-only reader opens the file as it is, not as a writer's, and finds the library."""
    from search.store import writer_there

    library = tmp_path / "lib"
    query = _index(tmp_path, library, data_dir, models_dir)
    database = library / "imgsearch.sqlite3"
    (library / "imgsearch.sqlite3-shm").write_bytes(b"\0\0\0")
    (library / "imgsearch.sqlite3-wal").write_bytes(b"")
    assert not writer_there(database)
    found = _search(tmp_path, library, query, IMGSEARCH_READ_ONLY="1")
    assert found.returncode == 0 and "1.0000=" in found.stdout, found.stderr
    (library / "imgsearch.sqlite3-wal").write_bytes(b"\1" * (32 + 24 + 4096))  # a header + a frame
    assert writer_there(database)


def test_thumbnails_are_served_when_the_library_takes_no_more(
    tmp_path: Path, data_dir: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a full disk every thumbnail not made yet was a 500 with a traceback in the log (and
    `dedup -o`'s report showed "no thumbnail" for most pictures): they are made in a temporary
    folder from then on."""
    import errno

    import search.library.thumbnails as thumbnails
    from search.settings import Settings
    from web.app import create_app

    library = tmp_path / "lib"
    _index(tmp_path, library, data_dir, models_dir)
    real = thumbnails.replaced_whole

    def full_disk(target: Path, suffix: str):  # type: ignore[no-untyped-def]
        if Path(target).is_relative_to(library):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(target, suffix)

    monkeypatch.setattr(thumbnails, "replaced_whole", full_disk)
    app = create_app(Settings(library=library, model_path=(models_dir,)))
    try:
        client = app.test_client()
        for image_id in (1, 2, 3, 4, 1):
            answer = client.get(f"/api/v1/images/{image_id}/thumbnail")
            assert answer.status_code == 200 and answer.mimetype == "image/jpeg", image_id
            assert answer.data[:2] == b"\xff\xd8"
    finally:
        app.extensions["imgsearch"].close()
    assert not list((library / "thumbnails").rglob("*.jpg"))


def test_an_on_disk_index_on_a_full_disk_is_built_in_memory(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """An `ivfpq-ondisk` library whose cache must be rebuilt on a full disk: `search` and
    `serve` died of SIGBUS (exit 135, no word) writing through a memory map; `rebuild-index`
    too. Now the search answers from an index built in memory, and `rebuild-index` says the
    disk is full (not that the library is "read-only for this user")."""
    with small_disk(tmp_path / "disk", "16m") as disk:
        library = disk / "lib"
        query = _index(tmp_path, library, data_dir, models_dir)
        options = ["--library", str(library)]
        built = run_cli([*options, "rebuild-index", "--index", "ivfpq-ondisk"], tmp_path)
        assert built.returncode == 0, built.stderr
        for made in [library / "index.faiss", *library.glob("index.faiss.*.ivfdata")]:
            made.unlink()  # a cache lost: rebuilt from the database on the next search
        with (disk / "filler").open("wb") as filler, contextlib.suppress(OSError):
            while True:
                filler.write(b"\0" * (1 << 16))
                filler.flush()
        found = _search(tmp_path, library, query)
        assert found.returncode == 0 and "1.0000=" in found.stdout, found.stderr
        again = run_cli([*options, "rebuild-index", "--index", "ivfpq-ondisk"], tmp_path)
        assert again.returncode == 1 and "is on a full disk: free some space" in again.stderr
        assert len(again.stderr.strip().splitlines()) <= 3 and "Traceback" not in again.stderr
        assert not list(library.glob(".index.faiss.*tmp"))
