"""On-disk cache of library images' key points: the ORB features that the key-point witness
and the grey-band check match (:func:`search.descriptor.local_features` of a library file,
read at up to 1024 px), kept by file content.

Making them costs a decode at up to 1024 px, a frame search and ORB: 15-65 ms a file (a
1920 x 1080 PNG, which no JPEG draft shrinks, ~60 ms), paid the first time a query meets the
image as a candidate. Kept in memory only, every new process paid it again: each ``imgsearch
lookup`` or ``search`` run from the shell, each server start. Here they are made once per
file content: an entry is named by the file's sha256 (as indexed; the caller has checked the
bytes against it) and :data:`search.descriptor.KEY_POINT_VERSION` (the extraction's
parameters), so a changed file or another extraction never reads a stale entry. Writes are
atomic (temporary file + rename: concurrent writers at worst do the work twice); a library
folder that cannot be written (read-only libraries, permissions) is read and never written.
An entry is ~20 kB (500 points: 4 kB of coordinates, 16 kB of descriptors), twice that
when ``dedup --verify`` made it (mirrored too: it matches library images with each other).
"""

from __future__ import annotations

import logging
import re
import zipfile
from collections.abc import Callable, Container
from pathlib import Path

import numpy as np

from search.descriptor import (
    KEY_POINT_VERSION,
    LocalFeatures,
    features_from_arrays,
    features_to_arrays,
    has_mirrored,
    upright_only,
)
from search.library.atomic import replaced_whole

log = logging.getLogger(__name__)

_SHA256 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"([0-9a-f]{64})-(.+)\.npz")  # sha256, extraction version (path_for)


class KeyPointCache:
    """Library images' key points under ``directory`` (``settings.key_point_dir``), by the
    sha256 of their files; ``writable`` False: entries are read, none are written."""

    def __init__(self, directory: Path, *, writable: bool = True) -> None:
        self.directory = Path(directory)
        self.writable = writable
        self.read = self.written = 0  # entries read back / written by this process

    def path_for(self, sha256: str) -> Path:
        """Where the key points of a file of content ``sha256`` live (ValueError: no sha256)."""
        if not _SHA256.fullmatch(sha256):
            raise ValueError("a key-point entry is named by a file's sha256 (64 hex digits)")
        return self.directory / sha256[:2] / f"{sha256}-{KEY_POINT_VERSION}.npz"

    @staticmethod
    def needed_by(contents: Container[str | None]) -> Callable[[str], bool]:
        """Whether an entry's file name is still needed by a library whose files' contents
        (sha256) are ``contents``: one of them, of the current extraction version."""

        def needed(name: str) -> bool:
            found = _NAME.fullmatch(name)
            return found is not None and found[2] == KEY_POINT_VERSION and found[1] in contents

        return needed

    def get(self, sha256: str, *, mirrored: bool = False) -> LocalFeatures | None:
        """The key points kept for a file of content ``sha256``, without their mirrored planes
        (how the engine matches a library image: second), or with them (``mirrored``: as
        ``dedup --verify`` matches it: first; None when the entry lacks them); None when
        there is no entry or it cannot be read (it is then made again, and rewritten)."""
        try:
            with np.load(self.path_for(sha256), allow_pickle=False) as arrays:
                found = features_from_arrays(arrays)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
            log.info("key-point cache: entry for %s unreadable (%s): made again", sha256, error)
            return None
        if mirrored and not has_mirrored(found):
            return None
        self.read += 1
        return found if mirrored else upright_only(found)

    def put(self, sha256: str, features: LocalFeatures) -> None:
        """Keep ``features`` (a library image's: upright, smoothed and mirrored when made)
        for a file of content ``sha256``; nothing when the folder cannot be written."""
        if not self.writable:
            return
        arrays = features_to_arrays(features)
        try:
            with replaced_whole(self.path_for(sha256), ".npz") as out:
                np.savez(out, **arrays)
        except OSError as error:  # full disk, permissions: the query goes on without it
            self.writable = False
            log.warning("key-point cache: cannot write under %s (%s)", self.directory, error)
            return
        self.written += 1
