"""The library's FAISS cache file: its expected stamp, loading, building, saving, and taking
the cache a running index run saved (it trails the store by a few batches).

The file is never trusted: it is loaded only when its stamp (library id, generation, vector
count, model, descriptor) matches the store, and rebuilt from the store otherwise.
"""

from __future__ import annotations

import logging

import numpy as np

from models import DEFAULT_MODEL_NAME, builtin_catalog
from search.descriptor import Descriptor
from search.index import IndexCacheError, IndexStamp, VectorIndex, read_header, reserve
from search.library.descriptor import (
    CALIBRATION_KEY,
    DESCRIPTOR_META_KEY,
    Searchable,
    StoredFrames,
    build_frame_index,
    primary_vectors,
    searched_dimension,
)
from search.settings import Settings
from search.store import LibraryStore

log = logging.getLogger(__name__)

INDEX_KIND_KEY = "index_kind"  # the kind asked for by `rebuild-index --index`
SearchedState = tuple[tuple[str, str | None], ...]

# A library with no model yet is empty: its empty index gets the default model's dimension.
_DEFAULT_DIMENSION = builtin_catalog()[DEFAULT_MODEL_NAME].dimension


class IndexCache:
    """The cache file at ``settings.index_path`` of the library in ``store``."""

    def __init__(self, settings: Settings, store: LibraryStore) -> None:
        self.settings = settings
        self.store = store
        self.save_error: str | None = None  # why the last save failed (None: it did not)

    def state(self) -> SearchedState:
        """What a loaded index depends on besides the generation, which moves without it:
        the descriptor options, the learned whitening and calibration, the index kind."""
        return self.store.searched_state((DESCRIPTOR_META_KEY, INDEX_KIND_KEY))

    def calibrated_state(self, before: SearchedState) -> SearchedState:
        """``before`` (read as a load began) with the calibration stored now: the one that
        load used or measured itself (its own measure is no change to reload for)."""
        key = f"state:{CALIBRATION_KEY}"
        kept = [entry for entry in before if entry[0] != key]
        return tuple(sorted(kept + [entry for entry in self.state() if entry[0] == key]))

    def dimension(self, descriptor: Descriptor) -> int:
        """Dimensions of the searched vectors: the whitened space's, else the model's."""
        model = self.store.model_stamp()
        return searched_dimension(descriptor, model.dimension if model else _DEFAULT_DIMENSION)

    def expected_stamp(
        self, generation: int, count: int, fingerprint: str, descriptor: Descriptor
    ) -> IndexStamp:
        """The stamp a cache file of this state must carry."""
        model = self.store.model_stamp()
        now, token = self.store.generation_token()
        return IndexStamp(
            library_id=self.store.library_id,
            generation=generation,
            count=count,
            model_name=model.name if model else "",
            model_sha256=model.sha256 if model else "",
            dimension=self.dimension(descriptor),
            descriptor=fingerprint,
            token=token if now == generation else "",  # another generation's: unknown
        )

    def load(self, expected: IndexStamp) -> VectorIndex | None:
        """The saved index when its stamp is ``expected``; None (and why, logged) otherwise."""
        try:
            return VectorIndex.load(self.settings.index_path, expected)
        except IndexCacheError as error:
            log.info("rebuilding the vector index from the database: %s", error)
            return None

    def build(self, kind: str, descriptor: Descriptor, frames: StoredFrames) -> VectorIndex:
        """Build the index from the store's vectors (mapped by ``descriptor``); the caller
        saves it (:meth:`save`) once it knows the store did not move meanwhile."""
        if kind == "ivfpq-ondisk" and self.settings.index_path.parent.is_dir():
            try:
                return self._build_streamed(kind, descriptor, frames)
            except OSError as error:  # no room for its rows beside the index: in memory
                log.warning("cannot build the index on disk (%s): building it in memory", error)
        chunks = list(self.store.iter_vectors())
        ids = np.concatenate([c[0] for c in chunks]) if chunks else np.zeros(0, np.int64)
        model = self.store.model_stamp()
        width = model.dimension if model else _DEFAULT_DIMENSION
        vectors = (
            np.concatenate([c[1] for c in chunks]) if chunks else np.zeros((0, width), np.float32)
        )
        # (an empty raw matrix is mapped like any other: primary_vectors gives the right width)
        built = kind
        if not len(ids) and kind not in ("auto", "flat", "hnsw"):
            built = "flat"  # trained kinds need vectors: the run's end builds the one asked for
        index = VectorIndex.build(
            ids, primary_vectors(descriptor, vectors, frames.dominant, ids), kind=built
        )
        index.requested_kind = kind  # kept in the file: needs_rebuild() asks for it later
        return index

    def _build_streamed(
        self, kind: str, descriptor: Descriptor, frames: StoredFrames
    ) -> VectorIndex:
        """The on-disk kind for libraries beyond RAM: the store's vectors are mapped chunk by
        chunk into a temporary float32 file beside the index (4 B x searched dimension per
        image, memory-mapped for the build), never gathered in RAM."""
        count, width = self.store.vector_count(), self.dimension(descriptor)
        if not count:  # nothing to train on: flat, the kind asked for kept for later
            index = self.build("flat", descriptor, frames)
            index.requested_kind = kind
            return index
        path = self.settings.index_path.with_name(f".{self.settings.index_path.name}.rows.tmp")
        try:
            rows = np.lib.format.open_memmap(path, "w+", np.float32, (count, width))
            reserve(path)  # a full disk is an OSError now, not a SIGBUS in the writes below
            ids, filled = np.zeros(count, np.int64), 0
            for chunk_ids, chunk in self.store.iter_vectors():
                n = min(len(chunk_ids), count - filled)  # rows added since the count wait
                mapped = primary_vectors(descriptor, chunk[:n], frames.dominant, chunk_ids[:n])
                rows[filled : filled + n], ids[filled : filled + n] = mapped, chunk_ids[:n]
                filled += n
            rows.flush()
            index = VectorIndex.build(ids[:filled], rows[:filled], kind=kind)
            del rows
        finally:
            path.unlink(missing_ok=True)
        return index

    def save(self, index: VectorIndex, stamp: IndexStamp) -> None:
        """Save the cache (optional: a failure is logged and kept in :attr:`save_error`, the
        store stays the truth)."""
        self.save_error = None
        if self.store.read_only or not self.settings.index_path.parent.is_dir():
            return  # a read-only library, or a look at one elsewhere: kept in memory
        try:
            index.save(self.settings.index_path, stamp)
        except OSError as error:
            self.save_error = f"cannot write {self.settings.index_path}: {error.strerror or error}"
            log.warning("could not save the vector index cache: %s", self.save_error)

    def trailing(self, live: Searchable) -> Searchable | None:
        """The state of the cache file a running index run saved, when it is newer than
        ``live`` and of the same descriptor and model; else None."""
        try:
            saved = IndexStamp.from_dict(read_header(self.settings.index_path).stamp)
        except (IndexCacheError, KeyError, TypeError):
            return None
        if saved.generation <= live.generation or saved.descriptor != live.fingerprint:
            return None
        if live.model is not None and saved.model_name != live.model.name:
            return None  # another model's vectors: the engine reloads once it is done
        expected = self.expected_stamp(
            saved.generation, saved.count, live.fingerprint, live.descriptor
        )
        try:
            index = VectorIndex.load(self.settings.index_path, expected)
        except IndexCacheError:
            return None
        frames = build_frame_index(
            StoredFrames.read(self.store, live.descriptor),
            live.descriptor,
            self.dimension(live.descriptor),
        )
        return Searchable(
            index, frames, live.descriptor, saved.generation, live.fingerprint, live.model
        )
