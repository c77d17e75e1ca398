"""`imgsearch serve` and other CLI commands as real subprocesses (what a user runs)."""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-u", "-c", "from cli.main import main; main()"]


def cli_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), **extra}


def run_cli(
    library: Path,
    models_dir: Path,
    *args: str,
    timeout: float = 300,
    env: dict[str, str] | None = None,
    max_memory: int | None = None,
) -> subprocess.CompletedProcess[str]:
    """One `imgsearch` command in a subprocess (stdout and stderr kept apart); ``max_memory``
    caps its address space (a runaway read fails instead of filling the machine)."""
    command = [*CLI, "--library", str(library), "--model-path", str(models_dir), *args]
    with subprocess.Popen(
        command,
        cwd=REPO,
        env=env or cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    ) as process:
        # set once it runs, not by a preexec_fn: Python code between fork and exec in this
        # threaded process deadlocked a child (a video decoder freed there) and hung the suite
        if max_memory is not None:
            resource.prlimit(process.pid, resource.RLIMIT_AS, (max_memory, max_memory))
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def indexed_library(folder: Path, data_dir: Path, models_dir: Path, count: int) -> Path:
    """``folder/photos`` with the first ``count`` UKBench photos, indexed through the CLI into
    ``folder/library``; returns the library."""
    photos = folder / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    for src in sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[:count]:
        shutil.copyfile(src, photos / src.name)
    library = folder / "library"
    made = run_cli(library, models_dir, "index", "--no-progress", str(photos))
    assert made.returncode == 0, made.stderr
    return library


def start_cli(library: Path, models_dir: Path, *args: str) -> subprocess.Popen[str]:
    command = [*CLI, "--library", str(library), "--model-path", str(models_dir), *args]
    return subprocess.Popen(
        command,
        cwd=REPO,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )


@dataclass
class Served:
    """A running server: its URL, process and everything it printed so far."""

    url: str
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return "".join(self.lines)


@contextmanager
def serving(command: list[str], cwd: Path, env: dict[str, str]) -> Iterator[Served]:
    """Run an `imgsearch ... serve --port 0` command line until it prints the URL it serves
    at; stopped after. Every server of the tests starts here."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        text=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    served = Served("", process)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not served.url:
            line = process.stdout.readline() if process.stdout else ""
            if not line:
                if process.poll() is not None:
                    break
                continue
            served.lines.append(line)
            match = re.search(r"at (http://\S+?):(\d+)/", line)
            if match:
                served.url = f"{match.group(1)}:{match.group(2)}"
        assert served.url, "server did not start:\n" + served.output
        reader = threading.Thread(target=_drain, args=(process, served.lines), daemon=True)
        reader.start()
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def serve(
    library: Path,
    models_dir: Path,
    *extra: str,
    host: str = "127.0.0.1",
    env: dict[str, str] | None = None,
) -> Iterator[Served]:
    """`imgsearch --library LIBRARY serve --port 0` in a subprocess (see :func:`serving`)."""
    command = [
        *CLI,
        "--library",
        str(library),
        "--model-path",
        str(models_dir),
        "serve",
        "--host",
        host,
        "--port",
        "0",
        "--threads",
        "4",
        *extra,
    ]
    with serving(command, REPO, env or cli_env()) as served:
        yield served


def _drain(process: subprocess.Popen[str], lines: list[str]) -> None:
    for line in process.stdout or ():
        lines.append(line)
