"""One exit status for one kind of mistake, whatever the command (README, "Exit status"): a
path argument that names nothing usable - no such file or folder, a folder where an image
is wanted, a device or a FIFO - is a usage error (2, as click's own checks), an input that
fails while the command runs (a file that is no image) or a name the library does not hold is
an error (1). `search missing.jpg` was 1 and `lookup missing.jpg` 2, `search FOLDER` 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_process import relative_library, run_cli
from tests.indexer_helpers import photo_paths


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path) -> Path:
    cwd = tmp_path_factory.mktemp("exit-status")
    relative_library(cwd, photo_paths(data_dir, 2), models_dir)
    (cwd / "notes.txt").write_text("not an image\n")
    return cwd


@pytest.mark.parametrize("command", ["search", "lookup", "similar", "embed", "classify"])
def test_an_image_argument_that_names_no_file_is_a_usage_error(home: Path, command: str) -> None:
    for given in ("missing.jpg", "photos", "/dev/null"):
        if command == "similar" and given != "missing.jpg":
            continue  # a folder or a device may be a library's path: its own answer (1)
        done = run_cli([command, given], home, timeout=120)
        assert done.returncode == 2, (command, given, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr


def test_a_folder_argument_that_is_no_folder_is_a_usage_error(home: Path) -> None:
    for args in (["index", "missing"], ["index", "notes.txt"], ["eval", "run", "missing"]):
        done = run_cli(args, home, timeout=120)
        assert done.returncode == 2, (args, done.stderr)
        assert "Invalid value for" in done.stderr, done.stderr


def test_what_fails_while_running_is_status_1(home: Path) -> None:
    cases = [
        ["search", "notes.txt"],  # a regular file that is no image
        ["lookup", "notes.txt"],
        ["similar", "notes.txt"],  # a file the library does not hold
        ["similar", "999999"],  # an id it does not hold
        ["lookup", "999999"],
        ["embed", "notes.txt"],
        ["remove", "missing"],  # nothing of the library under it
        ["--library", "nowhere", "stats"],  # no library there
    ]
    for args in cases:
        done = run_cli(args, home, timeout=120)
        assert done.returncode == 1, (args, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr


def test_embed_says_each_image_and_exits_2_when_one_names_no_file(home: Path) -> None:
    """The images that can be read are still embedded, one entry each."""
    photo = next((home / "photos").iterdir())
    done = run_cli(["embed", "--json", str(photo), "missing.jpg"], home, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2 and '"embeddings"' in lines[0] and "no such file" in lines[1]
