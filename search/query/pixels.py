"""Same pixels in another encoding: the one check behind ``exact`` of ``search``, ``similar``
and ``lookup`` (a PNG re-save of a library JPEG is an exact copy, whichever command asks).

Decoding is the cost, so it is bounded: only a library image with the query's exact
dimensions and a copy score of at least :data:`PIXEL_CHECK_MIN_SCORE` (identical pixels embed
all but identically) is a candidate at all, a still image only (a video is never read whole),
and at most :data:`MAX_PIXEL_DECODES` library files are asked per query, best first. The
query is decoded at full size once, and only when a candidate needs it; a library file's digest
is kept per engine (:class:`PixelDigests`, by path, size and mtime), so the library image that
many uploads of one photo meet is decoded once (3-4 ms a web-size JPEG: 113 of 150 uploads of
bench/http.py's queries decoded one). A query that the analysis already decoded whole, at full
size (a web-size upload: no JPEG draft reduction), is hashed from that decode.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from models import DecodedImage, ImgsearchError, pixel_sha256
from search.query.recent import Recent
from search.query.results import ImageQuery, query_pixel_hash
from search.store import StoredImage

PIXEL_CHECK_MIN_SCORE = 0.95  # identical pixels embed identically; below this none can match
MAX_PIXEL_DECODES = 4  # library files decoded per query for the check, at most
DIGESTS_KEPT = 4096  # library files' pixel digests kept per engine (~150 bytes each)


class PixelDigests:
    """Library files' pixel digests by (path, size, mtime): a file rewritten is read again."""

    def __init__(self, kept: int = DIGESTS_KEPT) -> None:
        self._found: Recent[str | None] = Recent(kept)

    def digest(self, path: Path, max_pixels: int) -> str | None:
        """:func:`query_pixel_hash` of the file at ``path`` (None: gone or undecodable)."""
        try:
            st = path.stat()
        except OSError:
            return None
        key = (str(path), st.st_size, st.st_mtime_ns)
        cached, found = self._found.get(key)
        if not cached:
            found = query_pixel_hash(path, None, max_pixels)
            self._found.put(key, found)
        return found


class SamePixels:
    """Whether library rows hold the query's decoded pixels; one per query, called in rank
    order (the best copies first) with each row and its copy score."""

    def __init__(
        self,
        source: ImageQuery,
        data: bytes | None,
        size: tuple[int, int],
        file_of: Callable[[int], Path],
        max_pixels: int,
        digests: PixelDigests,
        decoded: DecodedImage | None = None,
    ) -> None:
        """``decoded``: the query's full-size decode when the analysis made one (hashed as
        it is instead of decoding the query again)."""
        self._source, self._data, self._size, self._decoded = source, data, size, decoded
        self._file_of, self._max_pixels = file_of, max_pixels
        self._digests = digests
        self._query: list[str | None] = []  # the query's digest, computed at most once
        self._by_sha: dict[str, str | None] = {}  # byte-identical library files: one decode
        self.decoded = 0  # library files decoded so far

    def query_digest(self) -> str | None:
        """The query's pixel digest (None when it cannot be decoded), computed once."""
        if not self._query:
            if self._decoded is not None:
                self._query.append(pixel_sha256(self._decoded))
            else:
                self._query.append(query_pixel_hash(self._source, self._data, self._max_pixels))
        return self._query[0]

    def __call__(self, row: StoredImage, copy_score: float) -> bool:
        if (
            copy_score < PIXEL_CHECK_MIN_SCORE
            or row.duration_ms is not None
            or (row.width, row.height) != self._size
        ):
            return False
        theirs = row.pixel_sha256
        if theirs is None and row.sha256 in self._by_sha:
            theirs = self._by_sha[row.sha256]
        elif theirs is None:
            if self.decoded >= MAX_PIXEL_DECODES or self.query_digest() is None:
                return False
            self.decoded += 1
            theirs = self._file_digest(row.id)
            if row.sha256 is not None:
                self._by_sha[row.sha256] = theirs
        return theirs is not None and theirs == self.query_digest()

    def exact(self, sha: str | None, region: bool) -> Callable[[StoredImage, float], bool]:
        """Whether a row is an exact copy of the query: the same bytes (``sha``) or pixels;
        never for a ``region`` of the query (a part is no exact copy of its file)."""

        def exact(row: StoredImage, copy_score: float) -> bool:
            if region:
                return False
            return (sha is not None and row.sha256 == sha) or self(row, copy_score)

        return exact

    def _file_digest(self, image_id: int) -> str | None:
        try:
            return self._digests.digest(self._file_of(image_id), self._max_pixels)
        except (ImgsearchError, OSError):  # gone, unreadable, or outside its collection
            return None
