"""On-disk thumbnail cache: EXIF-oriented JPEG thumbnails of library images, keyed by id.

A thumbnail's file name carries the image id, a digest of the image's version (its sha256,
else its size and mtime) and the size, so an edited or replaced file never shows a stale
thumbnail. Writes are atomic (temporary file + rename), so concurrent requests for the same
thumbnail at worst do the work twice and never see a half-written file.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from PIL import Image

from models import is_video_container, load_image, open_video
from search.library.atomic import replaced_whole

log = logging.getLogger(__name__)

DEFAULT_SIZE = 320
SIZES = (160, 320, 640, 1024)  # the only sizes served: a request cannot fill the disk
JPEG_QUALITY = 82
_NAME = re.compile(r"(\d+)-([0-9a-f]{16})-(\d+)\.jpg")  # id, version, size (path_for)


def version_of(path: Path, sha256: str | None = None) -> str:
    """A short digest naming the image's content version (sha256, else size + mtime)."""
    if sha256:
        return _digest(sha256)
    stat = path.stat()
    return _digest(f"{stat.st_size}:{stat.st_mtime_ns}")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class ThumbnailCache:
    """Makes and keeps JPEG thumbnails under ``directory`` (``settings.thumbnail_dir``)."""

    def __init__(self, directory: Path, *, max_pixels: int | None = None) -> None:
        self.directory = Path(directory)
        self.max_pixels = max_pixels
        self._locks: dict[tuple[int, int], threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._spilled = False  # writes failed in ``directory``: a temporary folder now

    @classmethod
    def of_library(
        cls, directory: Path, *, read_only: bool = False, max_pixels: int | None = None
    ) -> ThumbnailCache:
        """The library's thumbnails under ``directory``; when the library is read-only or that
        folder cannot be written, under a temporary folder of this process (gone at exit)."""
        if read_only or not _can_write(Path(directory)):
            directory = _process_folder()
        return cls(directory, max_pixels=max_pixels)

    def path_for(self, image_id: int, version: str, size: int) -> Path:
        """Where the thumbnail of ``image_id`` at ``version`` and ``size`` lives."""
        shard = f"{int(image_id) // 1000:04d}"
        return self.directory / shard / f"{int(image_id)}-{version}-{int(size)}.jpg"

    def get(
        self, image_id: int, source: Path, *, size: int = DEFAULT_SIZE, sha256: str | None = None
    ) -> Path:
        """The path of a cached thumbnail of ``source`` (made now if missing).

        ``source`` must come from the library database, never from a request. Raises
        :class:`models.ImageError` when the file cannot be decoded, ``ValueError`` for a size
        not in :data:`SIZES`.
        """
        if size not in SIZES:
            raise ValueError(f"thumbnail size must be one of {', '.join(map(str, SIZES))}")
        source = Path(source)
        version = version_of(source, sha256)
        target = self.path_for(image_id, version, size)
        if target.is_file():
            return target
        with self._lock_for(image_id, size):
            if target.is_file():  # made by another thread while we waited
                return target
            picture = self._picture(source, size)
            try:
                self._write(picture, target)
            except OSError as error:  # a full disk, a folder turned read-only
                self._spill(error)
                target = self.path_for(image_id, version, size)
                self._write(picture, target)
            self._drop_stale(image_id, size, keep=target)
        return target

    def cached(
        self, image_id: int, source: Path, *, size: int = DEFAULT_SIZE, sha256: str | None = None
    ) -> Path | None:
        """The thumbnail of this version of the image when it was made already, else None."""
        target = self.path_for(image_id, version_of(Path(source), sha256), size)
        return target if target.is_file() else None

    def _lock_for(self, image_id: int, size: int) -> threading.Lock:
        with self._locks_guard:
            if len(self._locks) > 4096:  # bounded: locks of finished work are just dropped
                self._locks = {k: v for k, v in self._locks.items() if v.locked()}
            return self._locks.setdefault((int(image_id), size), threading.Lock())

    def _picture(self, source: Path, size: int) -> Image.Image:
        if is_video_container(source):  # an animation's thumbnail: its first frame
            image = video_still(source, 0, size)
        else:
            kwargs = {} if self.max_pixels is None else {"max_pixels": self.max_pixels}
            image = load_image(source, draft_size=(size, size), **kwargs).image
        image.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
        return image

    @staticmethod
    def _write(image: Image.Image, target: Path) -> None:
        with replaced_whole(target, ".jpg") as handle:
            image.save(handle, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)

    def _spill(self, error: OSError) -> None:
        """The cache folder took no more thumbnails (``error``): from now on this process
        keeps them in a temporary folder (gone at exit), as for a read-only library; raises
        ``error`` when that folder failed too. The pages kept their pictures: they had 500s."""
        if self._spilled:
            raise error
        self._spilled = True
        folder, self.directory = self.directory, _process_folder()
        why = error.strerror or error
        log.warning("cannot write thumbnails in %s (%s): kept in %s", folder, why, self.directory)

    def _drop_stale(self, image_id: int, size: int, keep: Path) -> None:
        """Remove thumbnails of older versions of the same image and size."""
        for old in keep.parent.glob(f"{int(image_id)}-*-{int(size)}.jpg"):
            if old != keep:
                try:
                    old.unlink()
                except OSError as error:  # another thread may have removed it first
                    log.debug("could not remove stale thumbnail %s: %s", old, error)

    @staticmethod
    def needed_by(contents: Mapping[int, str | None]) -> Callable[[str], bool]:
        """Whether a thumbnail's file name is still needed by a library whose images'
        contents are ``contents`` (sha256 by id, as ``LibraryStore.reads.contents``): its
        image is there, its size is served, and its version is the image's (any version of an
        image with no sha256: its version is the file's size and mtime)."""
        versions = {image_id: sha and _digest(sha) for image_id, sha in contents.items()}

        def needed(name: str) -> bool:
            found = _NAME.fullmatch(name)
            if found is None or int(found[3]) not in SIZES:
                return False
            image_id = int(found[1])
            if image_id not in versions:
                return False
            version = versions[image_id]
            return version is None or version == found[2]

        return needed

    def clear(self) -> int:
        """Delete every cached thumbnail; returns how many files were removed."""
        removed = 0
        if not self.directory.is_dir():
            return 0
        for path in self.directory.glob("*/*.jpg"):
            path.unlink(missing_ok=True)
            removed += 1
        return removed


def _process_folder() -> Path:
    """A temporary folder for this process's thumbnails, removed at exit."""
    folder = Path(tempfile.mkdtemp(prefix="imgsearch-thumbnails-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _can_write(folder: Path) -> bool:
    """Can this process write in ``folder`` (or create it: its nearest existing parent)?"""
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    return os.access(folder, os.W_OK | os.X_OK, effective_ids=True)


def video_still(source: Path, at_ms: int, size: int = DEFAULT_SIZE) -> Image.Image:
    """The frame of a library video (or animated image) at ``at_ms``, at most ``size`` pixels
    on its longer side. Raises :class:`models.VideoError`."""
    with open_video(source) as reader:
        return reader.still_at(at_ms, size)


def video_still_jpeg(source: Path, at_ms: int, size: int = DEFAULT_SIZE) -> bytes:
    """:func:`video_still` as JPEG bytes (not cached: any moment can be asked for)."""
    import io

    buffer = io.BytesIO()
    video_still(source, at_ms, size).save(buffer, "JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()
