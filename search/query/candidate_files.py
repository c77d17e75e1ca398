"""Library images' local evidence read from their files for a query: key points
(:func:`key_points`), grey thumbnails (:func:`search.descriptor.read_thumbnail`); used by
:mod:`search.query.local_check`.

A file is read by its database row only, and only while its bytes are those indexed (its
size, then its sha256: a missing or changed file gives nothing); a video or a file over
:data:`LOCAL_MAX_BYTES` is never read whole for a query. What a file gives is kept per image,
file state and kind in a bounded LRU cache (:data:`FEATURE_CACHE` entries, ~40-64 kB each);
key points (:func:`key_points`, :func:`paired_key_points`) also in the library's
:class:`search.library.KeyPointCache` when given (by the file's sha256: made once per file
content, not once per process).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from PIL import Image

from models import ImgsearchError, is_video_file, load_image
from search.descriptor import KEY_POINT_DRAFT, LocalFeatures, dense_features, local_features
from search.library import KeyPointCache
from search.query.errors import PathEscapeError
from search.query.recent import Recent
from search.query.records import LibraryRecords, disk_change, unchanged_bytes
from search.store import StoredImage

log = logging.getLogger(__name__)

FEATURE_CACHE = 1024  # candidates' features and thumbnails kept (~40-64 kB each)
LOCAL_MAX_BYTES = 64 << 20  # a candidate file larger than this is not read for a query
#: files read ahead side by side (a query's thread waits for them and matches: the slowest
#: uploads of bench/http.py met 9 large PNGs for the first time, 40-80 ms each on one thread)
READ_AHEAD_THREADS = 2
T = TypeVar("T")
Make = Callable[[bytes, "int | None"], T]  # (file bytes, max pixels) -> evidence


def _picture(data: bytes, max_pixels: int | None) -> Image.Image:
    """A library image's file decoded for its key points (at :data:`KEY_POINT_DRAFT`)."""
    return load_image(data, draft_size=KEY_POINT_DRAFT, max_pixels=max_pixels).image


def key_points(data: bytes, max_pixels: int | None, *, mirrored: bool = False) -> LocalFeatures:
    """A library image's key points (matched second only: not mirrored)."""
    return local_features(_picture(data, max_pixels), mirrored=mirrored)


def paired_key_points(data: bytes, max_pixels: int | None) -> LocalFeatures:
    """A library image's key points mirrored too: matched first, against another library
    image (``dedup --verify``)."""
    return key_points(data, max_pixels, mirrored=True)


def dense_key_points(data: bytes, max_pixels: int | None) -> LocalFeatures:
    """A library image's denser key points (:func:`search.descriptor.dense_features`): asked
    only of a candidate laid out as the query (a tonal edit), kept in memory only."""
    return dense_features(_picture(data, max_pixels))


#: the makers whose results are kept on disk too: whether they are mirrored
KEPT_ON_DISK: dict[Callable[..., Any], bool] = {key_points: False, paired_key_points: True}


def read_here_or_awaited(read: Future[T] | None, here: Callable[[], T]) -> T:
    """The result of ``read`` queued on the read-ahead threads: awaited when one of them has
    started it, made here by ``here()`` when none has yet (it is taken from the queue) or
    there is no ``read``."""
    if read is not None and not read.cancel():  # started (or done) on another thread
        return read.result()
    return here()


class ReadAhead:
    """:data:`READ_AHEAD_THREADS` threads, shared by an engine's queries, that read candidates'
    files ahead of their checks, in the order asked (``close`` drops what is queued)."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def submit(self, read: Callable[[], T]) -> Future[T]:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    READ_AHEAD_THREADS, thread_name_prefix="imgsearch-read-ahead"
                )
            return self._pool.submit(read)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


class CandidateFiles:
    """Evidence of library images made from their files (module doc), cached."""

    def __init__(
        self,
        records: LibraryRecords,
        max_pixels: int | None = None,
        kept: KeyPointCache | None = None,
    ) -> None:
        self.records = records
        self.max_pixels = max_pixels
        self.kept = kept  # key points on disk
        self._cache: Recent[Any] = Recent(FEATURE_CACHE)

    def read(
        self, image_id: int, make: Make[T], known: StoredImage | None = None
    ) -> tuple[T | None, bool]:
        """``make(bytes, max_pixels)`` of library image ``image_id``'s file (None: the file
        is gone, changed, too large or unreadable), and whether the file was read for it
        (not cached). ``known``: its row, when the query read it already."""
        try:
            file = self.records.image_file(image_id, known)  # one column query, unless known
            # another size: changed for sure; only another mtime (a restore, `touch`): its
            # bytes are checked against the indexed sha256 below
            if file is None or disk_change(file.path, file.size) is not None:
                return None, False
            if is_video_file(file.path) or (file.size or 0) > LOCAL_MAX_BYTES:
                return None, False  # never read whole for a query (memory, time)
            st = file.path.stat()
        except (PathEscapeError, OSError):
            return None, False
        key = (make.__name__, image_id, st.st_size, st.st_mtime_ns)
        cached, found = self._cache.get(key)
        if cached:
            return found, False
        data = unchanged_bytes(file)  # regular file, size-limited, sha256 as indexed
        sha = file.sha256 if data is not None else None  # the bytes are those of this sha256
        kept = self.kept if sha and make in KEPT_ON_DISK else None
        found = kept.get(sha, mirrored=KEPT_ON_DISK[make]) if kept and sha else None
        if data is not None and found is None:
            try:
                found = make(data, self.max_pixels)
            except (ImgsearchError, OSError) as error:
                log.info("local evidence: nothing read of image %s: %s", image_id, error)
            if kept and sha and found is not None:
                kept.put(sha, found)
        self._cache.put(key, found)
        return found, True

    def read_in_order(
        self, image_ids: Sequence[int], make: Make[T], ahead: ReadAhead
    ) -> Iterator[tuple[T | None, bool]]:
        """:meth:`read` of each of ``image_ids`` in turn, the files after the first read on
        ``ahead``'s threads meanwhile (one started there is awaited, one not started yet is
        read here); those never asked for (the caller stops early) are dropped on ``close``."""
        futures = [ahead.submit(partial(self.read, i, make)) for i in image_ids[1:]]
        try:
            for image_id, future in zip(image_ids, [None, *futures][: len(image_ids)], strict=True):
                yield read_here_or_awaited(future, partial(self.read, image_id, make))
        finally:
            for future in futures:
                future.cancel()
