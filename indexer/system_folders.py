"""Folders that other software keeps among photos: a NAS's thumbnails and recycle bins,
Windows' system folders, a copy of an imgsearch library. Their images are not the user's
photos (a Synology NAS's ``@eaDir`` holds two thumbnails of every photo, so every photo would
be its own duplicate), so a walk skips them and counts them; naming one as a collection
(``imgsearch index PATH``) indexes it anyway."""

from __future__ import annotations

import os

from search.settings import DB_FILENAME
from search.units import printable

#: folder names that other software makes, and what they hold
SYSTEM_FOLDERS: dict[str, str] = {
    "@eaDir": "a Synology NAS's thumbnails",
    "#recycle": "a Synology NAS's recycle bin",
    "#snapshot": "a Synology NAS's snapshots",
    "@Recycle": "a QNAP NAS's recycle bin",
    "@Recently-Snapshot": "a QNAP NAS's snapshots",
    "$RECYCLE.BIN": "the Windows recycle bin",
    "System Volume Information": "a Windows system folder",
}


def system_folder(path: str, name: str) -> str | None:
    """What other software keeps in the folder ``path`` (named ``name``), or None when it is
    the user's own folder."""
    if name in SYSTEM_FOLDERS:
        return SYSTEM_FOLDERS[name]
    if os.path.isfile(os.path.join(path, DB_FILENAME)):
        return f"an imgsearch library (it holds {DB_FILENAME})"
    return None


def skipped_text(folders: list[tuple[str, str]]) -> str:
    """One line for an index summary: how many folders of other software a run skipped, the
    first of them, and how to index one anyway."""
    path, what = folders[0]
    more = f" and {len(folders) - 1} more" if len(folders) > 1 else ""
    return (
        f"{len(folders)} folder{'s' * (len(folders) != 1)} of other software skipped: "
        f"{printable(path)} ({what}){more}; to index one, give it as a collection: "
        "`imgsearch index PATH`" + (" (--json lists them)" if more else "")
    )


__all__ = ["SYSTEM_FOLDERS", "skipped_text", "system_folder"]
