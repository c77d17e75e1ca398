"""Issue 15 item 4: every path a command reads follows the same rules as `index`: regular
files only (a FIFO or a device is refused without blocking), a size limit, read in chunks.

Each command runs as a subprocess with a time limit and a capped address space, so a read
that blocks or never ends fails the test instead of hanging it or filling the machine.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from models import MAX_FILE_BYTES
from tests.served import indexed_library, run_cli

pytestmark = pytest.mark.slow

CAP = 6 * 1024**3  # address space of each command (ONNX Runtime reserves some)
COMMANDS = [
    ("search", "{path}"),
    ("lookup", "{path}"),
    ("embed", "{path}"),
]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path) -> Path:
    return indexed_library(tmp_path_factory.mktemp("query"), data_dir, models_dir, 4)


def _hostile(folder: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, what the error must say)."""
    folder.mkdir(exist_ok=True)
    fifo = folder / "pipe.jpg"
    os.mkfifo(fifo)
    zero = folder / "zero.jpg"
    zero.symlink_to("/dev/zero")
    sparse = folder / "sparse.jpg"
    with open(sparse, "wb") as handle:
        handle.truncate(3 * 1024**3)  # 3 GB of holes: no disk used
    return {
        "fifo": (fifo, "FIFO"),
        "device": (zero, "device"),
        "sparse": (sparse, f"more than the {MAX_FILE_BYTES} allowed"),
    }


@pytest.mark.parametrize("command", [c[0] for c in COMMANDS])
def test_fifos_devices_and_huge_files_are_refused_at_once(
    command: str, library: Path, models_dir: Path, tmp_path: Path
) -> None:
    for kind, (path, says) in _hostile(tmp_path / "bad").items():
        done = run_cli(library, models_dir, command, str(path), timeout=60, max_memory=CAP)
        output = done.stdout + done.stderr
        # a FIFO or a device names no image file: a usage error (README, "Exit status")
        status = 1 if kind == "sparse" else 2  # (embed: each image's entry, then that status)
        assert done.returncode == status, f"{command} {kind}: {output}"
        assert says in output and str(path) in output, f"{command} {kind}: {output}"
        errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
        assert "Traceback" not in output and len(errors) <= 1, output


def test_video_mode_refuses_fifos_and_devices_as_such(
    library: Path, models_dir: Path, tmp_path: Path
) -> None:
    """``embed --running-mode video`` of a FIFO said "empty: file is empty (zero bytes)" (its
    size is 0): it says what image mode says."""
    hostile = _hostile(tmp_path / "bad")
    for kind in ("fifo", "device"):
        path, says = hostile[kind]
        done = run_cli(
            library, models_dir, "embed", "--running-mode", "video", str(path), timeout=60
        )
        output = done.stdout + done.stderr
        assert done.returncode == 2, f"{kind}: {output}"  # names no regular file: usage error
        assert says in output and "empty" not in output, f"{kind}: {output}"
        assert "Traceback" not in output, output


def test_index_refuses_them_the_same_way(
    library: Path, models_dir: Path, tmp_path: Path, data_dir: Path
) -> None:
    folder = tmp_path / "mixed"
    _hostile(folder)
    good = sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[10]
    shutil.copyfile(good, folder / good.name)
    done = run_cli(
        tmp_path / "lib",
        models_dir,
        "index",
        "--no-progress",
        "--json",
        str(folder),
        timeout=120,
        max_memory=CAP,
    )
    assert done.returncode == 0, done.stderr
    assert '"added": 1' in done.stdout and "Traceback" not in done.stderr
    assert "file_too_large" in done.stdout, done.stdout


@pytest.mark.parametrize("size", [10, 11, 4096])
def test_read_limited_refuses_more_than_its_limit_whatever_the_file_says(
    size: int, tmp_path: Path
) -> None:
    """A file longer than the limit (checked at open, but grown since, or read from a handle
    opened elsewhere) is refused, never returned cut at the limit or whole."""
    from models import read_limited
    from models.errors import FileTooLargeError

    path = tmp_path / "grown.bin"
    path.write_bytes(b"x" * size)
    with open(path, "rb") as handle:
        if size <= 10:
            assert read_limited(handle, str(path), max_bytes=10) == b"x" * size
        else:
            with pytest.raises(FileTooLargeError):
                read_limited(handle, str(path), max_bytes=10)
