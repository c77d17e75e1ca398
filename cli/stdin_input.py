"""An image argument ``-``: the image comes from standard input (``curl ... | imgsearch search
-``), read as a file is - in chunks, at most :data:`models.files.MAX_FILE_BYTES`."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # the engine loads when a command runs
    from search.query import SearchEngine

STDIN = "-"  # an image argument that reads the image from standard input


def stdin_image(param_hint: str = "'IMAGE'") -> bytes:
    """The image on standard input, read as a file is: in chunks, at most
    :data:`models.files.MAX_FILE_BYTES` (more is refused, never read on). A terminal is a
    usage error (nothing would come before Ctrl+D); no data is an error (exit 1)."""
    stream = sys.stdin
    if stream is None or stream.isatty():
        raise click.BadParameter(
            "'-' reads the image from standard input, which is a terminal here: pipe or "
            "redirect an image into it (imgsearch search - < photo.jpg)",
            param_hint=param_hint,
        )
    from models.files import MAX_FILE_BYTES, read_limited

    data = read_limited(stream.buffer, "standard input", MAX_FILE_BYTES)
    if not data:
        raise click.ClickException("standard input ('-') holds no data: pipe an image into it")
    return data


def stdin_sources(images: tuple[str, ...] | list[str]) -> dict[str, bytes]:
    """``{"-": the image on standard input}`` when IMAGES name it (once: it holds one image),
    else ``{}``: what to read in place of each IMAGES name (``embed``, ``classify``)."""
    if STDIN not in images:
        return {}
    if list(images).count(STDIN) > 1:
        raise click.BadParameter(
            "'-' (standard input) is given more than once: it holds one image",
            param_hint="'IMAGES'",
        )
    return {STDIN: stdin_image("'IMAGES'")}


def image_with_bytes(engine: SearchEngine, data: bytes) -> int:
    """The library image whose file holds ``data`` (the first indexed one): ``similar -``."""
    import hashlib

    found = engine.store.ids_by_sha256(hashlib.sha256(data).hexdigest())
    if not found:
        raise click.ClickException(
            "the image on standard input is not an image of this library (no indexed file "
            "has its bytes): search with it instead: imgsearch search -"
        )
    return found[0]


__all__ = ["STDIN", "image_with_bytes", "stdin_image", "stdin_sources"]
