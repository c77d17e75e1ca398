"""The command to run again after an interrupted one: as the user typed it (its library,
model folder and options with it), a password in a database URL left out."""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Sequence

import click

from cli.main import ARGS_KEY

#: the top-level options that take a value (``imgsearch --library DIR index ...``)
VALUED_GLOBALS = frozenset({"--library", "--model-path", "--database-url"})
_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]+@")


def global_options(args: Sequence[str]) -> list[str]:
    """The top-level options at the head of ``args``, before the command's name."""
    i = 0
    while i < len(args):
        word = args[i]
        if word in VALUED_GLOBALS:
            i += 2
        elif word.split("=", 1)[0] in VALUED_GLOBALS or word in ("-v", "-vv", "--verbose"):
            i += 1  # --library=DIR, -v
        else:
            break
    return list(args[:i])


def rerun_command(then: str | None = None, args: Sequence[str] | None = None) -> str:
    """``imgsearch`` with the arguments it was given (``args``, else the command line's); with
    ``then``, only its top-level options followed by the command ``then``."""
    if args is None:
        context = click.get_current_context(silent=True)
        args = sys.argv[1:] if context is None else context.meta.get(ARGS_KEY, sys.argv[1:])
    words = list(args)
    if then is not None:
        words = [*global_options(words), then]
    return shlex.join(["imgsearch", *(_PASSWORD.sub(r"\1***@", word) for word in words)])


__all__ = ["global_options", "rerun_command"]
