"""`imgsearch` run as a user runs it: a separate process, from a working directory of the
test's choosing, with only the environment the test gives it (no IMGSEARCH_* leaking in)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from tests.served import serving

REPO = Path(__file__).resolve().parent.parent
ENTRY = [sys.executable, "-u", "-c", "from cli.main import main; main()"]
#: a command line's prefix that gives it Ctrl+C and hang-up as a terminal does, then execs it:
#: a suite run in the background (``&``: SIGINT ignored) or under ``nohup`` (SIGHUP ignored)
#: would pass the ignoring on. (Not ``preexec_fn``: Python code run between fork and exec in
#: a process with threads - a pytest worker that decoded videos - deadlocked in the child,
#: freeing a video decoder whose slice threads were left behind, and hung the suite.)
AS_FROM_A_TERMINAL = [
    sys.executable,
    "-c",
    "import os, signal, sys\n"
    "for s in (signal.SIGINT, signal.SIGHUP): signal.signal(s, signal.SIG_DFL)\n"
    "os.execv(sys.argv[1], sys.argv[1:])",
]

SETPRIV = shutil.which("setpriv")
#: a prefix that runs a command as root without the capabilities that let it read and write
#: anywhere: it meets the permission bits like a user (empty when not root)
AS_USER = (
    [SETPRIV, "--bounding-set", "-dac_override,-dac_read_search", "--"]
    if os.geteuid() == 0 and SETPRIV
    else []
)
#: root without setpriv: file modes do not apply to the tests' commands
CANNOT_DROP_ROOT = os.geteuid() == 0 and not SETPRIV


def cli_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test run's environment without IMGSEARCH_* settings, the repository importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMGSEARCH_")}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra or {})
    return env


def run_cli(
    args: Sequence[str],
    cwd: Path,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
    prefix: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """Run ``imgsearch ARGS`` in ``cwd`` (under ``prefix``, e.g. setpriv); stdout and stderr
    are kept apart."""
    return subprocess.run(
        [*prefix, *ENTRY, *args],
        cwd=cwd,
        env=cli_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@contextmanager
def served(
    args: Sequence[str], cwd: Path, *, env: Mapping[str, str] | None = None
) -> Iterator[str]:
    """``imgsearch [ARGS] serve --port 0`` (waitress, as a user runs it); yields the base URL."""
    command = [*ENTRY, *args, "serve", "--host", "127.0.0.1", "--port", "0", "--threads", "4"]
    with serving(command, cwd, cli_env(env)) as server:
        yield server.url


def relative_library(cwd: Path, photos: Sequence[Path], models_dir: Path) -> list[int]:
    """Copy ``photos`` to ``cwd/photos`` and index them from ``cwd`` through the CLI with
    relative paths only (the default ./imgsearch-library); returns the image ids."""
    import json
    import shutil

    (cwd / "photos").mkdir(parents=True, exist_ok=True)
    for photo in photos:
        shutil.copyfile(photo, cwd / "photos" / photo.name)
    done = run_cli(["--model-path", str(models_dir), "index", "--no-progress", "photos"], cwd)
    assert done.returncode == 0, done.stderr
    assert (cwd / "imgsearch-library" / "imgsearch.sqlite3").is_file()
    found = run_cli(["similar", f"photos/{photos[0].name}", "--json", "-k", "50"], cwd)
    assert found.returncode == 0, found.stderr
    others = [hit["id"] for hit in json.loads(found.stdout)["results"]]
    assert len(others) == len(photos) - 1
    return others


def run_on_a_terminal(
    command: Sequence[str],
    env: Mapping[str, str],
    timeout: float = 120,
    stdout: Path | None = None,
) -> str:
    """Run ``command`` with stderr on a 30x100 pseudo-terminal (where progress bars show);
    returns what the terminal got (its stdout goes to the file ``stdout`` where given, else
    nowhere). The command must succeed."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    with open(stdout or os.devnull, "wb") as printed:
        process = subprocess.Popen(
            list(command),
            cwd=REPO,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=printed,
            stderr=slave,
        )
        os.close(slave)
        out = read_until_closed(master)
        assert process.wait(timeout=timeout) == 0
    return out.decode("utf-8", "replace")


def read_until_closed(master: int) -> bytes:
    """Everything a child writes to the pseudo-terminal ``master`` until it closes it (then
    ``master`` is closed too)."""
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return b"".join(chunks)
