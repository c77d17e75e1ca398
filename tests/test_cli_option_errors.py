"""Options given wrong values by hand - an unknown keeper rule, a number out of range, a
control character, two output formats, an in-memory database, options of another mode, a
token that cannot travel in a header, an empty model name - run as a user runs them: one
line naming the option, exit 2, never a traceback (tests/test_cli_usage_errors.py: the rest)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.cli_process import ENTRY, cli_env, run_cli


def test_an_unknown_keeper_rule_is_a_usage_error_before_any_work(tmp_path: Path) -> None:
    """`dedup --keeper-rules exif,bogus` failed with exit 1 after opening the library; it
    is now a usage error naming the option, as other bad option values are."""
    done = run_cli(["dedup", "--keeper-rules", "exif,bogus"], tmp_path, timeout=60)
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: Invalid value for '--keeper-rules'") and "bogus" in last


@pytest.mark.parametrize(
    ("args", "option", "default"),
    [
        (["serve", "--port", "70000"], "--port", "8000"),
        (["serve", "--threads", "0"], "--threads", "8"),
        (["eval", "make-copies", "--per-original", "0", "src", "out"], "--per-original", "20"),
        (["eval", "make-copies", "--distractors", "0.99", "src", "out"], "--distractors", "0.2"),
        (["lookup", "--others", "101", "x.jpg"], "--others", "5"),
        (["outliers", "--k", "31"], "--k", None),
        (["classify", "--score-threshold", "1.5", "x.jpg"], "--score-threshold", "0.0"),
        (["embed", "--interval", "0.01", "x.jpg"], "--interval", "2.0"),
        (["flags", "--offset", "9" * 22], "--offset", None),  # SQLite's OverflowError, a traceback
        # no bound: a huge batch decoded a whole folder at once, a huge --workers read it ahead
        (["index", "--batch-size", "10000000", "photos"], "--batch-size", None),
        (["index", "--workers", "100000", "photos"], "--workers", "0"),
        # nan passed click's FloatRange: exit 1 from the engine, or "threshold": NaN (no JSON)
        (["eval", "run", "--threshold", "nan", "--json", "folder"], "--threshold", None),
        (["lookup", "--threshold", "nan", "x.jpg"], "--threshold", None),
        (["dedup", "--threshold", "nan"], "--threshold", None),
        (["search", "--min-score", "nan", "x.jpg"], "--min-score", None),
        (["similar", "--min-score", "nan", "1"], "--min-score", None),
        (["classify", "--score-threshold", "nan", "x.jpg"], "--score-threshold", "0.0"),
    ],
)
def test_a_number_out_of_its_range_is_a_usage_error_and_help_shows_its_default(
    tmp_path: Path, args: list[str], option: str, default: str | None
) -> None:
    """The number options shared one shape written out in each command (serve's --port and
    --threads, eval make-copies', lookup's, outliers', classify's, embed's): now one helper
    (``cli.options.ranged_option``) makes them; each still refuses a value out of its range
    before any work, naming itself, and its help still shows the default."""
    done = run_cli(args, tmp_path, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"Error: Invalid value for '{option}'") and "range" in last, last
    command = args[: 2 if args[0] == "eval" else 1]
    shown = run_cli([*command, "--help"], tmp_path, timeout=60).stdout
    assert option in shown and (default is None or f"[default: {default}" in shown), shown


def test_a_label_word_with_a_control_character_is_a_usage_error(tmp_path: Path) -> None:
    """`labels $'bee\\e[31m'` searched for the escape sequence (and the API and the labels page
    took a NUL): a control character in WORD is a usage error naming it, before any work."""
    done = run_cli(["labels", "bee\x1b[31m"], tmp_path, timeout=60)
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        "Error: Invalid value for 'WORD': the label query has a control character (U+001B): "
        "give words only"
    ), last
    assert not (tmp_path / "imgsearch-library").exists()


def test_json_and_another_format_are_refused(tmp_path: Path) -> None:
    """`clusters --json --format html -o x.html` wrote JSON into x.html; `dedup --json` was
    "No such option" although every command that prints results takes --json."""
    for command in (["clusters"], ["dedup"]):
        done = run_cli([*command, "--json", "--format", "html", "-o", "x.html"], tmp_path)
        assert done.returncode == 2, done.stderr
        assert "--json and --format html ask for two formats" in done.stderr, done.stderr
    assert not (tmp_path / "x.html").exists()


def test_an_in_memory_database_is_refused(tmp_path: Path, data_dir: Path, models_dir: Path) -> None:
    """`--database-url sqlite:///:memory: index DIR` ended in a SQLAlchemy pool traceback and
    "no such table: library_meta"; `stats` with it said to run `imgsearch index`, which cannot
    keep anything there. Refused before any work, naming the option (or its variable)."""
    photos = str(data_dir / "ukbench_subset" / "images")
    for url, args in (
        ("sqlite:///:memory:", ["--model-path", str(models_dir), "index", photos]),
        ("sqlite://", ["stats"]),
    ):
        done = run_cli(["--database-url", url, *args], tmp_path, timeout=120)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        assert "'--database-url'" in done.stderr and "in-memory" in done.stderr, done.stderr
    done = run_cli(["stats"], tmp_path, env={"IMGSEARCH_DATABASE_URL": "sqlite://"})
    assert done.returncode == 2 and "IMGSEARCH_DATABASE_URL" in done.stderr, done.stderr
    assert not (tmp_path / "imgsearch-library").exists()


def test_dedup_exact_only_refuses_the_near_duplicate_options(tmp_path: Path) -> None:
    """`dedup --exact-only --threshold 0.5` (or `--verify`) dropped the option without a word,
    as an option of the other mode must never be: a usage error naming it, before any work."""
    for extra, named in (
        (["--threshold", "0.5"], "--threshold decides"),
        (["--verify"], "--verify decides"),
        (["--threshold", "0.5", "--verify"], "--threshold and --verify decide"),
    ):
        done = run_cli(["dedup", "--exact-only", *extra], tmp_path, timeout=60)
        assert done.returncode == 2, done.stderr
        assert named in done.stderr and "--exact-only" in done.stderr, done.stderr
    assert not (tmp_path / "imgsearch-library").exists()


def test_eval_threshold_is_refused_on_a_set_without_copy_pairs(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """`eval run ukbench_subset --threshold 0.5` printed the same figures as without it (a
    'groups' set has no pair precision to decide): a usage error naming --threshold."""
    folder = str(data_dir / "ukbench_subset")
    args = ["--model-path", str(models_dir), "eval", "run", folder, "--threshold", "0.5"]
    done = run_cli(args, tmp_path, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "'--threshold'" in done.stderr and "'groups' set" in done.stderr, done.stderr


def test_a_token_that_cannot_travel_in_a_header_is_refused_and_a_shown_one_is_quoted(
    tmp_path: Path,
) -> None:
    """`serve --token 'a b'` was printed in an unquoted `?token=` URL that a browser could not
    hand back whole; a token is sent in an HTTP header, so it must be printable ASCII
    without spaces, and the URL shown quotes it."""
    for bad in ("a b", "tab\there", "ünï"):
        done = run_cli(["serve", "--port", "0", "--token", bad], tmp_path, timeout=60)
        assert done.returncode == 2, done.stderr
        assert "Invalid value for '--token': must be printable ASCII" in done.stderr
    shown = _first_line(["serve", "--port", "0", "--token", "t%k&x=1"], tmp_path)
    assert "access token t%k&x=1 (open http://" in shown, shown
    assert "/?token=t%25k%26x%3D1 once" in shown, shown
    # served to the network: a link for this machine too (the other address's cookie is not
    # sent to 127.0.0.1, whose page then answered 401)
    shown = _first_line(["serve", "--host", "0.0.0.0", "--port", "0", "--token", "abc"], tmp_path)
    assert re.search(r"open http://127\.0\.0\.1:\d+/\?token=abc on this machine or ", shown), shown


def test_an_empty_model_name_is_a_usage_error_naming_the_option(tmp_path: Path) -> None:
    """`--model "$UNSET"` indexed, embedded and classified with the default model without a
    word (`reindex` said "unknown model ''")."""
    from click.testing import CliRunner

    from cli.main import cli

    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"not read")
    for args in (
        ["index", str(tmp_path), "--model", ""],
        ["reindex", "--model", " "],
        ["embed", str(photo), "--model", ""],
        ["classify", str(photo), "--model", ""],
    ):
        done = CliRunner().invoke(cli, ["--library", str(tmp_path / "lib"), *args])
        assert done.exit_code == 2, (args, done.output)
        assert "Invalid value for '--model': is empty" in done.output, done.output
    assert not (tmp_path / "lib").exists()


def _first_line(args: list[str], cwd: Path) -> str:
    """The first line a command (``serve``: it runs on) prints on stdout; then it is stopped."""
    proc = subprocess.Popen(
        [*ENTRY, *args],
        cwd=cwd,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        return proc.stdout.readline()  # type: ignore[union-attr]
    finally:
        proc.terminate()
        proc.communicate(timeout=60)
