"""A library that cannot be written is still served and read: ``imgsearch serve`` (search,
browse, image pages, thumbnails, the API, uploads) and the CLI's read commands work and write
nothing; the commands that must write say so in one line.

Two ways, because the tests run as root and root ignores file modes:

* the library's folder and files made read-only by chmod, and the commands run as a user
  meets them: ``setpriv`` drops root's ``dac_override`` capability (as tests/test_cli_errors.py
  does), so the permission bits apply to the process - the real path (``os.access`` says the
  SQLite file cannot be written; it is opened ``mode=ro``, ``immutable=1`` as its folder
  cannot take the WAL index);
* ``IMGSEARCH_READ_ONLY=1`` / ``Settings(read_only=True)`` on a library root could write (a
  read-only mount, simulated): every file of the library is compared before and after.
"""

from __future__ import annotations

import json
import shutil
import stat
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from search.settings import Settings
from tests.cli_process import AS_USER, CANNOT_DROP_ROOT, cli_env, relative_library, run_cli
from tests.indexer_helpers import photo_paths
from tests.served import CLI, serving

needs_user = pytest.mark.skipif(
    CANNOT_DROP_ROOT, reason="root without setpriv: file modes do not apply"
)


def files_of(library: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``library``: (size, mtime_ns) by relative path."""
    return {
        str(p.relative_to(library)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(library.rglob("*"))
        if p.is_file()
    }


def set_writable(folder: Path, writable: bool) -> None:
    for item in [folder, *folder.rglob("*")]:
        mode = item.stat().st_mode
        bits = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
        item.chmod(mode | stat.S_IWUSR if writable else mode & ~bits)


@pytest.fixture(scope="module")
def home(
    tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path
) -> Iterator[Path]:
    """photos/ and ./imgsearch-library over 6 photos, without its cached stats and index
    file (a reader must rebuild the index, and could write both), then made read-only."""
    home = tmp_path_factory.mktemp("read-only")
    relative_library(home, photo_paths(data_dir, 6), models_dir)
    library = home / "imgsearch-library"
    for name in ("stats.json", "index.faiss"):
        (library / name).unlink(missing_ok=True)
    shutil.rmtree(library / "explore", ignore_errors=True)
    set_writable(library, False)
    yield home
    set_writable(library, True)


READ_COMMANDS = [
    ["stats", "--json"],
    ["search", "{photo}", "-k", "3", "--json"],
    ["lookup", "{photo}", "--json"],
    ["similar", "{id}", "-k", "3", "--json"],
    ["labels", "a", "--json"],
    ["clusters", "--json"],
    ["outliers", "-n", "2", "--json"],
    ["flags", "--json"],
    ["dedup", "--format", "json"],
]


@pytest.mark.slow
@needs_user
def test_cli_read_commands_work_on_a_read_only_library(home: Path) -> None:
    before = files_of(home / "imgsearch-library")
    photo = f"photos/{sorted((home / 'photos').iterdir())[0].name}"
    for args in READ_COMMANDS:
        argv = [a.format(photo=photo, id=1) for a in args]
        done = run_cli(argv, home, prefix=AS_USER)
        assert done.returncode == 0 and "Traceback" not in done.stderr, (argv, done.stderr)
        json.loads(done.stdout)  # whole answers, no warning in the middle
    # the commands that must write say so in one line
    for argv in (["remove", "photos"], ["rebuild-index"], ["index", "photos"]):
        done = run_cli(argv, home, prefix=AS_USER)
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        assert "read-only for this user" in done.stderr and len(done.stderr.splitlines()) == 1
    assert files_of(home / "imgsearch-library") == before


@needs_user
def test_db_check_and_current_read_a_read_only_library(home: Path) -> None:
    """`db check` called a healthy read-only library damaged ("attempt to write a readonly
    database", exit 1, "ok": false) and `db current` refused it as read-only for this user:
    both only read, and now open it read-only, answer, and write nothing."""
    before = files_of(home / "imgsearch-library")
    checked = run_cli(["db", "check", "--json"], home, prefix=AS_USER)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    report = json.loads(checked.stdout)
    assert report["ok"] is True and report["problems"] == [] and report["read_only"] is True
    said = run_cli(["db", "check"], home, prefix=AS_USER)
    assert said.returncode == 0 and said.stderr == "", said.stderr
    assert ": ok (" in said.stdout and "read-only" in said.stdout, said.stdout
    current = run_cli(["db", "current", "--json"], home, prefix=AS_USER)
    assert current.returncode == 0, current.stderr
    revisions = json.loads(current.stdout)
    assert revisions["up_to_date"] is True and revisions["current"] == revisions["head"]
    assert files_of(home / "imgsearch-library") == before


@pytest.mark.slow
@needs_user
def test_serve_says_once_that_the_library_is_read_only_and_serves_it(home: Path) -> None:
    before = files_of(home / "imgsearch-library")
    photo = sorted((home / "photos").iterdir())[0]
    command = [*AS_USER, *CLI, "serve", "--host", "127.0.0.1", "--port", "0"]
    with serving(command, home, cli_env()) as server:
        for path in ("/", "/browse", "/images/1", "/clusters", "/api/v1/stats"):
            with urllib.request.urlopen(server.url + path) as answer:
                assert answer.status == 200, path
        with urllib.request.urlopen(f"{server.url}/api/v1/images/1/thumbnail") as answer:
            assert answer.headers["Content-Type"] == "image/jpeg" and answer.read(3)
        boundary = "imgsearch-test"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="image"; '
                f'filename="{photo.name}"\r\nContent-Type: image/jpeg\r\n\r\n'
            ).encode()
            + photo.read_bytes()
            + f"\r\n--{boundary}--\r\n".encode()
        )
        request = urllib.request.Request(
            f"{server.url}/api/v1/search",
            data=body,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        with urllib.request.urlopen(request) as answer:
            results = json.loads(answer.read())["results"]
        assert results[0]["exact"] and results[0]["path"].endswith(photo.name)
        output = server.output
    assert output.count("is read-only") == 1 and "nothing is written" in output, output
    assert "Traceback" not in output, output
    assert files_of(home / "imgsearch-library") == before


def test_read_only_setting_serves_and_writes_nothing(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """A read-only mount, simulated by the setting (root writes anywhere): the app answers
    every page and the API from the library, and not one file of it changes."""
    from web.app import create_app

    relative_library(tmp_path, photo_paths(data_dir, 4), models_dir)
    library = tmp_path / "imgsearch-library"
    (library / "index.faiss").unlink()  # rebuilt in memory, not saved
    before = files_of(library)
    settings = Settings(library=library, model_path=(models_dir,), read_only=True)
    app = create_app(settings)
    try:
        client = app.test_client()
        assert app.extensions["imgsearch"].get().store.read_only
        for path in ("/", "/browse", "/images/1", "/clusters", "/api/v1/stats"):
            assert client.get(path).status_code == 200, path
        thumb = client.get("/api/v1/images/1/thumbnail")
        assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
        photo = sorted((tmp_path / "photos").iterdir())[0]
        with photo.open("rb") as handle:
            found = client.post("/api/v1/search", data={"image": (handle, photo.name)})
        assert found.status_code == 200 and found.get_json()["results"][0]["exact"]
    finally:
        app.extensions["imgsearch"].close()
    assert files_of(library) == before
    env = {"IMGSEARCH_READ_ONLY": "1"}
    for argv in (["db", "check"], ["db", "current"]):  # they read: answered, nothing written
        done = run_cli(argv, tmp_path, env=env)
        assert done.returncode == 0 and done.stderr == "", (argv, done.stderr)
    assert files_of(library) == before
    writes = [["index", "photos"], ["remove", "photos"], ["rebuild-index"], ["reindex"]]
    # the migrations too: `db downgrade --yes` had dropped a revision's tables and written a
    # backup beside the file under the setting that promised nothing is written
    writes += [["prune"], ["db", "upgrade"], ["db", "downgrade", "base", "--yes"]]
    for argv in writes:
        done = run_cli(argv, tmp_path, env=env)
        # the setting is named as the cause (not the user's permissions)
        assert done.returncode == 1 and "unset IMGSEARCH_READ_ONLY" in done.stderr, done.stderr
        assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
    assert files_of(library) == before


def test_a_reader_follows_a_writer_that_starts_after_it(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """A read-only reader opened while no writer had the library (read as an immutable file)
    answers from the writer's work once a later index run has committed, without a restart:
    each query connects anew, with ``mode=ro`` while the writer's WAL is there."""
    from search.store import Store

    photos = photo_paths(data_dir, 8)
    relative_library(tmp_path, photos[:4], models_dir)
    database = tmp_path / "imgsearch-library" / "imgsearch.sqlite3"
    assert not database.with_name(database.name + "-shm").exists()  # no writer now
    reader = Store.open(f"sqlite:///{database}", read_only=True)
    try:
        assert reader.vector_count() == 4
        for photo in photos[4:]:
            shutil.copyfile(photo, tmp_path / "photos" / photo.name)
        done = run_cli(["index", "--no-progress", "photos"], tmp_path)
        assert done.returncode == 0, done.stderr
        assert reader.vector_count() == 8
    finally:
        reader.close()


@pytest.mark.slow
@needs_user
def test_a_server_run_by_another_user_follows_the_owners_index_runs(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """A server run by a user who may only read the library (its owner indexes nightly)
    never saw the owner's later runs: each refresh opened the writer's lock file to write
    and failed ("Permission denied", a traceback in the log every second) and the server
    answered from the index it started with. Now it answers from the owner's run."""
    import time

    photos = photo_paths(data_dir, 8)
    relative_library(tmp_path, photos[:4], models_dir)
    library = tmp_path / "imgsearch-library"
    set_writable(library, False)
    command = [*AS_USER, *CLI, "serve", "--host", "127.0.0.1", "--port", "0"]

    def images(url: str) -> int:  # in the index that searches use
        with urllib.request.urlopen(url + "/api/v1/stats") as answer:
            return int(json.loads(answer.read())["index"]["ntotal"])

    try:
        with serving(command, tmp_path, cli_env()) as server:
            assert images(server.url) == 4
            for photo in photos[4:]:
                shutil.copyfile(photo, tmp_path / "photos" / photo.name)
            done = run_cli(["index", "--no-progress", "photos"], tmp_path)  # the owner (root)
            assert done.returncode == 0, done.stderr
            deadline = time.monotonic() + 20
            while images(server.url) != 8 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert images(server.url) == 8, server.output
            time.sleep(1.5)  # a refresh or two more: none may fail
            output = server.output
    finally:
        set_writable(library, True)
    assert "Traceback" not in output and "refreshing the library failed" not in output, output


def test_a_library_on_a_read_only_mount_is_told_so(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """On a read-only file system `index` said "read-only for this user: run as its owner",
    which no owner could follow (a new user's audit, a read-only bind mount)."""
    import os

    from search.library import refuse_writes
    from search.settings import Settings
    from search.store import LibraryReadOnlyError

    settings = Settings.from_env(library=tmp_path / "lib")
    real = os.statvfs

    class ReadOnly:  # the real answer, mounted read-only
        def __init__(self, found: os.statvfs_result) -> None:
            self.found, self.f_flag = found, found.f_flag | os.ST_RDONLY

        def __getattr__(self, name: str) -> int:
            return getattr(self.found, name)

    monkeypatch.setattr(os, "statvfs", lambda path: ReadOnly(real(path)))
    with pytest.raises(LibraryReadOnlyError, match="on a read-only file system: mount it"):
        refuse_writes(settings, read_only=True)
    monkeypatch.setattr(os, "statvfs", real)
    with pytest.raises(LibraryReadOnlyError, match="read-only for this user: run as its owner"):
        refuse_writes(settings, read_only=True)
