"""C code's ``printf`` silenced around one call.

FAISS's ``OnDiskInvertedLists`` prints "resizing FILE to N bytes" on the C stdout each time its
``.ivfdata`` file grows (``update_totsize``; unconditional: no verbose flag to turn off), so
building or saving an ``ivfpq-ondisk`` index would put C-level noise in the middle of a
command's output. :func:`c_stdout_silenced` wraps only that call:

* on glibc, C's ``stdout`` stream pointer is pointed at ``/dev/null`` for the call: what
  Python writes (``sys.stdout``, ``sys.stderr``, other threads' output) goes on untouched, as
  does file descriptor 1;
* elsewhere, file descriptor 1 is pointed at ``/dev/null`` for the call (process-wide: what
  another thread flushes to stdout meanwhile is lost; stderr is never touched).

Either way the old stream is restored in ``finally``, also when the call raises, and one lock
keeps two silenced calls of two threads from undoing each other's swap.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_LOCK = threading.Lock()


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None)
    except OSError:  # no C library of the process to reach (not a Unix)
        return None


def _glibc_stdout(libc: ctypes.CDLL) -> ctypes.c_void_p | None:
    """glibc's ``FILE *stdout`` variable (None elsewhere: musl's is const, macOS's named
    differently)."""
    try:
        libc.gnu_get_libc_version  # noqa: B018 - present on glibc only
        return ctypes.c_void_p.in_dll(libc, "stdout")
    except (AttributeError, ValueError):
        return None


@contextmanager
def c_stdout_silenced(*, swap_stream: bool = True) -> Iterator[None]:
    """Run the body with C's ``printf`` output thrown away (``swap_stream=False``: by the
    file-descriptor fallback even on glibc; for tests)."""
    libc = _libc()
    if libc is None:
        yield
        return
    libc.fflush.argtypes = [ctypes.c_void_p]
    with _LOCK:
        stream = _glibc_stdout(libc) if swap_stream else None
        if stream is not None:
            with _swapped_stream(libc, stream):
                yield
        else:
            with _redirected_fd(libc):
                yield


@contextmanager
def _swapped_stream(libc: ctypes.CDLL, stream: ctypes.c_void_p) -> Iterator[None]:
    libc.fopen.restype = ctypes.c_void_p
    libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    null = libc.fopen(os.devnull.encode(), b"w")
    if not null:
        yield
        return
    saved = stream.value
    libc.fflush(saved)  # what C printed before goes where it was going
    stream.value = null
    try:
        yield
    finally:
        stream.value = saved
        libc.fclose(null)


@contextmanager
def _redirected_fd(libc: ctypes.CDLL) -> Iterator[None]:
    sys.stdout.flush()
    libc.fflush(None)
    try:
        saved = os.dup(1)
    except OSError:  # no stdout at all: nothing to keep clean
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        try:
            yield
        finally:
            libc.fflush(None)  # C's buffered text goes to /dev/null, not to the restored fd
            os.dup2(saved, 1)
    finally:
        os.close(null)
        os.close(saved)
