"""The store: SQLAlchemy access to the library database, the source of truth.

Every write goes through :meth:`Store.apply`, one transaction per batch, which also moves the
library's generation counter; the FAISS cache compares its stamp with that counter.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from search.store import migrate
from search.store.connect import make_engine, printable_url
from search.store.descriptor_state import DescriptorRecords, DescriptorRows, pages
from search.store.dialect import generation_token, insert_ignore, set_meta
from search.store.errors import (
    model_mismatch,
    require_database,
    require_library_file,
    sqlite_file,
)
from search.store.health import (
    HealthRecords,
    ServingState,
    check_on_open,
    check_sqlite_header,
    reported_corruption,
)
from search.store.locks import database_locks
from search.store.open_files import closed, open_in_this_process, opened
from search.store.quality import QualityRecords
from search.store.read_only import no_room_left, read_only_engine, read_only_file
from search.store.reads import ImageReads
from search.store.records import (
    VECTOR_DTYPE,
    AppliedChanges,
    ChangeSet,
    FileState,
    FrameVector,
    ImageMove,
    ImageUpsert,
    ModelStamp,
    decode_vector,
    encode_vector,
    utcnow,
)
from search.store.removals import ExcludeRecords, Removal, RemovalRecords
from search.store.runs import RunRecords
from search.store.schema import (
    STATUS_FAILED,
    STATUS_OK,
    Collection,
    DescriptorState,
    Embedding,
    Image,
    LibraryMeta,
)
from search.store.videos import VideoRecords
from search.store.write import apply_changes, model_stamp_in, record_model_in

# The records are part of the store's interface: ``from search.store.store import ChangeSet``.
__all__ = [
    "VECTOR_DTYPE",
    "AppliedChanges",
    "ChangeSet",
    "DescriptorRows",
    "FileState",
    "FrameVector",
    "ImageMove",
    "ImageUpsert",
    "ModelStamp",
    "Removal",
    "ServingState",
    "Store",
    "decode_vector",
    "encode_vector",
    "make_engine",
    "printable_url",
    "utcnow",
]


class Store:
    """The library database. Open with :meth:`open`; thread-safe (a session per call)."""

    def __init__(
        self, engine: Engine, *, read_only: bool = False, sqlite_file: Path | None = None
    ) -> None:
        self.engine = engine
        #: nothing may be written (search/store/read_only.py); caches stay in memory
        self.read_only = read_only
        self._sqlite_file = sqlite_file
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.reads = ImageReads(self.session, self.reading)
        self.descriptors = DescriptorRecords(self.session, self.reading)
        self.removals = RemovalRecords(self.session)
        self.excludes = ExcludeRecords(self.session)  # remembered --exclude patterns
        self.runs = RunRecords(self.session)
        self.health = HealthRecords(self.session, self.reading)
        self.videos = VideoRecords(self.session)
        self.quality = QualityRecords(self.session)
        #: writers' advisory locks (PostgreSQL); None: the library's lock file (SQLite)
        self.locks = database_locks(engine)

    @classmethod
    def open(cls, url: str, *, create: bool = False, read_only: bool = False) -> Store:
        """Open (and when ``create``, make) a library database, upgrading an old schema;
        read-only (``read_only``, or a SQLite file this process cannot write) for readers."""
        path = sqlite_file(url)  # without the URL's ?options
        if path is not None and not create:
            require_database(url)
            require_library_file(url)
            unwritable = read_only_file(url, read_only)
            if unwritable is not None:
                return cls._open_read_only(unwritable)
            try:
                return cls._open(url, path, create=False, read_only=read_only)
            except OperationalError:  # a reader on a full disk: nothing can be written anyway
                if not no_room_left(path):
                    raise
            return cls._open_read_only(path)
        return cls._open(url, path, create=create, read_only=read_only)

    @classmethod
    def _open(cls, url: str, path: Path | None, *, create: bool, read_only: bool) -> Store:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists() and not open_in_this_process(path):
                check_sqlite_header(path)
        engine = make_engine(url, read_only=read_only)
        with reported_corruption(path, engine):  # a damaged file: a clear typed error
            if read_only:  # a server library read as it is (a SQLite one returned above)
                migrate.require_head(engine)
            else:
                migrate.ensure_schema(engine, create=create)
            store = cls(engine)
            check_on_open(store.health, path)
            unmarked = store.get_meta("library_id") is None or store.get_meta("generation") is None
            if unmarked and not read_only:
                with store.session() as session:  # (several processes may create it at once)
                    rows = [{"key": "library_id", "value": uuid.uuid4().hex}]
                    rows.append({"key": "generation", "value": "0"})
                    insert_ignore(session, LibraryMeta, rows)  # a reader writes nothing
        if path is not None:
            opened(path, store)
        store.read_only = read_only
        return store

    @classmethod
    def _open_read_only(cls, path: Path) -> Store:
        if not open_in_this_process(path):
            check_sqlite_header(path)
        engine = read_only_engine(path)
        with reported_corruption(path, engine):
            migrate.require_head(engine)
            store = cls(engine, read_only=True, sqlite_file=path)
            check_on_open(store.health, path)
        opened(path, store)
        return store

    def close(self) -> None:
        closed(self)
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        # a file damaged after it was opened: a clear typed error too
        with reported_corruption(self.sqlite_path), self._sessions.begin() as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for plain column reads (no ORM session: the query's hot path)."""
        with reported_corruption(self.sqlite_path), self.engine.connect() as connection:
            yield connection

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file, None for another database."""
        if self._sqlite_file is not None:
            return self._sqlite_file
        database = self.engine.url.database
        return Path(database) if self.engine.dialect.name == "sqlite" and database else None

    # -- metadata ---------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        with self.session() as session:
            row = session.get(LibraryMeta, key)
            return row.value if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.session() as session:
            set_meta(session, key, value)

    def set_meta_unless_busy(self, key: str, value: str) -> bool:
        """:meth:`set_meta`, or False when another writer holds the database (a lock
        timeout) or it is read-only: for a note worth keeping, never worth failing over."""
        if self.read_only:
            return False
        try:
            self.set_meta(key, value)
        except OperationalError:
            return False
        return True

    @property
    def library_id(self) -> str:
        value = self.get_meta("library_id")
        assert value is not None
        return value

    def generation(self) -> int:
        return int(self.get_meta("generation") or 0)

    def generation_token(self) -> tuple[int, str]:
        with self.session() as session:
            return generation_token(session)

    def searched_state(self, meta_keys: Sequence[str]) -> tuple[tuple[str, str | None], ...]:
        """What a loaded vector index depends on besides the generation: the values of
        ``meta_keys`` (descriptor options, index kind) and the fingerprint of each learned
        descriptor state (whitening, calibration), read in one transaction. A server
        compares it at each refresh: these change without a new generation."""
        with self.session() as session:
            meta = session.execute(
                select(LibraryMeta.key, LibraryMeta.value).where(LibraryMeta.key.in_(meta_keys))
            )
            learned = session.execute(select(DescriptorState.key, DescriptorState.fingerprint))
            rows = [(f"meta:{k}", v) for k, v in meta] + [(f"state:{k}", f) for k, f in learned]
        return tuple(sorted(rows))

    def model_stamp(self) -> ModelStamp | None:
        with self.session() as session:
            return model_stamp_in(session)

    def bind_model(self, stamp: ModelStamp, *, replace: bool = False) -> None:
        """Record the library's model; refuse another one unless ``replace`` (reindex)."""
        current = self.model_stamp()
        if current is not None and current != stamp and not replace:
            raise model_mismatch(current, stamp)
        with self.session() as session:
            record_model_in(session, stamp)

    # -- collections ------------------------------------------------------------------------

    def ensure_collection(self, root: Path) -> int:
        root_text = str(Path(root).resolve())
        query = select(Collection.id).where(Collection.root == root_text)
        with self.session() as session:
            found = session.scalar(query)
            if found is not None:
                return found
        with self.session() as session:  # another process may add the same root meanwhile
            insert_ignore(session, Collection, [{"root": root_text, "added_at": utcnow()}])
        with self.session() as session:
            return session.scalars(query).one()

    def collections(self) -> list[dict[str, object]]:
        with self.session() as session:
            counts = dict(
                session.execute(
                    select(Image.collection_id, func.count(Image.id))
                    .where(Image.status == STATUS_OK)
                    .group_by(Image.collection_id)
                ).all()
            )
            return [
                {
                    "id": c.id,
                    "root": c.root,
                    "images": counts.get(c.id, 0),
                    "added_at": c.added_at,
                    "last_indexed_at": c.last_indexed_at,
                }
                for c in session.scalars(select(Collection).order_by(Collection.id))
            ]

    def touch_collection(self, collection_id: int) -> None:
        with self.session() as session:
            session.get_one(Collection, collection_id).last_indexed_at = utcnow()

    def file_states(self, collection_id: int) -> dict[str, FileState]:
        query = select(
            Image.id, Image.rel_path, Image.file_size, Image.mtime_ns, Image.sha256, Image.status
        ).where(Image.collection_id == collection_id)
        with self.session() as session:
            return {row.rel_path: FileState(*row) for row in session.execute(query)}

    def ids_by_sha256(self, sha256: str, *, indexed_only: bool = True) -> list[int]:
        query = select(Image.id).where(Image.sha256 == sha256)
        if indexed_only:
            query = query.where(Image.status == STATUS_OK)
        with self.session() as session:
            return list(session.scalars(query.order_by(Image.id)))

    def ids_by_pixel_sha256(self, pixel_sha256: str) -> list[int]:
        query = select(Image.id).where(
            Image.pixel_sha256 == pixel_sha256, Image.status == STATUS_OK
        )
        with self.session() as session:
            return list(session.scalars(query.order_by(Image.id)))

    # -- writes -----------------------------------------------------------------------------

    def apply(self, changes: ChangeSet) -> AppliedChanges:
        """Write a batch in one transaction and move the generation; return the index delta."""
        with self.session() as session:
            return apply_changes(session, changes)

    # -- reads ------------------------------------------------------------------------------

    def vector_count(self) -> int:
        with self.session() as session:
            return session.scalar(select(func.count()).select_from(Embedding)) or 0

    def iter_vectors(self, chunk: int = 20_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(ids int64[n], vectors float32[n, d])`` in id order, a chunk at a time."""
        for rows in pages(self.session, Embedding.image_id, (Embedding.vector,), chunk):
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            yield ids, np.stack([decode_vector(r[1]) for r in rows]).astype(np.float32)

    def vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        wanted = Embedding.image_id.in_(list(ids))
        with self.session() as session:
            rows = session.execute(select(Embedding.image_id, Embedding.vector).where(wanted)).all()
        return {r[0]: decode_vector(r[1]).copy() for r in rows}

    def counts(self) -> dict[str, int]:
        with self.session() as session:
            by_status = dict(
                session.execute(select(Image.status, func.count()).group_by(Image.status)).all()
            )
            vectors = session.scalar(select(func.count()).select_from(Embedding)) or 0
        return {
            "images": by_status.get(STATUS_OK, 0),
            "failed": by_status.get(STATUS_FAILED, 0),
            "vectors": vectors,
        }
