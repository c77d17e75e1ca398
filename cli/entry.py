"""The ``imgsearch`` command's entry point: Ctrl+C ends it with one line and status 130 from
its first moment - also while the command line's modules are still being imported (a
traceback through importlib in the first ~0.1-0.4 s; later, :mod:`cli.stops` says it)."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from cli.main import main as run
    except KeyboardInterrupt:
        sys.stderr.write("imgsearch: interrupted\n")
        sys.exit(130)  # cli.stops.INTERRUPTED, not imported yet
    run()


if __name__ == "__main__":  # python -m cli.entry, as the imgsearch command
    main()
