"""The FAISS cache: image ids -> unit vectors, cosine = inner product, stamped atomic file.

SQLite is the truth; this index is derived from it and rebuilt whenever its stamp (library,
generation, count, model, dimension) does not match the library (see ``VectorIndex.load``).

Kinds, the ``auto`` choice and recall tuning: :mod:`search.index.build`.

Threads: ``set_threads(n)`` sets FAISS's OpenMP pool (process-wide; a server answering many
requests at once does best with 1: each request then runs on its own core). Any number of
threads may search one loaded index at once: search, k-NN, reconstruct and save take the
index's shared (read) lock and pass their parameters per call; add / remove / update /
set_search_param take the exclusive (write) lock, so readers never see half a mutation.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

import numpy as np

from search.index import file_format as index_io
from search.index.build import ALL_KINDS, IndexConfig, build_backend, load_backend, read_flags
from search.index.errors import (
    CorruptIndexError,
    IndexCacheError,
    IndexInputError,
)
from search.index.faiss_lib import faiss
from search.index.file_format import IndexStamp
from search.index.kinds import (
    Backend,
    FlatBackend,
    as_ids,
)
from search.index.ondisk import remove_stale_lists
from search.index.tune import check_vectors, iter_normalized, normalized

__all__ = ["VectorIndex"]
log = logging.getLogger(__name__)
_TRAINED = ("ivf-sq8", "ivfpq-ondisk")  # kinds that need vectors to exist (IVF training)


class VectorIndex:
    """Image-id keyed cosine index over one of the back ends; safe for concurrent searches."""

    def __init__(
        self,
        backend: Backend,
        requested_kind: str,
        config: IndexConfig,
        param: int = 0,
        info: dict[str, object] | None = None,
    ) -> None:
        self._backend, self.requested_kind, self.config = backend, requested_kind, config
        self._param = param
        self._info: dict[str, object] = dict(info or {})
        self._lock = index_io.RWLock()
        self._version = 0
        self._ids = np.sort(backend.stored_ids())

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        ids: Iterable[int] | np.ndarray,
        vectors: np.ndarray,
        kind: str = "auto",
        *,
        config: IndexConfig | None = None,
    ) -> VectorIndex:
        """Build from ``ids`` int64[N] and ``vectors`` float[N, D] (L2-normalised on the way)."""
        config = config or IndexConfig()
        if kind not in ALL_KINDS:
            raise IndexInputError(f"unknown index kind {kind!r}; choose one of {ALL_KINDS}")
        ids = as_ids(ids)
        x = check_vectors(ids, vectors, None)
        backend, param, info = build_backend(kind, ids, x, config)
        return cls(backend, kind, config, param, info)

    @classmethod
    def empty(
        cls, dimension: int, kind: str = "auto", *, config: IndexConfig | None = None
    ) -> VectorIndex:
        """An empty index (ivf-sq8 cannot exist before training: build it from vectors)."""
        return cls.build(
            np.zeros(0, np.int64), np.zeros((0, dimension), np.float32), kind, config=config
        )

    @classmethod
    def from_chunks(
        cls,
        chunks: Iterable[tuple[np.ndarray, np.ndarray]],
        dimension: int,
        kind: str = "auto",
        *,
        config: IndexConfig | None = None,
    ) -> VectorIndex:
        """Build from ``(ids, vectors)`` chunks such as ``Store.iter_vectors()``."""
        parts = list(chunks)
        if not parts:
            return cls.empty(dimension, kind, config=config)
        return cls.build(
            np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]),
            kind,
            config=config,
        )

    # -- reading ----------------------------------------------------------------------------

    @property
    def kind(self) -> str:
        return self._backend.kind

    @property
    def ntotal(self) -> int:
        return self._backend.ntotal

    @property
    def dimension(self) -> int:
        return self._backend.dimension

    @property
    def search_param(self) -> int:
        return self._param

    @property
    def info(self) -> dict[str, object]:
        """Kind, size, measured recall@k (at build/tune time) and the back end's parameters."""
        out = {
            **self._info,
            "kind": self.kind,
            "requested_kind": self.requested_kind,
            "ntotal": self.ntotal,
            "dimension": self.dimension,
            **self._backend.describe(),
        }
        if self._backend.param_name:
            out[self._backend.param_name] = self._param
        return out

    @property
    def recall(self) -> float | None:
        value = self._info.get("recall_at_k")
        return None if value is None else float(value)  # type: ignore[arg-type]

    def ids(self) -> np.ndarray:
        """Sorted copy of the stored ids."""
        with self._lock.read():
            return self._ids.copy()

    def contains(self, ids: Iterable[int] | np.ndarray) -> np.ndarray:
        ids = as_ids(ids)
        with self._lock.read():
            at = np.minimum(np.searchsorted(self._ids, ids), max(len(self._ids) - 1, 0))
            return self._ids[at] == ids if len(self._ids) else np.zeros(len(ids), bool)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores float32[Q, k], ids int64[Q, k]); short rows padded with -1 / -inf."""
        q = np.asarray(queries)
        q = q[None, :] if q.ndim == 1 else q
        if q.ndim != 2 or q.shape[1] != self.dimension or not np.issubdtype(q.dtype, np.floating):
            raise IndexInputError(f"queries must be float [Q, {self.dimension}], got {q.shape}")
        if int(k) < 1:
            raise IndexInputError(f"k must be >= 1, got {k}")
        try:
            q = normalized(q)
        except ValueError as exc:
            raise IndexInputError(f"queries: {exc}") from exc
        with self._lock.read():
            return self._backend.search(q, int(k), self._param)

    def reconstruct(self, ids: Iterable[int] | np.ndarray) -> np.ndarray:
        """Stored vectors (ivf-sq8: 8-bit decoded); KeyError names ids that are not stored."""
        ids = as_ids(ids)
        missing = ids[~self.contains(ids)]
        if len(missing):
            raise KeyError(f"ids not in the index: {missing[:10].tolist()}")
        with self._lock.read():
            return self._backend.reconstruct(ids)

    @property
    def version(self) -> int:
        """A counter that moves with every change of the stored vectors."""
        return self._version

    def search_stored(
        self,
        ids: np.ndarray,
        k: int,
        *,
        version: int | None = None,
        vectors: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` of stored vectors ``ids`` (or of ``vectors`` given for them), as one read:
        raises IndexCacheError when ``version`` is given and the index changed since."""
        with self._lock.read():
            if version is not None and self._version != version:
                raise IndexCacheError("the index changed while it was being read")
            q = self._backend.reconstruct(ids) if vectors is None else vectors
            return self._backend.search(normalized(q), int(k), self._param)

    # -- mutation ---------------------------------------------------------------------------

    def add(self, ids: Iterable[int] | np.ndarray, vectors: np.ndarray) -> None:
        """Add new ids (an id already stored is an error: use ``update``)."""
        ids = as_ids(ids)
        x = check_vectors(ids, vectors, self.dimension)
        with self._lock.write():
            dup = ids[np.isin(ids, self._ids)]
            if len(dup):
                raise IndexInputError(f"ids already in the index: {dup[:10].tolist()}")
            self._add(ids, x)

    def update(self, ids: Iterable[int] | np.ndarray, vectors: np.ndarray) -> None:
        """Insert or replace: remove the ids that exist, then add all of them."""
        ids = as_ids(ids)
        x = check_vectors(ids, vectors, self.dimension)
        with self._lock.write():
            old = ids[np.isin(ids, self._ids)]
            if len(old):
                self._backend.remove(old)
            self._ids = np.setdiff1d(self._ids, ids)
            self._add(ids, x)

    def remove(self, ids: Iterable[int] | np.ndarray) -> int:
        """Remove ids (absent ones are ignored); returns how many were removed."""
        ids = np.unique(as_ids(ids))
        with self._lock.write():
            ids = ids[np.isin(ids, self._ids, assume_unique=True)]
            removed = self._backend.remove(ids) if len(ids) else 0
            self._ids = np.setdiff1d(self._ids, ids, assume_unique=True)
            self._version += 1
            return removed

    def set_search_param(self, value: int) -> None:
        """Override nprobe (ivf-sq8) / efSearch (hnsw); the recorded recall no longer applies."""
        with self._lock.write():
            self._param = int(value)
            self._info["recall_at_k"] = None

    def _add(self, ids: np.ndarray, x: np.ndarray) -> None:
        for start, block in iter_normalized(x):
            self._backend.add(ids[start : start + len(block)], block)
        self._ids = np.union1d(self._ids, ids)
        self._version += 1
        if (
            self.requested_kind == "auto"
            and self.kind == "flat"
            and self.ntotal >= self.config.auto_threshold
        ):
            self._upgrade()

    def _upgrade(self) -> None:
        """Auto: flat grew past the threshold -> rebuild approximate from the exact vectors."""
        assert isinstance(self._backend, FlatBackend)
        all_ids, view = self._backend.matrix()
        built = VectorIndex.build(all_ids.copy(), view.copy(), "auto", config=self.config)
        self._backend, self._param, self._info = built._backend, built._param, built._info
        log.info("auto index upgraded to %s at %d vectors", self.kind, self.ntotal)

    def needs_rebuild(self) -> str | None:
        """Why a rebuild from the store would help now (IVF lists drifted), or None."""
        trained = int(self._info.get("trained_on", 0) or 0)  # type: ignore[call-overload]
        drift = self._backend.drift()
        if drift:
            return drift
        if self.ntotal and self.kind == "flat" and self.requested_kind in _TRAINED:
            return f"{self.requested_kind} was asked for before there were vectors to train it"
        if self.kind in _TRAINED and not trained / 4 <= self.ntotal <= trained * 4:
            return f"ivf lists were trained on {trained} vectors, the index now holds {self.ntotal}"
        if self.kind == "hnsw" and self.ntotal > 1 and self.ntotal > 4 * trained:
            # a new library's graph starts empty: its efSearch (0) was never tuned
            return (
                f"hnsw's efSearch was tuned on {trained} vectors, the index now holds {self.ntotal}"
            )
        if (
            self.requested_kind == "auto"
            and self.kind != "flat"
            and self.ntotal < self.config.auto_threshold // 2
        ):
            return f"{self.ntotal} vectors: small enough for exact flat search"
        return None

    # -- persistence ------------------------------------------------------------------------

    def save(self, path: str | Path, stamp: IndexStamp) -> None:
        """Write atomically (temp file, fsync, rename, fsync dir) with ``stamp`` embedded;
        then remove on-disk lists files of an earlier index at ``path`` it does not use."""
        with self._lock.read():
            self._backend.prepare_save(Path(path))
            if stamp.count != self.ntotal or stamp.dimension != self.dimension:
                raise IndexInputError(
                    f"stamp says {stamp.count} x {stamp.dimension}-d but the index holds "
                    f"{self.ntotal} x {self.dimension}-d"
                )
            arrays = {
                k: np.ascontiguousarray(v).tobytes() for k, v in self._backend.sections().items()
            }
            header = {
                "stamp": asdict(stamp),
                "kind": self.kind,
                "info": {**self.info, "search_param": self._param},
            }
            index_io.write_file(
                Path(path),
                lambda write: faiss.write_index(
                    self._backend.faiss_index(), faiss.PyCallbackIOWriter(write)
                ),
                arrays,
                header,
            )
            remove_stale_lists(Path(path), self._backend.lists_file())

    @staticmethod
    def read_header(path: str | Path) -> index_io.Header:
        """Stamp, kind and info (recall...) of an index file, without loading it."""
        return index_io.read_header(Path(path))

    @classmethod
    def load(
        cls,
        path: str | Path,
        expected: IndexStamp,
        *,
        config: IndexConfig | None = None,
        verify: bool = True,
    ) -> VectorIndex:
        """Load and check the file against ``expected``; raise the matching IndexCacheError."""
        config = config or IndexConfig()
        header, raw, extra = index_io.read_index(Path(path), expected, verify, read_flags)
        try:
            backend = load_backend(header.kind, raw, extra, config, Path(path))
        except (ValueError, KeyError) as exc:
            raise CorruptIndexError(f"index file {path} is unreadable: {exc}") from exc
        if backend.ntotal != expected.count or backend.dimension != expected.dimension:
            raise CorruptIndexError(
                f"index file {path} holds {backend.ntotal} x "
                f"{backend.dimension}-d, its stamp says {expected}"
            )
        info = dict(header.info)
        param = int(info.pop("search_param", 0) or 0)  # type: ignore[call-overload]
        kept = {k: v for k, v in info.items() if k not in ("kind", "ntotal", "dimension")}
        return cls(backend, str(info.get("requested_kind", header.kind)), config, param, kept)
