"""The standard output of a command: buffered, and its failures said in one line - the reader
leaving (``| head``: quiet, status 1, as click does) and a write that fails (a full disk behind
``> status.json``: "cannot write the output", status 1)."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from typing import NoReturn

import click

from cli.refusals import os_hint

READER_GONE = 1  # the exit status when the output's reader left: what click gives its own help
OUTPUT_LOST = 1  # ... and when the output could not be written: as for other errors


class OutputError(OSError):
    """A write to the standard output failed (other than its reader leaving, which stays a
    BrokenPipeError): known as the output's wherever it is caught."""


class _OutputText(io.TextIOWrapper):
    """The standard output, whose failed writes are :class:`OutputError`. (At this level, not
    the file's: a signal met between a Python-level raw write and its return made the buffer
    above it write the line again.)"""

    def write(self, text: str) -> int:
        try:
            return super().write(text)
        except BrokenPipeError:
            raise
        except OSError as error:
            raise OutputError(error.errno, error.strerror) from None

    def flush(self) -> None:
        try:
            super().flush()
        except BrokenPipeError:
            raise
        except OSError as error:
            raise OutputError(error.errno, error.strerror) from None


def own_stdout() -> None:
    """Write the output through :class:`_OutputText`, so that a failed write is known as
    the output's (on a full disk it was "cannot use: No space left on device", which reads as
    the library's disk, then Python's "Exception ignored" and status 120). The buffer is the
    stream's own (line-flushed on a terminal, by blocks into a file or pipe); under
    ``PYTHONUNBUFFERED`` (``python -u``, set in many containers) stdout wrote straight to its
    file descriptor, and a short write - the pipe's reader gone half-way through, ``| head``
    - was dropped without an error (status 0, the output cut): a line-flushed buffer in
    between retries the rest and sees the reader leave (:func:`reader_gone`)."""
    stream = sys.stdout
    try:
        unbuffered = isinstance(stream.buffer, io.RawIOBase)
        raw = io.FileIO(os.dup(stream.fileno()), "w")  # a copy: stdout itself stays
    except (AttributeError, OSError, ValueError):
        return  # not a file (a test's capture)
    stream.flush()
    sys.stdout = _OutputText(
        io.BufferedWriter(raw),
        encoding=stream.encoding,
        errors=stream.errors,
        line_buffering=unbuffered or stream.line_buffering,
    )


def reader_gone() -> NoReturn:
    """The reader of the output went away (``imgsearch ... | head``): stop with
    :data:`READER_GONE` and no message, as click does for its own output; stdout goes to
    /dev/null so that the interpreter's last flush has nowhere to fail."""
    _drop_output()
    sys.exit(READER_GONE)


def output_lost(error: OSError) -> NoReturn:
    """The output could not be written (``imgsearch stats --json > status.json`` on a full
    disk): one line on stderr that names it, and :data:`OUTPUT_LOST`; what it still buffers
    is dropped (stdout goes to /dev/null)."""
    reason = error.strerror or str(error)
    hint = os_hint(error.errno)
    with contextlib.suppress(OSError, ValueError):  # stderr gone too (a hung-up terminal)
        click.echo(
            f"Error: cannot write the output (standard output): {reason}"
            + (f"; {hint}" if hint else ""),
            err=True,
        )
    _drop_output()
    sys.exit(OUTPUT_LOST)


def flush_output() -> None:
    """Write what the output still buffers before the process ends (a file's output is
    written there, at exit), its failures said as :func:`output_lost` and
    :func:`reader_gone` say them."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        reader_gone()
    except OSError as error:
        output_lost(error)
    except ValueError:  # closed
        pass


def _drop_output() -> None:
    with contextlib.suppress(OSError, ValueError):  # no stdout file descriptor to replace
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


__all__ = ["OutputError", "flush_output", "output_lost", "own_stdout", "reader_gone"]
