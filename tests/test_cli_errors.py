"""Every command, run as a user runs it (a subprocess), with something in the way: a read-only
or locked library, a database of another program or of a newer imgsearch, an output folder
that cannot be written, a busy port. Each must fail with one line saying what is wrong and
what to do, a non-zero exit, and never a traceback (issue 10, item 6)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import pytest

from cli.main import cli
from tests.cli_process import AS_USER, CANNOT_DROP_ROOT, relative_library, run_cli
from tests.indexer_helpers import photo_paths


def leaf_commands(group: click.Group, prefix: str = "") -> set[str]:
    names: set[str] = set()
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # the root group loads its commands lazily
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            names |= leaf_commands(command, f"{prefix}{name} ")
        else:
            names.add(prefix + name)
    return names


def read_only(path: Path) -> None:
    for item in [path, *path.rglob("*")]:
        mode = item.stat().st_mode
        item.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


@pytest.fixture(scope="module")
def home(
    tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path
) -> Iterator[Path]:
    """A folder with photos/, a good library and broken copies of it beside."""
    home = tmp_path_factory.mktemp("errors")
    relative_library(home, photo_paths(data_dir, 3), models_dir)
    good = home / "imgsearch-library"
    foreign = home / "foreign"
    foreign.mkdir()
    with sqlite3.connect(foreign / "imgsearch.sqlite3") as db:
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    shutil.copytree(good, home / "newer")
    with sqlite3.connect(home / "newer" / "imgsearch.sqlite3") as db:
        db.execute("UPDATE alembic_version SET version_num = '0999'")
    shutil.copytree(good, home / "locked")
    shutil.copytree(good, home / "damaged")
    damaged = home / "damaged" / "imgsearch.sqlite3"
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])  # truncated
    shutil.copytree(good, home / "readonly")
    read_only(home / "readonly")
    (home / "closed").mkdir()
    read_only(home / "closed")
    yield home
    for folder in (home / "readonly", home / "closed"):
        for item in [folder, *folder.rglob("*")]:
            item.chmod(item.stat().st_mode | stat.S_IWUSR)


@contextmanager
def nothing(_home: Path) -> Iterator[None]:
    yield


@contextmanager
def writer_running(home: Path) -> Iterator[None]:
    """Another process's writer lock on the 'locked' library (as an index run holds it)."""
    with open(home / "locked" / ".writer.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


PHOTO = "photos/" + "{photo}"
FOREIGN = "not an imgsearch library"
NEWER = "newer than this imgsearch"
BUSY = "another imgsearch process is writing"
READ_ONLY = "read-only for this user"
CLOSED = "cannot write"
IN_THE_WAY = f"{PHOTO} is a file, not a folder; choose another place"

# (command, arguments after `imgsearch`, what the message must say, setting)
CASES = [
    ("index", ["--library", "readonly", "index", "photos"], READ_ONLY, nothing),
    ("index", ["--library", "foreign", "index", "photos"], FOREIGN, nothing),
    ("reindex", ["--library", "locked", "reindex"], BUSY, writer_running),
    ("remove", ["--library", "locked", "remove", "photos"], BUSY, writer_running),
    ("remove", ["--library", "readonly", "remove", "photos"], READ_ONLY, nothing),
    ("prune", ["--library", "locked", "prune"], BUSY, writer_running),
    ("prune", ["--library", "readonly", "prune"], READ_ONLY, nothing),
    ("rebuild-index", ["--library", "readonly", "rebuild-index"], READ_ONLY, nothing),
    ("db current", ["--library", "foreign", "db", "current"], FOREIGN, nothing),
    ("db upgrade", ["--library", "newer", "db", "upgrade"], NEWER, nothing),
    ("db downgrade", ["--library", "locked", "db", "downgrade", "0002"], BUSY, writer_running),
    ("db check", ["--library", "damaged", "db", "check"], "is damaged", nothing),
    ("dedup", ["dedup", "--output", "closed/sub/report.html"], CLOSED, nothing),
    ("lookup", ["--library", "newer", "lookup", PHOTO], NEWER, nothing),
    ("clusters", ["--library", "foreign", "clusters"], FOREIGN, nothing),
    ("clusters", ["clusters", "--format", "html", "-o", "closed/sub/c.html"], CLOSED, nothing),
    ("outliers", ["--library", "newer", "outliers"], NEWER, nothing),
    ("flags", ["--library", "foreign", "flags"], FOREIGN, nothing),
    ("search", ["--library", "foreign", "search", PHOTO], FOREIGN, nothing),
    ("similar", ["--library", "foreign", "similar", PHOTO], FOREIGN, nothing),
    ("labels", ["--library", "newer", "labels", "ant"], NEWER, nothing),
    ("stats", ["--library", "foreign", "stats"], FOREIGN, nothing),
    ("serve", ["serve", "--port", "{busy_port}"], "Address already in use", nothing),
    ("serve", ["--library", "newer", "serve", "--port", "0"], NEWER, nothing),
    ("embed", ["embed", "missing.jpg"], "no such file", nothing),
    ("embed", ["embed", "https://example.com/a.jpg"], "URLs are not downloaded", nothing),
    (
        "classify",
        ["classify", "--model", "mobilenet_v3_small_075", PHOTO],
        "no class head",
        nothing,
    ),
    ("models list", ["models", "list"], "IMGSEARCH_DEDUP_THRESHOLD", nothing),
    ("eval run", ["eval", "run", "{ukbench}", "--plot", "closed/pr.png"], CLOSED, nothing),
    ("eval make-copies", ["eval", "make-copies", "photos", "closed/copies"], CLOSED, nothing),
    # a file where a folder should be said "File exists" (make-copies: "a part of the path is a
    # file"), and /proc, which takes no files, "a folder on the way does not exist"
    ("dedup", ["dedup", "--output", f"{PHOTO}/x.html"], IN_THE_WAY, nothing),
    ("clusters", ["clusters", "-o", f"{PHOTO}/b.html"], IN_THE_WAY, nothing),
    ("eval run", ["eval", "run", "{ukbench}", "--plot", f"{PHOTO}/pr.png"], IN_THE_WAY, nothing),
    ("eval make-copies", ["eval", "make-copies", "photos", f"{PHOTO}/c"], IN_THE_WAY, nothing),
    ("dedup", ["dedup", "--output", "/proc/x.html"], "/proc does not take new files", nothing),
    ("eval make-copies", ["eval", "make-copies", "photos", "/proc/c"], "/proc does not", nothing),
]
ENV = {"models list": {"IMGSEARCH_DEDUP_THRESHOLD": "high"}}


def test_every_command_has_a_case() -> None:
    assert {command for command, *_ in CASES} == leaf_commands(cli)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("command", "args", "says", "setting"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_bad_input_gets_one_line_and_no_traceback(
    home, data_dir, command, args, says, setting
) -> None:  # type: ignore[no-untyped-def]
    if CANNOT_DROP_ROOT and says in (READ_ONLY, CLOSED):
        pytest.skip("running as root without setpriv: permission bits do not apply")
    photo = sorted((home / "photos").iterdir())[0].name
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        values = {
            "photo": photo,
            "busy_port": busy.getsockname()[1],
            "ukbench": data_dir / "ukbench_subset",
        }
        argv = [arg.format(**values) for arg in args]
        with setting(home):
            done = run_cli(argv, home, env=ENV.get(command), prefix=AS_USER, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "Traceback" not in output, output
    assert says.format(**values).lower() in output.lower(), output
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    if errors:  # a command's own failure: one line that says what is wrong and what to do
        assert len(errors) == 1 and len(done.stderr.splitlines()) == 1, done.stderr


@pytest.mark.slow
def test_dedup_creates_the_report_folder_it_is_given(home) -> None:  # type: ignore[no-untyped-def]
    done = run_cli(["dedup", "--output", "reports/2026/dups.html"], home)
    assert done.returncode == 0, done.stderr
    report = home / "reports" / "2026" / "dups.html"
    assert report.read_text().lstrip().startswith("<!")
    # Readable as any new file of the user's is (umask), like `clusters -o`: it was 0600.
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(report.stat().st_mode) == 0o666 & ~mask


@pytest.mark.slow
def test_a_video_query_is_named_and_explained(home) -> None:  # type: ignore[no-untyped-def]
    """A broken clip is named in the error (it said "query: not a readable video"); an
    animation searched in a library of photos says why nothing came (it said "no results")."""
    from PIL import Image

    (home / "broken.mp4").write_bytes(b"not a video at all")
    done = run_cli(["search", "broken.mp4"], home)
    assert done.returncode == 1 and done.stderr.startswith("Error: broken.mp4: "), done.stderr
    assert "Traceback" not in done.stderr
    frames = [Image.new("RGB", (64, 64), (40 * i, 90, 0)) for i in range(4)]
    frames[0].save(home / "anim.gif", save_all=True, append_images=frames[1:], duration=200)
    done = run_cli(["search", "anim.gif"], home)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("no results: anim.gif is a video"), done.stdout
    assert "library's videos" in done.stdout


@pytest.mark.slow
@pytest.mark.skipif(CANNOT_DROP_ROOT, reason="root reads every folder; setpriv is missing")
def test_a_query_in_a_folder_that_cannot_be_read_says_permission_denied(home) -> None:  # type: ignore[no-untyped-def]
    """`lookup locked/photo.jpg` said "File ... does not exist" of a photo whose folder it
    may not read; it now says what `search` says: the permission is denied."""
    locked = home / "locked-photos"
    locked.mkdir(exist_ok=True)
    shutil.copyfile(next((home / "photos").iterdir()), locked / "photo.jpg")
    locked.chmod(0)
    try:
        for command in ("lookup", "search"):
            done = run_cli([command, "locked-photos/photo.jpg"], home, prefix=AS_USER)
            assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
            (line,) = done.stderr.strip().splitlines()
            assert "Permission denied" in line and "does not exist" not in line, line
    finally:
        locked.chmod(0o755)


@pytest.mark.slow
def test_dedup_takes_json_like_every_command(home) -> None:  # type: ignore[no-untyped-def]
    done = run_cli(["dedup", "--json"], home)
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)) >= {"threshold", "groups"}


@pytest.mark.slow
def test_an_id_is_ascii_digits_and_anything_else_a_path(home) -> None:  # type: ignore[no-untyped-def]
    """`similar ²` and `lookup ²` ended in a ValueError traceback: ``str.isdigit`` took "²"
    for an image id and ``int`` refused it. An id is ASCII digits (search.units.whole_number);
    anything else is a file name, and one that is not there is said so."""
    for command, status, says in (
        # neither an image of the library nor a file: a usage error, as lookup's (exit 2)
        (
            "similar",
            2,
            "Error: Invalid value for 'PATH_OR_ID': ² is not an image of this library, and no "
            "file has that name",
        ),
        ("lookup", 2, "Error: Invalid value for 'IMAGE': File '²' does not exist."),
    ):
        done = run_cli([command, "²"], home)
        assert done.returncode == status and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.strip().splitlines()[-1] == says, done.stderr


@pytest.mark.slow
def test_a_damaged_page_is_said_in_one_line(home) -> None:  # type: ignore[no-untyped-def]
    """A library whose database has a damaged page (not a truncated file) made `search` say
    "... (SQLite's quick check: *** in database main ***" and the rest on a second line."""
    shutil.copytree(home / "imgsearch-library", home / "page-damaged")
    database = home / "page-damaged" / "imgsearch.sqlite3"
    with open(database, "r+b") as db:
        db.seek(2 * 4096)  # the third page (SQLite's default page size)
        db.write(b"\xff" * 4096)
    photo = sorted((home / "photos").iterdir())[0]
    done = run_cli(["--library", "page-damaged", "search", str(photo)], home)
    assert done.returncode == 1, done.stdout
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("Error: ") and "is damaged" in line and "quick check" in line, line


def test_rebuild_index_that_cannot_save_its_file_fails(home) -> None:  # type: ignore[no-untyped-def]
    """`rebuild-index` whose FAISS file cannot be written (a folder in its place, a full disk)
    logged a warning and said "rebuilt ...", exit 0: the one thing the command is for was not
    done. It now fails, naming the file, and says that nothing is lost."""
    shutil.copytree(home / "imgsearch-library", home / "unsaved")
    cache = home / "unsaved" / "index.faiss"
    cache.unlink(missing_ok=True)
    cache.mkdir()
    done = run_cli(["--library", "unsaved", "rebuild-index"], home)
    assert done.returncode == 1, done.stdout
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: rebuilt the index but cannot write "), last
    assert str(cache) in last and "nothing is lost" in last, last
    assert "Traceback" not in done.stderr
    cache.rmdir()
    again = run_cli(["--library", "unsaved", "rebuild-index"], home)
    assert again.returncode == 0 and cache.is_file(), again.stderr
