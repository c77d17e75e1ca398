"""Names the CLI cannot use, said in one line (a new user's audit, 2026-12-06): a malformed
``--database-url`` ended every command in an 85-line traceback, and a file or folder name that
is not valid UTF-8 given to ``similar``, ``remove`` or ``index`` in a traceback from the
database (the index's own walk skips such names with a warning). A library folder with such a
name works: its run summary and ``stats`` crashed showing the database URL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli_process import ENTRY, cli_env, run_cli

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("bogus", "'bogus' is not a database URL"),
        ("postgres:/bad", "is not a database URL"),
        ("foo://host/db", "'foo' is not a database imgsearch knows"),
        # a raw '@' in the password: psycopg took "ss#w%rd@127.0.0.1" for the host and the
        # message printed that part of the password (a new user's audit)
        ("postgresql://bob:p@ss#w%rd@127.0.0.1:1/db", "bob:***@127.0.0.1:1/db holds '@'"),
    ],
)
def test_a_malformed_database_url_is_a_usage_error(tmp_path: Path, url: str, says: str) -> None:
    for args in (["--database-url", url, "stats"], ["stats"]):
        env = {"IMGSEARCH_DATABASE_URL": url} if args == ["stats"] else None
        done = run_cli(args, tmp_path, env=env, timeout=60)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr and says in done.stderr, done.stderr
        assert "--database-url" in done.stderr
        assert "ss#w" not in done.stderr  # no part of a password is printed


def test_names_that_are_not_utf8_are_refused_in_one_line(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    source = sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[:2]
    shutil.copyfile(source[0], photos / "ok.jpg")
    odd = os.fsdecode(bytes(photos) + b"/caf\xe9.jpg")
    shutil.copyfile(source[1], odd)
    odd_folder = os.fsdecode(bytes(photos) + b"/d\xff")
    os.mkdir(odd_folder)
    library = os.fsdecode(bytes(tmp_path) + b"/lib\xe9")  # the library's own folder
    first = run_cli(
        ["--library", library, "--model-path", str(models_dir), "index", str(photos)], tmp_path
    )
    assert first.returncode == 0 and "Traceback" not in first.stderr, first.stderr
    assert "name is not valid UTF-8 (rename it); skipped" in first.stdout + first.stderr
    stats = run_cli(["--library", library, "stats", "--json"], tmp_path)
    assert stats.returncode == 0 and json.loads(stats.stdout)["images"] == 1, stats.stderr
    for args in (["similar", odd], ["remove", odd], ["index", odd_folder]):
        done = run_cli(["--library", library, *args], tmp_path)
        assert done.returncode == 2, (args, done.stderr)
        last = done.stderr.strip().splitlines()[-1]
        assert "the name is not valid UTF-8 (rename it" in last and "Traceback" not in done.stderr
    searched = run_cli(["--library", library, "search", odd], tmp_path)  # a query is not stored
    assert searched.returncode == 0 and "ok.jpg" in searched.stdout, searched.stderr


def test_a_library_on_a_read_only_mount_is_said_to_be_read_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`index` on a library bind-mounted read-only said "cannot be opened ... check that its
    folder exists and is writable" (SQLite cannot make its -wal file beside the database),
    where `remove` said the library is read-only: both say read-only now. (A read-only mount
    needs root to make; the folder's test is monkeypatched.)"""
    import sqlite3

    from cli import errors

    database = tmp_path / "imgsearch.sqlite3"
    database.write_bytes(b"")
    error = sqlite3.OperationalError("unable to open database file")
    said = errors.describe_database_error(error, str(database))
    assert "cannot be opened" in said  # a writable folder: the folder's hint stands
    monkeypatch.setattr(errors.os, "access", lambda path, mode, **_: False)
    said = errors.describe_database_error(error, str(database))
    assert "is read-only for this user" in said and "copy the library somewhere" in said
    assert "cannot be opened" in errors.describe_database_error(error, str(tmp_path / "none"))


def test_a_full_disk_is_said_to_be_full_not_damaged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a full disk SQLite cannot make its shared-memory file or finish a checkpoint: an
    audit's `stats` said "could not be read or written (disk I/O error): check the disk" and
    `db check` "is damaged", for an intact library. Both say the disk is full now (`db check`
    was seen on a full tmpfs; here the free space is monkeypatched)."""
    import sqlite3

    import search.store
    from cli import errors

    database = tmp_path / "imgsearch.sqlite3"
    database.write_bytes(b"")
    error = sqlite3.OperationalError("disk I/O error")
    assert "check the disk" in errors.describe_database_error(error, str(database))
    monkeypatch.setattr(search.store, "disk_full", lambda path, room=1 << 20: True)
    said = errors.describe_database_error(error, str(database))
    assert "the disk is full" in said and "free some space" in said, said


def test_a_name_that_is_not_utf8_is_written_with_byte_escapes_in_json(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """`embed` / `classify --json` of bad\\xffname.jpg wrote "bad\\udcffname.jpg", a lone
    surrogate that jq turns into U+FFFD and no consumer can turn back into the file; the name
    is written as Python writes bytes (\\xff), valid UTF-8 JSON."""
    source = sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[0]
    odd = os.fsdecode(bytes(tmp_path) + b"/bad\xffname.jpg")
    shutil.copyfile(source, odd)
    shown = f"{tmp_path}/bad\\xffname.jpg"
    for command in ("embed", "classify"):
        done = subprocess.run(
            [*ENTRY, "--model-path", str(models_dir), command, "--json", odd],
            cwd=tmp_path,
            env=cli_env(),
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert b"\\ud" not in done.stdout, done.stdout[:200]
        entry = json.loads(done.stdout.decode("utf-8"))  # strict: valid UTF-8
        assert entry["path"] == shown, entry["path"]
        text = run_cli(["--model-path", str(models_dir), command, odd], tmp_path)
        assert text.stdout.startswith(shown), text.stdout[:200]
