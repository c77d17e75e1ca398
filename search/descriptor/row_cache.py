"""The searched rows of stored images, kept between queries of one library state.

A query scores its candidates exactly: their stored vectors (read from the database, the
truth) mapped through the descriptor (whitening: a 1024 x D' product per row). Popular
candidates come back query after query; :class:`RowCache` keeps what one read and one
transform gave (the rows and the labels) so that the next query takes them from memory.

One cache belongs to one :class:`search.library.descriptor.Searchable` - one generation of
the store and one descriptor - and is dropped with it when the store moves on, so a cached
row is never older than the state the query searches. Its size is bounded in bytes; when it
is full the oldest entries go first. Thread-safe (one lock around each change).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from search.descriptor.label_similarity import unit_labels

DEFAULT_BUDGET_BYTES = 64 << 20  # 64 MiB: ~100 k whitened images, ~15 k plain ones
ENTRY_OVERHEAD_BYTES = 400  # dict slot, tuple of labels, array header


@dataclass(frozen=True)
class PreparedImage:
    """One stored image as a query scores it: its searched rows [r, D'], top labels and
    whether it is almost one flat tone (:attr:`StoredImage.uniform`)."""

    rows: np.ndarray
    labels: tuple[tuple[str, float], ...] = ()
    uniform: bool = False

    @cached_property
    def unit_labels(self) -> dict[str, float]:
        """Its labels' unit vector (:func:`search.descriptor.label_similarity.unit_labels`),
        made once for every query that meets it."""
        return unit_labels(self.labels)

    @property
    def nbytes(self) -> int:
        return int(self.rows.nbytes) + ENTRY_OVERHEAD_BYTES + 64 * len(self.labels)


class RowCache:
    """Prepared stored images by id, bounded to ``budget`` bytes (oldest out first)."""

    def __init__(self, budget: int = DEFAULT_BUDGET_BYTES) -> None:
        self.budget = int(budget)
        self._items: dict[int, PreparedImage] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def take(self, ids: Sequence[int]) -> tuple[dict[int, PreparedImage], list[int]]:
        """``(found, missing)``: the cached images among ``ids`` and the ids not cached."""
        found: dict[int, PreparedImage] = {}
        missing: list[int] = []
        for image_id in ids:  # one lookup each: another thread may evict meanwhile
            image = self._items.get(image_id)
            if image is None:
                missing.append(image_id)
            else:
                found[image_id] = image
        return found, missing

    def put(self, images: Mapping[int, PreparedImage]) -> None:
        """Keep ``images``; the oldest entries make room when the budget is reached."""
        if self.budget <= 0:
            return
        with self._lock:
            for image_id, image in images.items():
                old = self._items.pop(image_id, None)
                if old is not None:
                    self._bytes -= old.nbytes
                self._items[image_id] = image
                self._bytes += image.nbytes
            if self._bytes > self.budget:
                self._evict()

    def _evict(self) -> None:
        target = self.budget * 3 // 4  # evict in bulk, not one entry per put
        drop: list[int] = []
        for image_id, image in self._items.items():
            if self._bytes <= target:
                break
            drop.append(image_id)
            self._bytes -= image.nbytes
        for image_id in drop:
            del self._items[image_id]

    def forget(self, ids: Iterable[int]) -> None:
        """Drop ``ids`` (their stored rows changed or went)."""
        with self._lock:
            for image_id in ids:
                old = self._items.pop(int(image_id), None)
                if old is not None:
                    self._bytes -= old.nbytes
