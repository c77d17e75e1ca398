"""Why a re-index cannot finish: collections whose images still lack a vector of the new
model while their folder is not there, or holds no file (a drive not mounted leaves an
empty mount point). `imgsearch index` cannot embed files it cannot reach, so a message about
them names the way out instead: bring the folder back, or `imgsearch remove` it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from search.store import LibraryStore

#: what each folder state says, after "its folder"
_STATES = {
    "missing": "is not there (renamed, deleted or not mounted)",
    "empty": "holds no files now (a drive not mounted?)",
}


@dataclass(frozen=True)
class Unreached:
    """A collection with ``images`` not embedded yet, whose folder is ``state``."""

    root: str
    images: int
    state: str  # "missing" or "empty"


def holds_no_file(root: str) -> bool:
    """True when nothing but plain, empty folders lies below ``root`` (an empty mount point,
    its ``lost+found``); stops at the first file, hidden entry or link."""
    for folder, dirs, files in os.walk(root):
        if files:
            return False
        for name in dirs:
            if name.startswith(".") or os.path.islink(os.path.join(folder, name)):
                return False
    return True


def folder_state(root: str) -> str:
    """``"missing"``, ``"empty"`` (:func:`holds_no_file`) or ``"there"``."""
    if not os.path.isdir(root):
        return "missing"
    return "empty" if holds_no_file(root) else "there"


def unreached(store: LibraryStore) -> list[Unreached]:
    """The collections whose images lack a vector while their folder cannot be walked."""
    found = []
    for root, images in sorted(store.health.unembedded().items()):
        state = folder_state(root)
        if state != "there":
            found.append(Unreached(root, images, state))
    return found


def way_out(blocked: list[Unreached], model: str) -> str:
    """What keeps ``blocked``'s images from their ``model`` vectors, and what to do."""
    said = "; ".join(
        f"the {c.images} images of {c.root} have no vector of {model} yet and its folder "
        f"{_STATES[c.state]}"
        for c in blocked
    )
    roots = " ".join(c.root for c in blocked)
    return (
        f"{said}: bring the folder back (mount the drive) and run `imgsearch index`, or "
        f"`imgsearch remove {roots}` to leave those images out"
    )
