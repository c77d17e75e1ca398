"""Why a library file that is there cannot be read: permission denied (the file, or a folder
on its path), or no longer a regular file (a FIFO, a folder, a device in the photo's place).
Re-indexing helps the second (the next run drops the entry), never the first."""

from __future__ import annotations

import os
import stat
from typing import NamedTuple

from models.files import file_kind

#: what helps a file the user running imgsearch cannot read (``imgsearch index`` keeps it as
#: it is: its size and date are unchanged)
UNREADABLE_FIX = (
    "give the user that runs imgsearch read access to the file and its folders (chmod, chown "
    "or the share's rights); re-running the index does not help"
)


class FileTrouble(NamedTuple):
    """``state``: ``"unreadable"`` (permission denied, an I/O error) or ``"gone"`` (no longer a
    regular file); ``words``: what is wrong, after "its file" / "the file of image N"."""

    state: str
    words: str


def file_trouble(path: str | os.PathLike[str]) -> FileTrouble | None:
    """What keeps the file at ``path`` from being read, or None: it can be read, or it is
    simply not there (no such file: "no longer on disk" says it). A stat and, of a regular
    file, an open (non-blocking, nothing read); anything else is never opened."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return None
    except OSError as error:  # a folder on its path that cannot be entered, a loop of links
        return FileTrouble("unreadable", f"cannot be read ({error.strerror or error})")
    if not stat.S_ISREG(st.st_mode):
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else file_kind(st.st_mode)
        but = "" if kind == "not a regular file" else f" but {kind}"  # (an unknown kind)
        return FileTrouble("gone", f"is no longer a regular file{but}")
    try:
        os.close(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)))
    except OSError as error:
        return FileTrouble("unreadable", f"cannot be read ({error.strerror or error})")
    return None


def unreadable_file_note(image_id: int | None, words: str) -> str:
    """What an answer from an image's stored vectors says, its file being unreadable."""
    return (
        f"The file of image {image_id} {words}: these results come from its stored vectors "
        f"(the image itself is not listed); {UNREADABLE_FIX}."
    )


__all__ = ["UNREADABLE_FIX", "FileTrouble", "file_trouble", "unreadable_file_note"]
