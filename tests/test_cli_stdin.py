"""An image argument ``-`` reads the image from standard input (``curl ... | imgsearch search
-``): `search -` said "-: cannot read file: no such file", `lookup -` "File '-' does not
exist", and a pipe given as /dev/stdin was refused as a FIFO."""

from __future__ import annotations

import json
import os
import pty
import subprocess
from pathlib import Path

import pytest

from tests.cli_process import ENTRY, cli_env, relative_library
from tests.indexer_helpers import photo_paths


def piped(args: list[str], cwd: Path, data: bytes | None) -> subprocess.CompletedProcess[str]:
    """``imgsearch ARGS`` with ``data`` written into a pipe on its standard input."""
    done = subprocess.run(
        [*ENTRY, *args],
        cwd=cwd,
        env=cli_env(),
        input=data,
        capture_output=True,
        timeout=300,
        check=False,
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path) -> Path:
    cwd = tmp_path_factory.mktemp("stdin")
    relative_library(cwd, photo_paths(data_dir, 3), models_dir)
    return cwd


def test_search_lookup_and_similar_read_the_image_from_a_pipe(home: Path) -> None:
    photo = sorted((home / "photos").iterdir())[0]
    data = photo.read_bytes()
    searched = piped(["search", "-", "--json"], home, data)
    assert searched.returncode == 0, searched.stderr
    results = json.loads(searched.stdout)["results"]
    assert Path(results[0]["path"]).name == photo.name and results[0]["exact"]
    as_file = piped(["search", str(photo), "--json"], home, None)
    assert [r["id"] for r in json.loads(as_file.stdout)["results"]] == [r["id"] for r in results]

    looked = piped(["lookup", "-", "--json"], home, data)
    assert looked.returncode == 0, looked.stderr
    exact = [r for r in json.loads(looked.stdout)["results"] if r["match"] == "exact"]
    assert [Path(r["path"]).name for r in exact] == [photo.name]

    similar = piped(["similar", "-", "--json"], home, data)  # the library image with its bytes
    assert similar.returncode == 0, similar.stderr
    by_file = piped(["similar", str(photo), "--json"], home, None)
    assert json.loads(similar.stdout)["results"] == json.loads(by_file.stdout)["results"]


def test_embed_and_classify_read_one_of_their_images_from_a_pipe(home: Path) -> None:
    photo = sorted((home / "photos").iterdir())[1]
    for command in ("embed", "classify"):
        done = piped([command, "--json", "-", str(photo)], home, photo.read_bytes())
        assert done.returncode == 0, done.stderr
        first, second = (json.loads(line) for line in done.stdout.splitlines())
        assert first["path"] == "-" and second["path"] == str(photo)
        assert {k: v for k, v in first.items() if k != "path"} == {
            k: v for k, v in second.items() if k != "path"
        }


def test_a_terminal_or_an_empty_input_is_said_in_one_line(home: Path) -> None:
    master, slave = pty.openpty()
    try:
        done = subprocess.run(
            [*ENTRY, "search", "-"],
            cwd=home,
            env=cli_env(),
            stdin=slave,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(slave)
        os.close(master)
    assert done.returncode == 2, done.stderr
    assert "standard input, which is a terminal here" in done.stderr, done.stderr
    empty = piped(["lookup", "-"], home, b"")
    assert empty.returncode == 1 and "holds no data" in empty.stderr, empty.stderr
    twice = piped(["embed", "-", "-"], home, b"x")
    assert twice.returncode == 2 and "more than once" in twice.stderr, twice.stderr
