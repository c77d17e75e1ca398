"""The CLI's surroundings given wrong: environment variables out of range or naming missing
folders, a host `serve` cannot use, a reader that leaves, an empty database file - run as a
user runs them (a subprocess): one line, exit 1 or 2, never a traceback."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_process import run_cli
from tests.indexer_helpers import photo_paths


def test_serve_on_a_host_it_cannot_use_says_so(tmp_path: Path) -> None:
    """A --host that is no address of this machine (a typo, a name that does not resolve):
    exit 2 naming --host, no traceback (waitress's ValueError came through)."""
    for host in ("nosuchhost.invalid", "999.1.1.1"):
        done = run_cli(["serve", "--host", host, "--port", "0"], tmp_path, timeout=60)
        assert done.returncode == 2, done.stderr
        assert "'--host'" in done.stderr and "neither an IP address" in done.stderr
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "imgsearch-library").exists()


def test_serve_on_a_bracketed_ipv6_host_prints_a_working_address(tmp_path: Path) -> None:
    """`--host [::1]` printed http://[[::1]]:PORT/; the address printed is one to open."""
    import urllib.request

    from tests.cli_process import ENTRY, cli_env
    from tests.served import serving

    command = [*ENTRY, "serve", "--host", "[::1]", "--port", "0", "--threads", "2"]
    with serving(command, tmp_path, cli_env()) as server:
        assert server.url.startswith("http://[::1]:"), server.url
        with urllib.request.urlopen(server.url + "/static/app.css", timeout=30) as answer:
            assert answer.status == 200


def test_a_setting_out_of_range_names_its_variable(tmp_path: Path) -> None:
    """IMGSEARCH_DEDUP_THRESHOLD=5 said "threshold must be in (0, 1], got 5.0" (at lookup or
    dedup: which threshold?), a negative decode budget was clamped, a negative thread count
    passed (a huge one reached onnxruntime: a traceback), IMGSEARCH_INDEX=bogus let `index`
    build a flat index and exit 0, nan passed every range (dedup and lookup then failed
    naming no variable): each is one line naming the variable and what it may be."""
    threads = "from 0 (automatic) to 1024"
    cases = [
        ("IMGSEARCH_INDEX", "bogus", "one of auto, flat, hnsw, ivf-sq8, ivfpq-ondisk"),
        ("IMGSEARCH_DEDUP_THRESHOLD", "5", "a copy score above 0 and at most 1"),
        ("IMGSEARCH_DEDUP_THRESHOLD", "nan", "a copy score above 0 and at most 1"),  # passed
        ("IMGSEARCH_DECODE_BUDGET_MB", "-5", "at least 64"),
        ("IMGSEARCH_THREADS", "-1", threads),
        ("IMGSEARCH_THREADS", "99999999999999999999", threads),  # was onnxruntime's traceback
        ("IMGSEARCH_LOCK_WAIT", "-3", "0 or more seconds"),
        ("IMGSEARCH_LOCK_WAIT", "nan", "0 or more seconds"),
    ]
    for name, value, said in cases:
        done = run_cli(["stats"], tmp_path, env={name: value}, timeout=60)
        assert done.returncode == 1, done.stderr
        assert f"{name}='{value}' must be {said}" in done.stderr, done.stderr
        assert len(done.stderr.splitlines()) == 1, done.stderr


def test_a_bad_executor_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    """IMGSEARCH_EXECUTOR=bogus said "Invalid value for '--executor'" (an option the user
    never gave): now one line naming the variable and its value, before any work; the option
    itself is still a usage error naming ``--executor``."""
    (tmp_path / "photos").mkdir()
    env = {"IMGSEARCH_EXECUTOR": "bogus"}
    done = run_cli(["index", "--no-progress", "photos"], tmp_path, env=env, timeout=60)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("Error: IMGSEARCH_EXECUTOR='bogus': give 'local'"), done.stderr
    assert "--executor" not in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr
    done = run_cli(["index", "--executor", "bogus", "photos"], tmp_path, timeout=60)
    assert done.returncode == 2 and "'--executor'" in done.stderr, done.stderr
    assert "IMGSEARCH_EXECUTOR" not in done.stderr, done.stderr  # the option, not the variable
    assert not (tmp_path / "imgsearch-library").exists()


def test_db_check_of_an_empty_database_file_says_there_is_no_library(tmp_path: Path) -> None:
    """An empty SQLite file where the library's database belongs (``touch``, a failed copy)
    passed ``db check`` as "ok" while every other command refused it: now one line saying it
    holds no library yet and what creates one."""
    (tmp_path / "imgsearch-library").mkdir()
    (tmp_path / "imgsearch-library" / "imgsearch.sqlite3").touch()
    done = run_cli(["db", "check"], tmp_path, timeout=60)
    assert done.returncode == 1 and "ok (" not in done.stdout, done.stdout
    (line,) = done.stderr.strip().splitlines()
    assert "has no imgsearch library yet" in line and "`imgsearch index PATH`" in line, line
    # stats said "run `imgsearch db upgrade`" (which makes an empty library): the same advice
    stats = run_cli(["stats"], tmp_path, timeout=60)
    assert stats.returncode == 1 and stats.stderr.strip() == line, stats.stderr
    # and a read command leaves the file as it found it (stats wrote SQLite's header into it)
    assert (tmp_path / "imgsearch-library" / "imgsearch.sqlite3").stat().st_size == 0


def test_help_names_the_environment_variables_readme_documents(tmp_path: Path) -> None:
    """README documents IMGSEARCH_LIBRARY, IMGSEARCH_DATABASE_URL, IMGSEARCH_EXECUTOR and
    IMGSEARCH_TOKEN beside their options; no ``--help`` said so (a user who set one in a
    shell profile could not find where a value came from)."""
    cases = {
        (): ("IMGSEARCH_LIBRARY", "IMGSEARCH_DATABASE_URL", "IMGSEARCH_MODEL_PATH"),
        ("index",): ("IMGSEARCH_EXECUTOR",),
        ("reindex",): ("IMGSEARCH_EXECUTOR",),
        ("serve",): ("IMGSEARCH_TOKEN",),
    }
    for command, names in cases.items():
        done = run_cli([*command, "--help"], tmp_path, timeout=60)
        assert done.returncode == 0, done.stderr
        text = " ".join(done.stdout.split())  # wrapped to the terminal's width
        for name in names:
            assert name in text, (command, name, done.stdout)


@pytest.mark.parametrize(
    "args",
    [["--help"], ["models", "list"], ["index", "--help"]],
    ids=["help", "models-list", "command-help"],
)
def test_a_reader_that_leaves_ends_the_command_quietly(
    tmp_path: Path, models_dir: Path, args: list[str]
) -> None:
    """`imgsearch ... | head`: the reader is gone before the output is written; the command
    stops with status 1 (as click's own help does) and says nothing."""
    from tests.cli_process import ENTRY, cli_env

    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [*ENTRY, "--model-path", str(models_dir), *args],
            cwd=tmp_path,
            env=cli_env(),
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write)
    assert done.returncode == 1, (done.returncode, done.stderr)
    assert done.stderr == ""


@pytest.mark.parametrize("unbuffered", ["1", ""], ids=["PYTHONUNBUFFERED", "buffered"])
def test_a_reader_that_leaves_half_way_ends_the_command_with_status_1(
    tmp_path: Path, data_dir: Path, models_dir: Path, unbuffered: str
) -> None:
    """`imgsearch search q.jpg -k 500 | head -1` ended with status 0 under PYTHONUNBUFFERED
    (set in many containers): the write that the reader's leaving cut short was dropped
    without an error. It ends with status 1, quietly, either way. (The pipe holds one page
    here, so that 40 results are written in more than one go, as 500 are to a usual pipe.)"""
    from tests.cli_process import cli_env

    photos = tmp_path / "photos"
    photos.mkdir()
    for source in sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[:40]:
        shutil.copy(source, photos / source.name)
    common = ["--library", str(tmp_path / "lib"), "--model-path", str(models_dir)]
    indexed = run_cli([*common, "index", "--no-progress", str(photos)], tmp_path)
    assert indexed.returncode == 0, indexed.stderr
    read, write = os.pipe()
    fcntl.fcntl(write, getattr(fcntl, "F_SETPIPE_SZ", 1031), 4096)
    entry = [sys.executable, "-c", "from cli.main import main; main()"]  # no -u
    search = ["search", str(photos / "ukbench00000.jpg"), "-k", "40", "--json"]
    try:
        process = subprocess.Popen(
            [*entry, *common, *search],
            cwd=tmp_path,
            env=cli_env({"PYTHONUNBUFFERED": unbuffered}),
            stdout=write,
            stderr=subprocess.PIPE,
        )
    finally:
        os.close(write)
    with os.fdopen(read, "rb") as reader:
        assert len(reader.read(100)) == 100  # the first line or so, then the reader leaves
    assert process.stderr is not None
    errors = process.stderr.read().decode()
    assert process.wait(timeout=120) == 1, errors
    assert errors == ""


@pytest.mark.parametrize(
    ("given", "says"),
    [("nothere", "nothere: no such folder"), ("photos/a.jpg", "photos/a.jpg: not a folder")],
)
def test_a_model_path_that_is_not_a_folder_is_named(
    tmp_path: Path, models_dir: Path, given: str, says: str
) -> None:
    """`--model-path` with a typo was searched silently - and ignored outright once the
    library remembered its model folder: the user never learnt the folder was not there."""
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.jpg").write_bytes(b"not searched")
    for model_path in (given, f"{models_dir}{os.pathsep}{given}"):
        done = run_cli(["--model-path", model_path, "stats"], tmp_path, timeout=60)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        last = done.stderr.strip().splitlines()[-1]
        said = f"Error: Invalid value for '--model-path': {says} (a folder to search for model"
        assert last == said + " files)", last


def test_a_model_path_variable_with_a_missing_folder_warns(
    tmp_path: Path, models_dir: Path
) -> None:
    """IMGSEARCH_MODEL_PATH's entries are searched as they are (a folder may come back), but
    one that is not there is named once on stderr; empty entries (``$X:...``) are not."""
    env = {"IMGSEARCH_MODEL_PATH": f":{models_dir}:nothere:"}
    done = run_cli(["stats"], tmp_path, env=env, timeout=60)
    warning = "Warning: IMGSEARCH_MODEL_PATH nothere: no such folder (a folder to search for"
    assert done.stderr.startswith(warning), done.stderr
    assert done.returncode == 1 and "no library database" in done.stderr
    fine = run_cli(["stats"], tmp_path, env={"IMGSEARCH_MODEL_PATH": f":{models_dir}:"})
    assert "Warning" not in fine.stderr, fine.stderr


def test_the_model_runtime_writes_and_sends_nothing_of_its_own(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """An audit found ONNX Runtime 1.32's telemetry store under ~/.cache/Microsoft after any
    command that loads the model (a device id, an event database; it sends a process event),
    and a coloured warning on stderr where HOME cannot be written. imgsearch switches it off
    (ORT_DISABLE_TELEMETRY, unless the environment sets it); what it writes outside the
    library is its own model checksum cache."""
    home = tmp_path / "home"
    home.mkdir()
    photo = next((data_dir / "ukbench_subset" / "images").glob("*.jpg"))
    env = {"HOME": str(home), "XDG_CACHE_HOME": ""}
    done = run_cli(["--model-path", str(models_dir), "embed", str(photo)], tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    written = sorted(p.relative_to(home).as_posix() for p in home.rglob("*") if p.is_file())
    assert written == [".cache/imgsearch/sha256-cache.json"], written
    (home / "blocked").write_text("")  # a HOME under which nothing can be made
    env = {"HOME": str(home / "blocked"), "XDG_CACHE_HOME": ""}
    done = run_cli(["--model-path", str(models_dir), "embed", str(photo)], tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "onnxruntime" not in done.stderr and "\x1b[" not in done.stderr, done.stderr


def test_a_mistyped_variable_is_named_and_index_says_which_library_it_made(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """IMGSEARCH_LIBARY=/data/lib (a typo in a cron job) was ignored without a word, and
    `index` built ./imgsearch-library in the job's folder, its summary naming no library:
    each unknown IMGSEARCH_* variable is now a warning naming the closest known one, and
    the summary (text and --json) names the library and whether the run created it."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for source in photo_paths(data_dir, 3):
        shutil.copy(source, photos / source.name)
    env = {"IMGSEARCH_LIBARY": str(tmp_path / "meant"), "IMGSEARCH_MODEL_PATH": str(models_dir)}
    done = run_cli(["index", "--no-progress", "photos"], tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "Warning: IMGSEARCH_LIBARY is not a variable imgsearch reads (ignored); did you "
        "mean IMGSEARCH_LIBRARY?"
    ]
    made = tmp_path / "imgsearch-library"
    assert f"created the library {made}" in done.stdout.splitlines(), done.stdout
    again = run_cli(["index", "--json", "--no-progress"], tmp_path, env=env)
    summary = json.loads(again.stdout)
    assert (summary["library"], summary["library_created"]) == (str(made), False)
    assert summary["database"] == f"sqlite:///{made / 'imgsearch.sqlite3'}"
    assert f"library folder {made}" in run_cli(["index"], tmp_path).stdout.splitlines()
    # names the suite and benchmarks use, and the known ones, are not warned of
    quiet = {"IMGSEARCH_SHARED": "x", "IMGSEARCH_TEST_POSTGRES_URL": "x", "IMGSEARCH_INDEX": "flat"}
    assert "Warning" not in run_cli(["stats"], tmp_path, env=quiet).stderr
    far = run_cli(["stats"], tmp_path, env={"IMGSEARCH_COLOUR": "1"}).stderr
    assert far.startswith(
        "Warning: IMGSEARCH_COLOUR is not a variable imgsearch reads "
        "(ignored); README's Configuration lists them\n"
    ), far


def test_the_known_variables_are_the_ones_readme_documents() -> None:
    """The warning's list of known names and README's Configuration table say the same (a
    variable added to one only would be warned of while it works, or the other way)."""
    import re

    from search.settings import ENVIRONMENT_NAMES

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n\n", 2)[1]
    assert set(re.findall(r"`(IMGSEARCH_[A-Z_]+)`", table)) == set(ENVIRONMENT_NAMES)
