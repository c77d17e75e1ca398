"""Ctrl+C (SIGINT) as a user gives it: every command says so in one line and exits 130 (as
shells report a command they interrupted), `serve` says it stopped; never click's bare
"Aborted!" with status 1, never a traceback."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from tests.cli_process import ENTRY, cli_env, run_cli
from tests.indexer_helpers import copy_photos, photo_paths


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_serve_says_it_stopped(tmp_path: Path, stop: signal.Signals) -> None:
    """Ctrl+C: waitress catches the KeyboardInterrupt itself, and `serve` printed nothing at
    all; SIGTERM (a service manager's stop) and SIGHUP (its terminal closed, an ssh session
    lost) ended the process without a word."""
    proc = subprocess.Popen(
        [*ENTRY, "--library", str(tmp_path / "library"), "serve", "--port", "0"],
        cwd=tmp_path,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as a terminal has it
    )
    try:
        assert "imgsearch: serving" in proc.stdout.readline()  # type: ignore[union-attr]
        proc.send_signal(stop)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert out.strip() == "imgsearch: stopped", out
    assert "Traceback" not in err, err


@pytest.mark.parametrize(
    ("args", "target"),
    [
        (["stats"], "cli.stats_cmds.library_figures"),
        (["rebuild-index", "--index", "hnsw"], "cli.admin_cmds.open_engine"),
    ],
)
def test_ctrl_c_in_any_command_says_so_and_exits_130(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], target: str
) -> None:
    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(target, interrupted)
    result = CliRunner().invoke(cli, ["--library", str(tmp_path / "library"), *args])
    assert result.exit_code == 130, result.output
    assert "Aborted" not in result.output
    assert result.output.strip() == "imgsearch: interrupted", result.output


def test_ctrl_c_in_a_first_index_run_names_its_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, models_dir: Path
) -> None:
    """Stopped before it recorded its collections, a first run said to run `imgsearch
    index`, which then answered "no collections yet: give the folders to index"."""

    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("indexer.run.index_collections", interrupted)
    photos = tmp_path / "my photos"
    photos.mkdir()
    library = tmp_path / "library"
    args = ["--library", str(library), "--model-path", str(models_dir), "index", str(photos)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 130, result.output
    assert f"run `imgsearch index '{photos}'` again to finish" in result.output


def _committed(db: Path) -> int:
    if not db.exists():
        return 0
    with closing(sqlite3.connect(db, timeout=10)) as con:
        try:
            return int(con.execute("SELECT count(*) FROM images").fetchone()[0])
        except sqlite3.OperationalError:  # the schema is being made
            return 0


def _stopped_mid_run(
    tmp_path: Path, data_dir: Path, models_dir: Path, stop: int
) -> tuple[int, str]:
    """Index 40 photos and send ``stop`` once the first batch is committed; the record must
    hold what was written. The run's exit status and stderr (the test skips when the run
    ended first)."""
    photos = copy_photos(photo_paths(data_dir, 40), tmp_path / "photos")
    library = tmp_path / "library"
    args = ["--library", str(library), "--model-path", str(models_dir), "index"]
    args += ["--no-progress", "--batch-size", "4", "--workers", "1", str(tmp_path / "photos")]
    proc = subprocess.Popen(
        [*ENTRY, *args],
        cwd=tmp_path,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while _committed(library / "imgsearch.sqlite3") == 0 and proc.poll() is None:
        assert time.monotonic() < deadline, "no batch was written"
        time.sleep(0.01)
    proc.send_signal(stop)
    _out, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the run finished before it could be stopped")
    stats = run_cli(["--library", str(library), "stats", "--json"], tmp_path)
    assert stats.returncode == 0, stats.stderr
    figures = json.loads(stats.stdout)
    assert 0 < figures["images"] < len(photos)
    assert figures["last_run"]["status"] == "interrupted"
    assert figures["last_run"]["added"] == figures["images"], figures["last_run"]
    assert "Traceback" not in err, err
    return proc.returncode, err


def test_a_killed_index_run_is_recorded_with_what_it_wrote(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """kill -9 mid-run: `stats` said `last run interrupted ...: 0 added` while the run had
    committed images; each batch now commits the run's figures with it."""
    _stopped_mid_run(tmp_path, data_dir, models_dir, signal.SIGKILL)


def test_sigterm_stops_an_index_run_as_ctrl_c_does(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """A service manager's stop or a shutdown sends SIGTERM: Python's default ended the run
    at once without a word (its FAISS cache unsaved). It now stops as Ctrl+C does, keeps
    what it wrote, says so and exits 143; the next run finishes the work."""
    status, err = _stopped_mid_run(tmp_path, data_dir, models_dir, signal.SIGTERM)
    assert status == 143, err
    assert "interrupted: the images indexed so far are saved" in err, err
    library = tmp_path / "library"
    again = run_cli(["--library", str(library), "index", "--no-progress"], tmp_path)
    assert again.returncode == 0, again.stderr
    stats = run_cli(["--library", str(library), "stats", "--json"], tmp_path)
    assert json.loads(stats.stdout)["images"] == 40


def test_sighup_stops_an_index_run_as_sigterm_does(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """A closed terminal or a dropped ssh session (SIGHUP) killed the run without a word, not
    recorded as interrupted at that moment: it now stops as SIGTERM does, exit 129 (128 + 1,
    as shells report a hang-up)."""
    status, err = _stopped_mid_run(tmp_path, data_dir, models_dir, signal.SIGHUP)
    assert status == 129, err
    assert "interrupted: the images indexed so far are saved" in err, err


SLOW_START = """
import builtins, sys, time
real = builtins.__import__
def slow(name, *args, **kwargs):  # the command line's modules take 30 s to load
    if name == "cli.main":
        sys.stderr.write("loading\\n")
        sys.stderr.flush()
        time.sleep(30)
    return real(name, *args, **kwargs)
builtins.__import__ = slow
from cli.entry import main
main()
"""


def test_ctrl_c_while_the_command_line_loads_says_so(tmp_path: Path) -> None:
    """Ctrl+C in the first ~0.1-0.4 s of any command (its modules being imported) printed a
    traceback through importlib: the entry point (the installed `imgsearch`) says it in one
    line and exits 130 from its first moment."""
    import sys
    import tomllib

    pyproject = tomllib.loads(
        (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    )
    assert pyproject["project"]["scripts"]["imgsearch"] == "cli.entry:main"
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_START, "stats"],
        cwd=tmp_path,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None and proc.stderr.readline() == "loading\n"
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert (proc.returncode, err) == (130, "imgsearch: interrupted\n"), err


def test_ctrl_c_while_the_arguments_are_read_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before the command runs (its options being read) it was click's "Aborted!", status 1."""
    import click

    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(click.Group, "parse_args", interrupted)
    result = CliRunner().invoke(cli, ["stats"])
    assert (result.exit_code, result.output) == (130, "imgsearch: interrupted\n"), result.output
