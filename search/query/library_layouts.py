"""The library's layouts for the engine: a :class:`search.index.LayoutIndex` of every stored
image, read from the store on the first query that asks and kept while the library stands.

After the library changes (another generation) it is read again on the next query that asks,
but not more than once every :data:`LAYOUT_REFRESH_S` (a library being indexed changes every
batch): until then a new image is not nominated by its layout (its vector still finds it),
and a removed one is nominated for nothing (the scorer reads no row for it). A library of more
than :data:`LAYOUT_LIBRARY_MAX` images has no index: its queries nominate among their
candidates only (:mod:`search.query.local_check`).
"""

from __future__ import annotations

import threading
import time

from search.index import LayoutIndex
from search.query.records import LibraryRecords

LAYOUT_LIBRARY_MAX = 250_000  # images whose layouts one engine keeps (64 MB), at most
LAYOUT_REFRESH_S = 30.0  # the index is read again at most this often


class LibraryLayouts:
    """One engine's layout index, by library generation."""

    def __init__(self, records: LibraryRecords) -> None:
        self.records = records
        self._lock = threading.Lock()
        self._built: tuple[int, float, LayoutIndex | None] | None = None

    def index(self, generation: int) -> LayoutIndex | None:
        """The layout index for library ``generation`` (module doc); None for a library too
        large to keep one."""
        with self._lock:
            built = self._built
            now = time.monotonic()
            if built is None or (built[0] != generation and now - built[1] >= LAYOUT_REFRESH_S):
                found = self.records.all_layouts(LAYOUT_LIBRARY_MAX)
                index = LayoutIndex(*found) if found is not None else None
                self._built = built = (generation, now, index)
            return built[2]
