"""A library: the store (truth), its model, and the FAISS cache kept in step with both.

The FAISS file (:mod:`search.library.cache`) is never trusted: it is loaded only when its stamp
matches the store, and rebuilt from the store otherwise. What is indexed is the stored vectors
mapped through the library's descriptor (learned whitening, framed photos:
:mod:`search.library.descriptor`).
"""

from __future__ import annotations

import logging
import threading
from contextlib import AbstractContextManager
from pathlib import Path

from models import DEFAULT_MODEL_NAME, OnnxModel, locate_model
from search.descriptor import Descriptor, DescriptorConfig, Whitening
from search.index import (
    NearestNeighbourIndex,
    VectorIndex,
)
from search.library.cache import INDEX_KIND_KEY, IndexCache, SearchedState
from search.library.descriptor import (
    DESCRIPTOR_META_KEY,
    WHITENING_KEY,
    Searchable,
    StoredFrames,
    build_frame_index,
    calibrate,
    index_fingerprint,
    library_config,
    load_descriptor,
)
from search.library.lock import READ_ONLY_SETTING, WriterLocks, refuse_writes
from search.library.model_path import MODEL_DIR_KEY, PREPARATION_KEY, admit_model, with_model_dir
from search.settings import Settings
from search.store import (
    AppliedChanges,
    ChangeSet,
    LibraryReadOnlyError,
    LibraryStore,
    ModelStamp,
    Store,
)

log = logging.getLogger(__name__)


class Library:
    """Store + model + vector index of one library directory. Thread-safe."""

    def __init__(self, settings: Settings, store: LibraryStore) -> None:
        self.settings = settings
        self.store = store
        self._lock = threading.RLock()
        self._live: Searchable | None = None
        self._model: OnnxModel | None = None
        #: another process committed between two of our batches (PostgreSQL, several
        #: writers): the in-memory index lacks its writes until :meth:`catch_up`
        self._missed = False
        self._state: SearchedState | None = None  # the cache.state() ``_live`` was loaded in
        self.cache = IndexCache(settings, store)
        self.locks = WriterLocks(settings.library, store.locks, settings.lock_wait_s)

    @classmethod
    def open(cls, settings: Settings, *, create: bool = False) -> Library:
        if create:
            if settings.read_only:
                raise LibraryReadOnlyError(f"{READ_ONLY_SETTING}: indexing writes it")
            settings.library.mkdir(parents=True, exist_ok=True)
        url = settings.resolved_database_url
        return cls(settings, Store.open(url, create=create, read_only=settings.read_only))

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- model ------------------------------------------------------------------------------

    def model_stamp(self) -> ModelStamp | None:
        return self.store.model_stamp()

    def load_model(
        self,
        name: str | None = None,
        *,
        bind: bool = False,
        background: bool = False,
        lazy: bool = False,
        opened: OnnxModel | None = None,
    ) -> OnnxModel:
        """The library's ONNX model; another one than recorded is refused.

        ``name`` defaults to the settings' model, then the recorded one, then the default.
        ``bind`` records the model in a new library (the indexer does this). ``background``
        opens its ONNX session in a thread (the indexer decodes meanwhile), ``lazy`` when it
        is first used or asked to open (``OnnxModel.open_in_background``). ``opened``: that
        model, already opened (by an index run's head start), when it is the same file."""
        recorded = self.store.model_stamp()
        wanted = name or self.settings.model or (recorded.name if recorded else DEFAULT_MODEL_NAME)
        with self._lock:
            if self._model is not None and self._model.name == wanted:
                return self._model
            located = locate_model(wanted, self._model_search_path())
            admit_model(self.store, located, recorded, bind=bind)
            if opened is not None and opened.located.path == located.path:
                self._model = opened
            else:
                self._model = OnnxModel(
                    located, threads=self.settings.threads, background=background, lazy=lazy
                )
            return self._model

    def _model_search_path(self) -> tuple[Path, ...]:
        return with_model_dir(self.settings, self.store.get_meta(MODEL_DIR_KEY))

    def switch_model(self, name: str) -> ModelStamp:
        """Drop every vector and record another model; the next index run re-embeds."""
        located = locate_model(name, self._model_search_path())
        stamp = ModelStamp(located.spec.name, located.spec.sha256, located.spec.dimension)
        with self.writer_lock(), self._lock:
            # searches are refused until an index run has embedded every image again
            folder = str(Path(located.path).resolve().parent)
            meta = {MODEL_DIR_KEY: folder, PREPARATION_KEY: located.spec.preparation}
            self.store.health.begin_reindex(stamp, meta)
            self._model = None
            self._live = None
            self.settings.index_path.unlink(missing_ok=True)
        return stamp

    def resume_switch(self) -> str | None:
        """Finish a switch recorded as its mark alone (before it was one transaction, a full
        disk could stop it there): the model it names, else None."""
        state = self.store.health.serving_state()
        if state.reindex is None or (state.model is not None and state.model.name == state.reindex):
            return None
        self.switch_model(state.reindex)
        return state.reindex

    def finish_reindex(self) -> bool:
        """Clear the unfinished re-index mark once every indexed image has a vector of the
        library's model again (an index run calls this at its end); True when cleared."""
        state = self.store.health.serving_state()
        if state.reindex is None:
            return False
        if state.model is None or state.model.name != state.reindex:
            return False
        if self.store.health.unembedded():
            return False
        self.store.health.set_reindex(None)
        return True

    # -- descriptor -------------------------------------------------------------------------

    def descriptor_config(self) -> DescriptorConfig:
        """The library's descriptor options (recorded; a new library takes the settings')."""
        return library_config(self.store, self.settings.descriptor)

    def set_descriptor(self, config: DescriptorConfig) -> bool:
        """Record other descriptor options; True when they changed (the index follows)."""
        if self.store.get_meta(DESCRIPTOR_META_KEY) == config.describe():
            return False
        with self._lock:
            self.store.set_meta(DESCRIPTOR_META_KEY, config.describe())
            if self._live is not None:
                self.rebuild_index()
        return True

    def descriptor(self) -> Descriptor:
        """The descriptor searches use (with the learned whitening and calibration)."""
        return self.searchable().descriptor

    def whitening(self) -> Whitening | None:
        state = self.store.descriptors.get_state(WHITENING_KEY)
        return None if state is None else Whitening.from_bytes(state[1])

    def set_whitening(self, whitening: Whitening | None) -> None:
        """Store (or drop) the learned whitening and rebuild the index in its space."""
        with self._lock:
            if whitening is None:
                self.store.descriptors.delete_state(WHITENING_KEY)
            else:
                self.store.descriptors.set_state(
                    WHITENING_KEY, whitening.fingerprint, whitening.to_bytes()
                )
            self.rebuild_index()

    def recalibrate(self) -> None:
        """Measure the background of copy scores again if the library changed size class."""
        live = self.searchable()
        calibrate(self.store, live.descriptor, live.fingerprint)

    # -- the vector index -------------------------------------------------------------------

    def searchable(self) -> Searchable:
        """The loaded indexes and descriptor (from the cache file when its stamp matches)."""
        live = self._live
        if live is not None:
            return live
        with self._lock:
            if self._live is None:
                self._live = self._load_or_rebuild()
            return self._live

    def index(self) -> NearestNeighbourIndex:
        """The main vector index (see :mod:`search.library.descriptor`)."""
        return self.searchable().index

    def _load_or_rebuild(self, kind: str | None = None) -> Searchable:
        """The store's state: the cache file when its stamp matches, else built (and saved
        when no writer committed while it was read: on PostgreSQL others may; then it is
        read again, twice at most, else kept unsaved until :meth:`catch_up`)."""
        for attempt in range(3):
            state, generation = self.cache.state(), self.store.generation()
            descriptor = load_descriptor(self.store, self.descriptor_config())
            fingerprint = index_fingerprint(descriptor)
            expected = self.cache.expected_stamp(
                generation, self.store.vector_count(), fingerprint, descriptor
            )
            index = self.cache.load(expected) if kind is None else None
            frames = StoredFrames.read(self.store, descriptor)  # read once for both indexes
            built = index is None
            if built:
                index = self._build(kind or self.index_kind(), descriptor, frames)
            settled = self.store.generation() == generation and index.ntotal == expected.count
            if settled or attempt == 2:
                break
        self._missed = not settled
        if built and settled:
            self.cache.save(index, expected)
        frame_index = build_frame_index(frames, descriptor, self.cache.dimension(descriptor))
        calibrate(self.store, descriptor, fingerprint, reuse=kind is None)
        self._state = self.cache.calibrated_state(state)
        return Searchable(
            index, frame_index, descriptor, generation, fingerprint, self.store.model_stamp()
        )

    def index_kind(self) -> str:
        """The kind asked for by `rebuild-index --index`, kept in the store, else the setting."""
        return self.store.get_meta(INDEX_KIND_KEY) or self.settings.index_kind

    def _build(self, kind: str, descriptor: Descriptor, frames: StoredFrames) -> VectorIndex:
        return self.cache.build(kind, descriptor, frames)

    def remember_index_kind(self, kind: str) -> None:
        """The kind later rebuilds build (`index --index`, `rebuild-index --index`)."""
        self.store.set_meta(INDEX_KIND_KEY, kind)

    def rebuild_index(self, kind: str | None = None) -> VectorIndex:
        """Build it (as ``kind``: recorded once built, so an interrupted rebuild keeps the old)."""
        with self._lock:
            self._live = self._load_or_rebuild(kind or self.index_kind())
            if kind is not None and kind != self.store.get_meta(INDEX_KIND_KEY):
                self.remember_index_kind(kind)
                self._state = self.cache.calibrated_state(self.cache.state())
            return self._live.index

    def _current(self) -> bool:
        """Is the loaded state the store's (its generation, and :meth:`IndexCache.state`)?"""
        live = self._live
        same = live is not None and self.store.generation() == live.generation
        return same and self.cache.state() == self._state

    def refresh(self) -> bool:
        """Pick up another process's writes: reload when the store's generation moved, or
        its descriptor, learned state or index kind changed.

        While an index run holds the writer lock, its saved cache trails the store by a few
        batches: take that file when it is newer than ours instead of rebuilding under the
        writer (the engine re-scores every hit from the store, so a trailing index is safe).
        """
        if self._current():
            return False
        with self._lock:
            live = self._live
            if self._current():
                return False
            if live is not None and self.writer_active():
                if self.cache.state() != self._state:
                    return False  # another descriptor or kind: loaded once the run is over
                trailing = self.cache.trailing(live)
                if trailing is not None:
                    self._live = trailing
                return trailing is not None
            # Swap, never mutate: searches in flight keep the object they hold.
            self._live = self._load_or_rebuild()
            return True

    def reload(self) -> Searchable:
        """Load the current state now (the model changed under a running server)."""
        with self._lock:
            self._live = self._load_or_rebuild()
            return self._live

    def catch_up(self) -> bool:
        """After other writers committed beside ours (several index runs on PostgreSQL):
        load the store's state (the cache file when its stamp matches, else one rebuild,
        saved); True when it was needed. Called under the run's finish lock."""
        with self._lock:
            live = self._live
            fresh = live is not None and self.store.generation() == live.generation
            if fresh and not self._missed:
                return False
            self.reload()
            return True

    def writer_active(self) -> bool:
        """Does another process (or thread) write to the library right now?"""
        return self.locks.active()

    def save_index(self) -> None:
        """Save the in-memory index, stamped with its generation (not while it lacks another
        writer's batches: no stamp says what it holds then)."""
        with self._lock:
            live = self._live
            if live is not None and not self._missed:
                stamp = self.cache.expected_stamp(
                    live.generation, live.index.ntotal, live.fingerprint, live.descriptor
                )
                self.cache.save(live.index, stamp)

    # -- writes -----------------------------------------------------------------------------

    def apply(self, changes: ChangeSet) -> AppliedChanges:
        """Commit a batch to the store, then bring the in-memory index to the same state."""
        with self._lock:
            live = self.searchable()
            applied = self.store.apply(changes)
            self._missed |= applied.generation != live.generation + 1
            live.remove(list(applied.removed) + list(applied.vectors))
            live.add(applied.vectors, applied.frames)
            self._live = Searchable(
                live.index,
                live.frames,
                live.descriptor,
                applied.generation,
                live.fingerprint,
                live.model,
            )
            return applied

    def writer_lock(self) -> AbstractContextManager[None]:
        """The whole library for maintenance: fails fast while anyone else writes (or at
        once when it is read-only)."""
        refuse_writes(self.settings, self.store.read_only)
        return self.locks.exclusive()

    @property
    def path(self) -> Path:
        return self.settings.library
