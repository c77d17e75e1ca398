"""A library: the store (truth), its model, and the FAISS cache kept in step with both.

The FAISS file is never trusted: it is loaded only when its stamp (library id, generation,
vector count, model) matches the store, and rebuilt from SQLite otherwise.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from models import DEFAULT_MODEL_NAME, OnnxModel, builtin_catalog, locate_model
from search.errors import LibraryError, ModelMismatchError
from search.index import IndexCacheError, IndexStamp, VectorIndex
from search.index_io import read_header
from search.settings import Settings
from search.store import AppliedChanges, ChangeSet, ModelStamp, Store

log = logging.getLogger(__name__)

LOCK_FILENAME = ".writer.lock"
MODEL_DIR_KEY = "model_dir"
# A library with no model yet is empty: its empty index gets the default model's dimension.
_DEFAULT_DIMENSION = builtin_catalog()[DEFAULT_MODEL_NAME].dimension


class LibraryBusyError(LibraryError):
    """Another process is writing to this library (an index run is in progress)."""


class Library:
    """Store + model + vector index of one library directory. Thread-safe."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self._lock = threading.RLock()
        self._index: VectorIndex | None = None
        self._index_generation = -1
        self._model: OnnxModel | None = None

    @classmethod
    def open(cls, settings: Settings, *, create: bool = False) -> Library:
        if create:
            settings.library.mkdir(parents=True, exist_ok=True)
        return cls(settings, Store.open(settings.resolved_database_url, create=create))

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- model ------------------------------------------------------------------------------

    def model_stamp(self) -> ModelStamp | None:
        return self.store.model_stamp()

    def load_model(self, name: str | None = None, *, bind: bool = False) -> OnnxModel:
        """The library's ONNX model; another one than recorded is refused.

        ``name`` defaults to the settings' model, then the recorded one, then the default.
        ``bind`` records the model in a new library (the indexer does this).
        """
        recorded = self.store.model_stamp()
        wanted = name or self.settings.model or (recorded.name if recorded else DEFAULT_MODEL_NAME)
        with self._lock:
            if self._model is not None and self._model.name == wanted:
                return self._model
            located = locate_model(wanted, self._model_search_path())
            stamp = ModelStamp(located.spec.name, located.spec.sha256, located.spec.dimension)
            if bind:
                self.store.bind_model(stamp)
                # Remembered, so later commands find the file without --model-path again.
                self.store.set_meta(MODEL_DIR_KEY, str(Path(located.path).resolve().parent))
            elif recorded is not None and recorded != stamp:
                raise ModelMismatchError(
                    f"this library was indexed with {recorded.name}, not {stamp.name}; vectors "
                    f"of two models are never mixed. Search with --model {recorded.name}, or "
                    f"switch the library with `imgsearch reindex --model {stamp.name}`"
                )
            self._model = OnnxModel(located, threads=self.settings.threads)
            return self._model

    def _model_search_path(self) -> tuple[Path, ...]:
        """The configured search path, then the directory the library's model was found in."""
        remembered = self.store.get_meta(MODEL_DIR_KEY)
        extra = (Path(remembered),) if remembered else ()
        return tuple(self.settings.model_path) + extra

    def switch_model(self, name: str) -> ModelStamp:
        """Drop every vector and record another model; the next index run re-embeds."""
        located = locate_model(name, self._model_search_path())
        stamp = ModelStamp(located.spec.name, located.spec.sha256, located.spec.dimension)
        with self.writer_lock(), self._lock:
            self.store.clear_embeddings()
            self.store.bind_model(stamp, replace=True)
            self.store.set_meta(MODEL_DIR_KEY, str(Path(located.path).resolve().parent))
            self._model = None
            self._index = None
            self.settings.index_path.unlink(missing_ok=True)
        return stamp

    # -- the vector index -------------------------------------------------------------------

    def _expected_stamp(self, generation: int, count: int) -> IndexStamp:
        model = self.store.model_stamp()
        return IndexStamp(
            library_id=self.store.library_id,
            generation=generation,
            count=count,
            model_name=model.name if model else "",
            model_sha256=model.sha256 if model else "",
            dimension=model.dimension if model else _DEFAULT_DIMENSION,
        )

    def index(self) -> VectorIndex:
        """The loaded index, from the cache file when its stamp matches, else rebuilt."""
        index = self._index
        if index is not None:
            return index
        with self._lock:
            if self._index is None:
                self._index, self._index_generation = self._load_or_rebuild()
            return self._index

    @property
    def index_generation(self) -> int:
        return self._index_generation

    def _load_or_rebuild(self) -> tuple[VectorIndex, int]:
        generation = self.store.generation()
        expected = self._expected_stamp(generation, self.store.vector_count())
        try:
            return VectorIndex.load(self.settings.index_path, expected), generation
        except IndexCacheError as error:
            log.info("rebuilding the vector index from the database: %s", error)
        return self._build(self.index_kind(), generation), generation

    def index_kind(self) -> str:
        """The kind asked for by `rebuild-index --index`, kept in the store, else the setting."""
        return self.store.get_meta("index_kind") or self.settings.index_kind

    def _build(self, kind: str, generation: int) -> VectorIndex:
        chunks = list(self.store.iter_vectors())
        model = self.store.model_stamp()
        dimension = model.dimension if model else _DEFAULT_DIMENSION
        ids = np.concatenate([c[0] for c in chunks]) if chunks else np.zeros(0, np.int64)
        vectors = (
            np.concatenate([c[1] for c in chunks])
            if chunks
            else np.zeros((0, dimension), np.float32)
        )
        index = VectorIndex.build(ids, vectors, kind=kind)
        self._save(index, generation)
        return index

    def rebuild_index(self, kind: str | None = None) -> VectorIndex:
        with self._lock:
            if kind is not None:
                self.store.set_meta("index_kind", kind)
            generation = self.store.generation()
            self._index = self._build(kind or self.index_kind(), generation)
            self._index_generation = generation
            return self._index

    def refresh(self) -> bool:
        """Pick up another process's writes: reload when the store's generation moved.

        While an index run holds the writer lock, its saved cache trails the store by a few
        batches: take that file when it is newer than ours instead of rebuilding under the
        writer (the engine re-scores every hit from the store, so a trailing index is safe).
        """
        generation = self.store.generation()
        if self._index is not None and generation == self._index_generation:
            return False
        with self._lock:
            if self._index is not None and self.store.generation() == self._index_generation:
                return False
            if self._index is not None and self.writer_active():
                return self._take_trailing_cache()
            # Swap, never mutate: searches in flight keep the object they hold.
            self._index, self._index_generation = self._load_or_rebuild()
            return True

    def _take_trailing_cache(self) -> bool:
        try:
            saved = IndexStamp.from_dict(read_header(self.settings.index_path).stamp)
        except (IndexCacheError, KeyError, TypeError):
            return False
        if saved.generation <= self._index_generation:
            return False
        expected = self._expected_stamp(saved.generation, saved.count)
        try:
            index = VectorIndex.load(self.settings.index_path, expected)
        except IndexCacheError:
            return False
        self._index, self._index_generation = index, saved.generation
        return True

    def writer_active(self) -> bool:
        """Does another process (or thread) hold the writer lock right now?"""
        path = self.settings.library / LOCK_FILENAME
        if not path.exists():
            return False
        with open(path, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False

    def _save(self, index: VectorIndex, generation: int) -> None:
        if not self.settings.index_path.parent.is_dir():
            return  # a read-only look at a library elsewhere: keep the index in memory
        try:
            index.save(self.settings.index_path, self._expected_stamp(generation, index.ntotal))
        except OSError as error:  # the cache is optional; the store is the truth
            log.warning("could not save the vector index cache: %s", error)

    def save_index(self) -> None:
        with self._lock:
            if self._index is not None:
                self._save(self._index, self._index_generation)

    # -- writes -----------------------------------------------------------------------------

    def apply(self, changes: ChangeSet) -> AppliedChanges:
        """Commit a batch to the store, then bring the in-memory index to the same state."""
        with self._lock:
            index = self.index()
            applied = self.store.apply(changes)
            stale = list(applied.removed) + list(applied.vectors)
            if stale:
                index.remove(np.asarray(stale, dtype=np.int64))
            if applied.vectors:
                ids = np.fromiter(applied.vectors, dtype=np.int64, count=len(applied.vectors))
                index.add(ids, np.stack(list(applied.vectors.values())).astype(np.float32))
            self._index_generation = applied.generation
            return applied

    @contextmanager
    def writer_lock(self) -> Iterator[None]:
        """One writer per library: a second index run fails fast instead of interleaving."""
        self.settings.library.mkdir(parents=True, exist_ok=True)
        path = self.settings.library / LOCK_FILENAME
        with open(path, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LibraryBusyError(
                    f"another imgsearch process is writing to {self.settings.library} "
                    "(an index run?); wait for it to finish"
                ) from None
            try:
                handle.seek(0)
                handle.truncate()
                handle.write(str(os.getpid()))
                handle.flush()
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @property
    def path(self) -> Path:
        return self.settings.library
