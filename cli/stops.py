"""How a command stops on a signal: Ctrl+C (SIGINT), SIGTERM and SIGHUP each end it through
one path - an index run keeps what it wrote and records itself interrupted, `serve` finishes
its requests and says "stopped" - with one line and the status a shell reports for that
signal (README, "Exit status")."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import NoReturn

import click

INTERRUPTED = 130  # the status shells give a command Ctrl+C ended (128 + 2)
TERMINATED = 143  # ... and one a SIGTERM ended (128 + 15)
HUNG_UP = 129  # ... and one a SIGHUP ended (128 + 1): its terminal closed, an ssh session lost


class Terminated(KeyboardInterrupt):
    """SIGTERM (`kill`, a service manager's stop, a shutdown): a command stops as on Ctrl+C -
    an index run keeps what it wrote and records itself interrupted, `serve` stops - but
    exits :data:`TERMINATED`."""

    status = TERMINATED


class HungUp(Terminated):
    """SIGHUP (the terminal closed, an ssh session dropped): as SIGTERM (it killed `index`
    and `serve` without a word, the run not recorded as interrupted), exit :data:`HUNG_UP`."""

    status = HUNG_UP


def stop_status(stop: KeyboardInterrupt) -> int:
    """The exit status of a command that ``stop`` ended."""
    return stop.status if isinstance(stop, Terminated) else INTERRUPTED


def say(line: str) -> None:
    """``line`` on stderr, unless stderr is gone (a hung-up terminal): the stop goes on."""
    with contextlib.suppress(OSError, ValueError):
        click.echo(line, err=True)


def stopped(stop: KeyboardInterrupt) -> NoReturn:
    """End the command ``stop`` ended: ``imgsearch: interrupted`` (or ``terminated``) and its
    status."""
    say(f"imgsearch: {'terminated' if isinstance(stop, Terminated) else 'interrupted'}")
    raise click.exceptions.Exit(stop_status(stop))


@contextlib.contextmanager
def sigterm_stops() -> Iterator[None]:
    """While inside, SIGTERM raises :class:`Terminated` and SIGHUP :class:`HungUp` in the
    main thread (Python's default ends the process at once: an index run left no record of
    what it did, nor its FAISS cache saved). A SIGHUP ignored on purpose (``nohup``) stays
    ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def stop(signum: int, _frame: object) -> None:
        raise HungUp if signum == signal.SIGHUP else Terminated

    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, stop)}
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, stop)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


__all__ = [
    "HUNG_UP",
    "INTERRUPTED",
    "TERMINATED",
    "HungUp",
    "Terminated",
    "say",
    "sigterm_stops",
    "stop_status",
    "stopped",
]
