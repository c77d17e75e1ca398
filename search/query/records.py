"""The engine's records: an image's metadata, its id from a path, its file (by id only).

Held by :class:`search.query.engine.SearchEngine` as ``engine.records``.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from models import ImgsearchError, file_mtime, hash_image_file, is_video_file, read_image_file
from search.query.browse import label_count
from search.query.disk_trouble import file_trouble, unreadable_file_note
from search.query.errors import ImageNotFoundError, PathEscapeError
from search.query.results import is_image_id
from search.store import ImageInfo, StoredImage
from search.units import whole_number

if TYPE_CHECKING:
    from search.store import LibraryStore

MAX_VIDEO_QUERY_BYTES = 64 * 2**30  # as the indexer's cap: streamed, never read whole


class ImageFile(NamedTuple):
    """A library image's file (resolved inside its collection), sha256 and decoded format, and
    the size and modification time (ns) it was indexed with."""

    path: Path
    sha256: str | None
    format: str | None
    size: int | None = None
    mtime_ns: int | None = None


def disk_change(
    path: str | os.PathLike[str], file_size: int | None = None, mtime: float | None = None
) -> str | None:
    """How the file at ``path`` differs from what was indexed (``file_size`` bytes, modified
    at ``mtime`` seconds): ``"gone"`` (no longer there, or no longer a regular file),
    ``"changed"``, or None when it is as indexed - the same size and mtime (within a second),
    the indexer's own test; nothing is read. Without ``file_size`` and ``mtime``: only
    whether it is gone."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):  # gone, unreadable folder, a NUL in a stored name
        return "gone"
    if not stat.S_ISREG(st.st_mode):  # a folder or a FIFO now stands where the file was
        return "gone"
    if file_size is not None and st.st_size != file_size:
        return "changed"
    if mtime is not None and abs(file_mtime(st) - mtime) >= 1:
        return "changed"
    return None


#: the JSON flag of each file state: a listed hit's (:func:`file_flags`), a query image's
#: answered from its stored vectors
STATE_FLAGS = {"gone": "file_missing", "changed": "file_changed", "unreadable": "file_unreadable"}


def file_flags(path: str | os.PathLike[str], file_size: int | None) -> dict[str, bool]:
    """A listed hit's file as it is now, for its JSON: ``{"file_missing": True}`` (deleted,
    moved, no longer a regular file), ``{"file_changed": True}`` (another size than the
    ``file_size`` indexed), ``{"file_unreadable": True}`` (there, but this process may not
    read it: its thumbnail and file are 403) or nothing: a stat and an ``access``, nothing
    read (:func:`listed_state`)."""
    change = listed_state(path, file_size)
    return {STATE_FLAGS[change]: True} if change else {}


def listed_state(path: str | os.PathLike[str], file_size: int | None) -> str | None:
    """A listed image's file state as its card and JSON show it: :func:`disk_change`'s
    (``"gone"``, ``"changed"``), else ``"unreadable"`` when this process may not read it."""
    change = disk_change(path, file_size or None)
    if change is None and not os.access(path, os.R_OK):
        return "unreadable"
    return change


def gone_file_note(image_id: int | None, words: str | None = None) -> str:
    """What an answer from an image's stored vectors says, its file being gone (API, CLI):
    no longer on disk, or ``words`` (:func:`file_trouble`: no longer a regular file)."""
    return (
        f"The file of image {image_id} {words or 'is no longer on disk'}: these results come "
        "from its stored vectors (the image itself is not listed); run `imgsearch index` to "
        "update the library."
    )


def stored_answer_note(image_id: int | None, state: str, path: Path | None) -> str:
    """The note of an answer from an image's stored vectors, its file (at ``path``) being
    ``"gone"``, ``"changed"`` or ``"unreadable"`` (:func:`file_state_of`): what is wrong and
    what helps."""
    if state == "changed":
        return changed_file_note(image_id)
    trouble = None if path is None else file_trouble(path)
    if state == "unreadable":
        return unreadable_file_note(image_id, trouble.words if trouble else "cannot be read")
    return gone_file_note(image_id, trouble.words if trouble else None)


#: how to bring a changed file's row up to date, when the caller cannot tell which run does
UPDATE_CHANGED = (
    "run `imgsearch index` to update the library (`imgsearch index --checksum` when the file "
    "kept its size and date: a plain run skips such a file unread)"
)
#: ... a file that kept the size and date it was indexed with, but not its bytes
CHECKSUM_COMMAND = "imgsearch index --checksum"


def index_command_for(found: ImageFile) -> str:
    """The index run that re-reads the changed file ``found``: ``imgsearch index``, or
    :data:`CHECKSUM_COMMAND` when the file kept the size and date it was indexed with (a
    plain run skips it unread)."""
    mtime = None if found.mtime_ns is None else found.mtime_ns / 1e9
    if found.size is None or mtime is None or disk_change(found.path, found.size, mtime):
        return "imgsearch index"
    return CHECKSUM_COMMAND


def update_hint(found: ImageFile) -> str:
    """How an error about the changed file ``found`` ends: re-run the index, with
    ``--checksum`` when the file kept the size and date it was indexed with."""
    if index_command_for(found) != CHECKSUM_COMMAND:
        return "re-run the index"
    return f"run `{CHECKSUM_COMMAND}` (the file kept its size and date: a plain run skips it)"


def changed_file_note(image_id: int | None) -> str:
    """What an answer from an image's stored vectors says, its file being changed (API, CLI)."""
    return (
        f"The file of image {image_id} changed on disk since it was indexed: these results "
        f"come from its stored vectors (the image itself is not listed); {UPDATE_CHANGED}."
    )


class LibraryRecords:
    """Image records and files of one library, by id (never by a path from a request)."""

    def __init__(self, store: LibraryStore) -> None:
        self.store = store

    def get_image(self, image_id: int) -> ImageInfo | None:
        """Everything known about image ``image_id``, or None."""
        return self.store.reads.image(int(image_id)) if is_image_id(image_id) else None

    def count_labels(self, q: str) -> int:
        """How many images the engine's ``search_labels(q)`` finds in all (its pages' total)."""
        return label_count(self.store, q)

    def taken(self, image_id: int) -> datetime | None:
        """The EXIF capture time stored for indexed image ``image_id`` (None: none)."""
        row = self.store.reads.hit_rows([image_id], labels=False).get(image_id)
        return None if row is None else row.exif_datetime

    def without_vector(self, image_id: int) -> ImageNotFoundError:
        """Why image ``image_id`` has no vector to ask with: unknown, or its file failed to
        index (the reason it was recorded with)."""
        info = self.get_image(image_id)
        if info is None:
            return ImageNotFoundError(f"no image with id {image_id} in the library")
        return ImageNotFoundError(
            f"image {image_id} ({info.rel_path}) has no vector: {info.error or info.status}"
        )

    def layouts(self, ids: Sequence[int]) -> dict[int, bytes]:
        """The stored grey-level layouts of images ``ids`` (those that have one), by id."""
        return self.store.reads.layouts(ids)

    def shaped_layouts(self, ids: Sequence[int]) -> dict[int, tuple[bytes, float]]:
        """The stored layouts of images ``ids`` with their width / height (0.0: unknown)."""
        return self.store.reads.shaped_layouts(ids)

    def raw_vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        """The stored raw (model) vectors of images ``ids`` (those that have one), by id."""
        return self.store.vectors(ids)

    def all_crops(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(ids, vectors [n, 5, D])`` of the stored crops (``crops=on``), 2,000 images (40 MB)
        at a time: the reader keeps only what it makes of them."""
        return self.store.descriptors.crops(chunk=2_000)

    def all_layouts(self, limit: int) -> tuple[list[int], list[bytes]] | None:
        """Ids and layouts of every indexed image (None: more than ``limit`` images)."""
        return self.store.reads.all_layouts(limit)

    def quality_counts(self) -> dict[str, int]:
        """Images per quality flag, with ``measured`` and ``unmeasured`` (still images)."""
        return self.store.quality.flag_counts()

    def image_id_for(self, ref: str | int | os.PathLike[str]) -> int:
        """An image id from an id or a file path (a stored file of one of the collections)."""
        number = ref if isinstance(ref, int) else None
        if isinstance(ref, str) and not Path(ref).exists():
            number = whole_number(ref)
        if number is not None:
            if not is_image_id(number):
                raise ImageNotFoundError(f"no image with id {ref} in the library")
            return number
        found = self.store.reads.image_id_at(Path(os.path.abspath(os.fspath(ref))))
        if found is None:
            raise ImageNotFoundError(f"{ref} is not an image of this library")
        return found

    def image_file(self, image_id: int, known: StoredImage | None = None) -> ImageFile | None:
        """What serving image ``image_id``'s file or thumbnail needs, from the database only
        (one column query, no ORM; none when ``known``, its row already read): its file,
        sha256 and format; None for an unknown id.

        The file may be gone (check with :func:`disk_change`); a path that resolves outside its
        collection root raises :class:`PathEscapeError`.
        """
        if not is_image_id(image_id):
            return None
        if known is not None and known.id == image_id:
            row = (known.root, known.rel_path, known.sha256, known.format, known.file_size)
            row += (known.mtime_ns,)
        else:
            row = self.store.reads.file_of(image_id)
        if row is None:
            return None
        root = Path(row[0]).resolve()
        path = (root / row[1]).resolve()
        if not path.is_relative_to(root):
            raise PathEscapeError(image_id, row[1], str(root))
        return ImageFile(path, row[2], row[3], row[4], row[5])

    def file_inside(self, image_id: int) -> ImageFile | None:
        """:meth:`image_file`, or None when its path now leads outside its collection: such a
        file is never read (a query by its id is answered from its stored vectors)."""
        try:
            return self.image_file(image_id)
        except PathEscapeError:
            return None

    def file_problem(self, info: ImageInfo) -> str | None:
        """What is wrong with the file of ``info`` on disk now, in words for its page (gone,
        out of its collection, not a regular file, unreadable, changed since it was indexed),
        or None when it is as indexed (a file of the same size and mtime is read: other bytes,
        written in place by a tool that kept its date, are a change too)."""
        try:
            found = self.image_file(info.id)
        except PathEscapeError:
            return "its file now leads outside its collection"
        if found is None:
            return None
        change = disk_change(found.path, info.file_size, info.mtime.timestamp())
        trouble = file_trouble(found.path) if change != "changed" else None
        if trouble is not None:  # there, but no longer a regular file, or unreadable
            return f"its file {trouble.words}"
        if change == "gone":
            return "its file is no longer on disk"
        if change is None and file_state_of(found) == "changed":
            return "its file holds other bytes than were indexed, under the same size and date"
        return None if change is None else "its file changed on disk since it was indexed"

    def update_command(self, info: ImageInfo) -> str | None:
        """The command that brings the row of ``info`` up to date with its file: ``imgsearch
        index``, or :data:`CHECKSUM_COMMAND` when the file kept the size and date it was
        indexed with (a plain run skips it unread); None when no run helps: the file cannot
        be read (:data:`UNREADABLE_FIX` says what does)."""
        found = self.file_inside(info.id)
        if found is None:
            return "imgsearch index"
        if (trouble := file_trouble(found.path)) is not None:
            return None if trouble.state == "unreadable" else "imgsearch index"
        return index_command_for(found)

    def file_state(self, image_id: int) -> str | None:
        """``"gone"``, ``"changed"`` (the file holds other bytes than were indexed),
        ``"unreadable"`` (:func:`file_state_of`) or None (as indexed, or an unknown id)."""
        found = self.image_file(image_id)
        return None if found is None else file_state_of(found)

    def stored_note(self, image_id: int, state: str) -> str:
        """:func:`stored_answer_note` of image ``image_id``, its file's ``state`` known."""
        found = self.file_inside(image_id)
        return stored_answer_note(image_id, state, None if found is None else found.path)

    def image_file_path(self, image_id: int) -> Path:
        """The file of image ``image_id``, from the database only (never from a request path).

        Raises :class:`ImageNotFoundError` when the id is unknown or the file is gone, and
        :class:`PathEscapeError` when the path resolves outside its collection root.
        """
        found = self.image_file(image_id)
        if found is None:
            raise ImageNotFoundError(f"no image with id {image_id} in the library")
        if disk_change(found.path) == "gone":
            raise ImageNotFoundError(f"image {image_id}: file {found.path} is no longer there")
        return found.path


def unchanged_bytes(file: ImageFile | None) -> bytes | None:
    """A library image's file bytes when they are still those that were indexed, else None."""
    if file is None or file.sha256 is None:
        return None
    try:
        data = read_image_file(file.path)  # regular files only, size-limited
    except (OSError, ImgsearchError):
        return None
    return data if hashlib.sha256(data).hexdigest() == file.sha256 else None


def file_state_of(found: ImageFile) -> str | None:
    """:meth:`LibraryRecords.file_state` of a file already read from the database: one stat,
    then (of the same size: a still image; a video or an animation only with another mtime,
    as the indexer tells a change, for it may be large) its sha256, read in chunks.
    ``"unreadable"`` when the file is there but cannot be read (permission denied: a run of
    the index keeps it as it is), ``"gone"`` also when it is no longer a regular file."""
    change = disk_change(found.path, found.size)  # one stat: gone, or another size
    if change == "gone":
        trouble = file_trouble(found.path)  # a folder that cannot be entered: unreadable
        return "unreadable" if trouble is not None and trouble.state == "unreadable" else "gone"
    if found.sha256 is None:
        return None
    mtime = None if found.mtime_ns is None else found.mtime_ns / 1e9
    if change is None and is_video_file(found.path) and not disk_change(found.path, None, mtime):
        return None  # its size and mtime as indexed: never read
    if change or bytes_as_indexed(found):
        return change
    trouble = file_trouble(found.path)  # not read: denied, or other bytes
    return "unreadable" if trouble is not None and trouble.state == "unreadable" else "changed"


def bytes_as_indexed(file: ImageFile) -> bool:
    """Does the file hold the bytes that were indexed (by its sha256, read in chunks)? True
    when no sha256 was recorded; False when it cannot be read."""
    if file.sha256 is None:
        return True
    try:
        return file_sha256(file.path) == file.sha256
    except (OSError, ImgsearchError):
        return False


def file_sha256(path: str | os.PathLike[str], max_bytes: int = MAX_VIDEO_QUERY_BYTES) -> str:
    """sha256 of a regular file, read in chunks (a video is never read whole)."""
    return hash_image_file(path, max_bytes)
