"""Ctrl+C (SIGINT) as a user gives it: every command says so in one line and exits 130 (as
shells report a command they interrupted), `serve` says it stopped; never click's bare
"Aborted!" with status 1, never a traceback."""

from __future__ import annotations

import json
import shlex
import signal
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from cli.rerun import rerun_command
from search.library import Library
from tests.cli_process import AS_FROM_A_TERMINAL, ENTRY, cli_env, run_cli
from tests.indexer_helpers import copy_photos, photo_paths


def _spawn(command: list[str], cwd: Path) -> subprocess.Popen[str]:
    """``command`` started as from a terminal, its output kept apart."""
    return subprocess.Popen(
        [*AS_FROM_A_TERMINAL, *command],
        cwd=cwd,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_serve_says_it_stopped(tmp_path: Path, stop: signal.Signals) -> None:
    """Ctrl+C: waitress catches the KeyboardInterrupt itself, and `serve` printed nothing at
    all; SIGTERM (a service manager's stop) and SIGHUP (its terminal closed, an ssh session
    lost) ended the process without a word."""
    proc = _spawn(
        [*ENTRY, "--library", str(tmp_path / "library"), "serve", "--port", "0"], tmp_path
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
    assert f"run `imgsearch {' '.join(args[:-1])} '{photos}'` to finish" in result.output


def test_the_advice_after_ctrl_c_is_the_command_as_typed_and_finishes_the_library(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path, models_dir: Path
) -> None:
    """An audit ran `imgsearch --library mylib --model-path M index PHOTOS --exclude bees/`
    and pressed Ctrl+C; the advice `imgsearch index PHOTOS` built a second library in the
    current folder (bees included), or failed for want of the model. Stopped before the
    library was opened, the message said images were saved."""
    sources = photo_paths(data_dir, 4)
    copy_photos(sources[:3], tmp_path / "photos")
    copy_photos(sources[3:], tmp_path / "photos" / "skip")
    args = ["--library", "mylib", "--model-path", str(models_dir), "index", "photos"]
    args += ["--exclude", "skip/", "--no-progress"]
    real_open = Library.open

    def stopped_at_open(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(Library, "open", stopped_at_open)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 130, result.output
    advice = f"run `imgsearch {shlex.join(args)}` to finish"
    assert f"interrupted: nothing was indexed yet; {advice}" in result.output.strip()

    monkeypatch.setattr(Library, "open", real_open)
    command = shlex.split(result.output.split("run `", 1)[1].split("`", 1)[0])
    assert command[0] == "imgsearch"
    done = CliRunner().invoke(cli, [*command[1:], "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output[done.output.index("{") :])["added"] == 3  # not the excluded
    assert not (tmp_path / "imgsearch-library").exists()  # no second library


def test_a_stopped_reindex_advises_index_of_the_same_library() -> None:
    assert rerun_command("index", ["--library", "my lib", "-v", "reindex", "--model", "x"]) == (
        "imgsearch --library 'my lib' -v index"
    )
    url = "postgresql://me:s3cret@db.example/photos"
    said = rerun_command(None, ["--database-url", url, "index", "/p"])
    assert said == "imgsearch --database-url 'postgresql://me:***@db.example/photos' index /p"


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
    proc = _spawn([*ENTRY, *args], tmp_path)
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


def test_an_interrupted_rebuild_index_keeps_the_kind_asked_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path, models_dir: Path
) -> None:
    """An audit pressed Ctrl+C during `rebuild-index --index ivf-sq8`: the kind was recorded
    before the build, so a later rebuild (after a re-index) built the cancelled kind."""
    copy_photos(photo_paths(data_dir, 3), tmp_path / "photos")
    library = ["--library", str(tmp_path / "library"), "--model-path", str(models_dir)]
    assert (
        CliRunner()
        .invoke(cli, [*library, "index", "--no-progress", str(tmp_path / "photos")])
        .exit_code
        == 0
    )

    def stopped(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Library, "_build", stopped)
    result = CliRunner().invoke(cli, [*library, "rebuild-index", "--index", "hnsw"])
    assert result.exit_code == 130, result.output
    monkeypatch.undo()
    stats = CliRunner().invoke(cli, [*library, "stats", "--json"])
    assert json.loads(stats.output)["index"]["requested_kind"] == "auto", stats.output
    rebuilt = CliRunner().invoke(cli, [*library, "rebuild-index"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "hnsw" not in rebuilt.output, rebuilt.output
    done = CliRunner().invoke(cli, [*library, "rebuild-index", "--index", "hnsw"])
    assert done.exit_code == 0, done.output
    stats = CliRunner().invoke(cli, [*library, "stats", "--json"])
    assert json.loads(stats.output)["index"]["requested_kind"] == "hnsw", stats.output


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
    proc = _spawn([sys.executable, "-c", SLOW_START, "stats"], tmp_path)
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
