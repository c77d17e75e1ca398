"""`imgsearch db`: migrations that ask before they drop data, backups never overwritten, the
wrong way refused, and a damaged database called damaged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_runner import library_runner
from tests.indexer_helpers import copy_photos, photo_paths


@pytest.fixture
def run(tmp_path: Path, models_dir: Path):  # type: ignore[no-untyped-def]
    return library_runner(tmp_path / "library", models_dir)


def test_db_downgrade_asks_before_it_drops_data(tmp_path: Path, data_dir: Path, models_dir: Path):  # type: ignore[no-untyped-def]
    """``db downgrade base`` dropped every table without a word (on PostgreSQL with no backup
    at all): a downgrade now says what it drops and asks on a terminal (no: nothing changes),
    is refused without a terminal unless ``--yes`` is given, and goes ahead with ``--yes``."""
    import subprocess

    from tests.cli_process import ENTRY, cli_env, run_cli

    copy_photos(photo_paths(data_dir, 2), tmp_path / "photos")
    done = run_cli(["--model-path", str(models_dir), "index", "--no-progress", "photos"], tmp_path)
    assert done.returncode == 0, done.stderr

    def downgrade(*args: str, stdin: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*ENTRY, "db", "downgrade", "base", *args],
            cwd=tmp_path,
            env=cli_env(),
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def current() -> str:
        return run_cli(["db", "current", "--json"], tmp_path).stdout

    head = json.loads(current())["head"]
    refused = downgrade(stdin=subprocess.DEVNULL)
    assert refused.returncode == 1, refused.stderr
    (line,) = refused.stderr.strip().splitlines()
    assert "drops every table of the library" in line and "add --yes" in line, line
    assert json.loads(current())["current"] == head
    # to a revision: the revisions after it, each with what it added (it said only "what the
    # revisions after 0005q added", and README promises it says what it drops)
    from search.store import migrate

    shown = migrate.known_revisions_text().splitlines()[1:]
    previous = shown[-2].split()[0]
    refused = run_cli(["db", "downgrade", previous], tmp_path)
    assert refused.returncode == 1 and shown[-1] in refused.stderr.splitlines(), refused.stderr
    assert shown[-2] not in refused.stderr.splitlines()
    assert refused.stderr.rstrip().endswith("add --yes to do it without a terminal to ask")
    answered = _on_a_terminal([*ENTRY, "db", "downgrade", "base"], tmp_path, b"n\n")
    assert "Downgrade? [y/N]" in answered and "nothing was changed" in answered, answered
    assert json.loads(current())["current"] == head
    done = downgrade("--yes", "--json", stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    backup = tmp_path / "imgsearch-library" / f"imgsearch.sqlite3.bak-{head}"
    assert json.loads(done.stdout) == {"before": head, "after": None, "backup": str(backup)}
    assert backup.is_file()


def test_a_backup_is_never_overwritten(tmp_path: Path, data_dir: Path, models_dir: Path) -> None:
    """`db downgrade PREVIOUS` wrote `.bak-HEAD`, the next command upgraded the library again
    without a word, and `db downgrade base` then wrote `.bak-HEAD` over the first backup:
    each backup is now a new file, and the command (or the upgrade's warning) names it."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from search.store import migrate
    from tests.cli_process import run_cli

    copy_photos(photo_paths(data_dir, 2), tmp_path / "photos")
    done = run_cli(["--model-path", str(models_dir), "index", "--no-progress", "photos"], tmp_path)
    assert done.returncode == 0, done.stderr
    config = Config()
    config.set_main_option("script_location", str(migrate.MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    previous = ScriptDirectory.from_config(config).get_revision(head).down_revision
    database = tmp_path / "imgsearch-library" / "imgsearch.sqlite3"

    first = database.with_name(f"imgsearch.sqlite3.bak-{head}")
    down = run_cli(["db", "downgrade", previous, "--yes", "--json"], tmp_path)
    assert down.returncode == 0 and first.is_file(), down.stderr
    kept = first.read_bytes()
    opened = run_cli(["stats", "--json"], tmp_path)  # opening it upgrades it again
    assert opened.returncode == 0 and json.loads(opened.stdout)["images"] == 2, opened.stderr
    again = run_cli(["db", "downgrade", "base", "--yes"], tmp_path)
    assert again.returncode == 0, again.stderr
    assert first.read_bytes() == kept  # the first backup is as it was written
    assert json.loads(down.stdout)["backup"] == str(first)
    assert f"upgraded the library schema from {previous} to {head}" in opened.stderr
    assert str(database.with_name(f"imgsearch.sqlite3.bak-{previous}")) in opened.stderr
    second = database.with_name(f"imgsearch.sqlite3.bak-{head}-2")
    assert f"kept as {second}" in again.stdout and second.is_file(), again.stdout


def test_a_migration_the_wrong_way_is_refused_without_a_backup(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """`db upgrade PREVIOUS` of a library at head copied the database, did nothing and said
    "schema HEAD -> HEAD" (exit 0); `db downgrade HEAD` of one at PREVIOUS copied it, then
    failed with Alembic's "not a valid downgrade target from current head(s)". Each now says
    which command goes there, changes nothing and leaves no copy behind."""
    from search.store import migrate
    from tests.cli_process import run_cli

    copy_photos(photo_paths(data_dir, 2), tmp_path / "photos")
    done = run_cli(["--model-path", str(models_dir), "index", "--no-progress", "photos"], tmp_path)
    assert done.returncode == 0, done.stderr
    head = migrate.head_revision()
    order = migrate.known_revisions_text().splitlines()[1:]
    previous = order[-2].split()[0]
    library = tmp_path / "imgsearch-library"

    def backups() -> list[str]:
        return sorted(p.name for p in library.glob("*.bak-*"))

    up = run_cli(["db", "upgrade", previous], tmp_path)
    assert up.returncode == 1, up.stdout + up.stderr
    (line,) = up.stderr.strip().splitlines()
    assert f"{previous} is older than the library's schema {head}" in line, line
    assert f"`imgsearch db downgrade {previous}`" in line and backups() == [], line
    down = run_cli(["db", "downgrade", previous, "--yes"], tmp_path)
    assert down.returncode == 0, down.stderr
    made = backups()
    again = run_cli(["db", "downgrade", head, "--yes"], tmp_path)
    assert again.returncode == 1 and "Traceback" not in again.stderr, again.stderr
    (line,) = again.stderr.strip().splitlines()
    assert f"{head} is newer than the library's schema {previous}" in line, line
    assert f"`imgsearch db upgrade {head}`" in line and backups() == made, line
    current = run_cli(["db", "current", "--json"], tmp_path)
    assert json.loads(current.stdout)["current"] == previous


def _on_a_terminal(command: list[str], cwd: Path, answer: bytes) -> str:
    """Run ``command`` on a pseudo-terminal, type ``answer`` once it asks; what it printed."""
    import os
    import pty
    import subprocess

    from tests.cli_process import cli_env, read_until_closed

    master, slave = pty.openpty()
    process = subprocess.Popen(
        command, cwd=cwd, env=cli_env(), stdin=slave, stdout=slave, stderr=slave
    )
    os.close(slave)
    out = b""
    while b"[y/N]" not in out:
        data = os.read(master, 4096)
        assert data, out
        out += data
    os.write(master, answer)
    out += read_until_closed(master)
    assert process.wait(timeout=60) == 1
    return out.decode("utf-8", "replace")


def test_db_commands_call_a_damaged_database_damaged(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`db current / upgrade / downgrade` said SQLite's bare "database disk image is
    malformed" or "file is not a database", where every other command says the file is
    damaged, what `db check` does and how to recover. A page overwritten inside a file of the
    right size and header (an audit's 4 KB at offset 8192) passed `db current` and `db upgrade`
    ("already there, nothing to do", exit 0): SQLite's quick check runs there too."""
    (tmp_path / "none").mkdir()
    run("index", "--no-progress", str(tmp_path / "none"))
    database = run.library / "imgsearch.sqlite3"
    whole = database.read_bytes()
    overwritten = whole[:8192] + b"\xab" * 4096 + whole[8192 + 4096 :]
    for damaged in (whole[:20000], b"garbage" * 100, overwritten):
        database.write_bytes(damaged)
        for args in (("db", "current"), ("db", "upgrade"), ("db", "downgrade", "0002", "--yes")):
            said = run(*args, code=1).output
            assert "is damaged" in said and "imgsearch db check" in said, (args, said)
        assert database.read_bytes() == damaged and not list(run.library.glob("*.bak-*"))


def test_db_commands_leave_a_zero_byte_database_as_it_is(run) -> None:  # type: ignore[no-untyped-def]
    """`db current` on a zero-byte database file wrote SQLite's 4 KB header into it (`db
    upgrade` made an empty library there) where every other command refuses the file before
    SQLite opens it: each `db` command now says the same one line and writes nothing."""
    run.library.mkdir()
    database = run.library / "imgsearch.sqlite3"
    database.touch()
    said = run("stats", code=1).output.strip()
    assert "has no imgsearch library yet" in said, said
    for args in (
        ("db", "current"),
        ("db", "current", "--json"),
        ("db", "upgrade"),
        ("db", "downgrade", "base", "--yes"),
        ("db", "check"),
    ):
        assert run(*args, code=1).output.strip() == said, args
        assert database.stat().st_size == 0, args
    assert sorted(p.name for p in run.library.iterdir()) == ["imgsearch.sqlite3"]


def test_a_sqlite_url_with_options_is_its_file(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """`--database-url sqlite:///FILE?timeout=30`: `db check` said "cannot use FILE?timeout=30"
    of a library `index` had just made, and a damaged FILE was reported as FILE?timeout=30 (the
    create path of Store.open and check_database took the options for part of the name)."""
    from click.testing import CliRunner

    from cli.main import cli

    database = tmp_path / "lib.db"
    url = f"sqlite:///{database}?timeout=30"
    copy_photos(photo_paths(data_dir, 2), tmp_path / "photos")

    def invoke(*args: str, code: int = 0) -> str:
        options = ["--library", str(tmp_path / "library"), "--model-path", str(models_dir)]
        done = CliRunner().invoke(cli, [*options, "--database-url", url, *args])
        assert done.exit_code == code, done.output
        assert "?timeout" not in done.output, done.output
        return done.output

    invoke("index", "--no-progress", str(tmp_path / "photos"))
    assert database.is_file() and [p.name for p in tmp_path.glob("lib.db?*")] == []
    assert invoke("db", "check").startswith(f"{database}: ok (header, size")
    whole = database.read_bytes()
    database.write_bytes(b"garbage!" * 2 + whole[16:])
    said = invoke("db", "check", code=1)
    assert f"{database} is damaged" in said and "To recover" in said, said
    said = invoke("index", "--no-progress", str(tmp_path / "photos"), code=1)
    assert f"the library database {database} is damaged" in said, said


def test_a_checkpoint_cut_short_by_a_full_disk_is_finished_not_called_damage(  # type: ignore[no-untyped-def]
    run, tmp_path: Path, data_dir: Path
) -> None:
    """An audit filled the disk during `index`: SQLite's checkpoint had written the database's
    first page (its header, with the new size) and no other, the write-ahead log held every
    page. Every command then said "is damaged: the file is truncated" - for good, space freed
    or not - and advised moving the file aside (which would have thrown the log's pages away).
    The header check now leaves such a file to SQLite, which finishes the checkpoint."""
    import shutil
    import sqlite3

    photos = copy_photos(photo_paths(data_dir, 3), tmp_path / "photos")
    run("index", "--no-progress", str(photos[0].parent))
    # the library as a first run on a full disk leaves it: every page in the log
    crashed = tmp_path / "crashed"
    shutil.copytree(run.library, crashed, ignore=shutil.ignore_patterns("imgsearch.sqlite3*"))
    source = sqlite3.connect(run.library / "imgsearch.sqlite3")
    target = sqlite3.connect(crashed / "imgsearch.sqlite3")
    target.execute("PRAGMA journal_mode=WAL")
    target.execute("PRAGMA wal_autocheckpoint=0")
    source.backup(target)
    held = tmp_path / "held"  # the files while the writer still had them open
    shutil.copytree(crashed, held)
    target.close()
    source.close()
    shutil.rmtree(crashed)
    held.rename(crashed)
    wal = (crashed / "imgsearch.sqlite3-wal").read_bytes()
    page_size = int.from_bytes(wal[8:12], "big")
    first = None
    for offset in range(32, len(wal) - 24 - page_size + 1, 24 + page_size):
        if int.from_bytes(wal[offset : offset + 4], "big") == 1:
            first = wal[offset + 24 : offset + 24 + page_size]
    assert first is not None
    (crashed / "imgsearch.sqlite3").write_bytes(first)  # page 1 written, the rest not
    checked = run("--library", str(crashed), "db", "check")
    assert "damaged" not in checked.output and "truncated" not in checked.output, checked.output
    figures = json.loads(run("--library", str(crashed), "stats", "--json").stdout)
    assert figures["images"] == 3
