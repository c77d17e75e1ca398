"""The ``ivfpq-ondisk`` back end: IVF-PQ whose inverted lists live in a memory-mapped file.

For libraries beyond RAM (10 M - 1 B images). Trained on a sample (spherical k-means lists,
product quantizer of ``m`` bytes per vector on the residuals), filled in shards: added vectors
collect in RAM lists, every ``ondisk_shard`` of them are written to a temporary shard file
(memory-mapped back, still searchable), and the first save merges shards and RAM into one
``<index file>.<token>.ivfdata`` beside the index file with FAISS's ``OnDiskInvertedLists``
(what ``faiss/contrib/ondisk.py``'s ``merge_ondisk`` does). The index file itself holds only
the quantizer, the PQ codebooks and the lists' offsets; a loading process maps the
``.ivfdata`` read-only, so the OS pages in the lists a query probes and the process's RSS
stays at the coarse quantizer, the id table and the pages in use.

The ``.ivfdata`` file is immutable: changes after that (the indexer's batches) go to a small
in-RAM *delta* part (saved as a section of the index file) and a tombstone list of removed
ids; :meth:`IVFPQOnDiskBackend.drift` asks for a rebuild from the store once they pass 10 %
of the file. The index file's stamp covers everything, and it names its ``.ivfdata`` by
token and size: a missing or different file makes the cache corrupt, i.e. rebuilt.

Scores are PQ approximations: the back end returns ``candidate_factor`` times more
candidates than asked when its recall is tuned, because the query engine re-scores 50
candidates per view exactly from the store; recall is measured after that exact re-scoring.
"""

from __future__ import annotations

import glob
import hashlib
import json
import re
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from search.index.disk_space import require_room
from search.index.faiss_lib import faiss
from search.index.kinds import Backend, IVFSQ8Backend, as_ids, flat_view, probed_search
from search.index.quiet import c_stdout_silenced
from search.index.tune import PAD_SCORE, nearest, normalized, spherical_kmeans


class _ReadFlags:
    """FAISS IO flags of the skeleton read (no .ivfdata, read-only), asked for only when a
    file is read, so that importing this module does not load FAISS."""

    def __get__(self, obj: object, owner: type) -> int:
        return faiss.IO_FLAG_SKIP_IVF_DATA | faiss.IO_FLAG_READ_ONLY


SUFFIX = ".ivfdata"
SAMPLED_BLOCKS, BLOCK_BYTES = 64, 4096  # the lists file's digest: blocks read, evenly spaced


def lists_file_stamp(target: Path) -> dict[str, Any]:
    """What the index file records of its ``.ivfdata``: size, modification time and a digest
    of :data:`SAMPLED_BLOCKS` blocks across it (bytes changed in place, the size kept, were
    searched as they were: other neighbours, no warning). Older index files record the size
    only; what they lack is not compared."""
    st = target.stat()
    digest = hashlib.sha256()
    with target.open("rb") as handle:
        for n in range(SAMPLED_BLOCKS):
            handle.seek(st.st_size * n // SAMPLED_BLOCKS)
            digest.update(handle.read(BLOCK_BYTES))
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "digest": digest.hexdigest()[:32]}


def remove_stale_lists(path: Path, keep: Path | None) -> list[Path]:
    """Delete the ``<path's name>.<hex token>.ivfdata`` files beside the index file ``path``
    other than ``keep`` (the one the index file now in place names; None: it names none);
    the files removed. Call it only after that file is in place. A process that still has
    an old file memory-mapped reads on: the file goes once its last map is closed."""
    pattern = re.compile(re.escape(path.name) + r"\.[0-9a-f]+" + re.escape(SUFFIX))
    removed = []
    for candidate in path.parent.glob(f"{glob.escape(path.name)}.*{SUFFIX}"):
        if candidate != keep and pattern.fullmatch(candidate.name):
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


def pq_bytes(d: int, wanted: int = 0) -> int:
    """Sub-quantizers (bytes per vector): ``wanted``, else d/2 capped at 64, dividing d
    (at 10 M x 128-d, 32 bytes kept only 0.87 of the true top-10 among the candidates with
    every list probed, 64 bytes 0.91 with 20 of 2048: ``bench/search.py``)."""
    m = wanted or min(64, max(1, d // 2))
    while d % m:
        m -= 1
    return m


class IVFPQOnDiskBackend(Backend):
    kind = "ivfpq-ondisk"
    param_name = "nprobe"
    candidate_factor = 5  # the engine re-scores 50 candidates per view for k <= 40
    read_flags = _ReadFlags()
    target_recall = 0.9  # after exact re-scoring of the candidates (PQ alone plateaus)

    def __init__(self, skeleton: np.ndarray, shard_size: int = 1_000_000) -> None:
        self.skeleton = skeleton  # the trained, empty index (serialized)
        self.index = self._empty()  # RAM part (delta)
        self.base: faiss.Index | None = None  # the memory-mapped .ivfdata part
        self.base_file: Path | None = None
        self.shards: list[tuple[Path, faiss.Index]] = []
        self.shard_size = max(1, shard_size)
        self.tombstones = np.zeros(0, np.int64)  # removed ids of base and shards
        self._tmp: Path | None = None

    def _empty(self) -> faiss.Index:
        return faiss.deserialize_index(self.skeleton)

    def _parts(self) -> list[faiss.Index]:
        parts = [p for _f, p in self.shards]
        return ([self.base] if self.base is not None else []) + parts + [self.index]

    # -- building ------------------------------------------------------------------------

    @classmethod
    def create(cls, x: np.ndarray, config: Any) -> IVFPQOnDiskBackend:
        n, d = x.shape
        if n == 0:
            raise ValueError("an ivfpq-ondisk index needs vectors to train on")
        nlist = min(config.ivf_nlist or IVFSQ8Backend.default_nlist(n), n)
        rng = np.random.default_rng(config.seed)
        size = min(n, max(nlist * config.ivf_train_per_list, 256 * 39))
        sample = normalized(x[np.sort(rng.choice(n, size=size, replace=False))])
        centroids = spherical_kmeans(sample, nlist, config.ivf_niter, config.seed)
        quantizer = faiss.IndexFlatIP(d)
        quantizer.add(centroids)
        m = pq_bytes(d, config.pq_m)
        rows = sample[:65_536]
        nbits = min(8, max(1, int(np.log2(max(2, len(rows) // 39)))))  # small: < 256 codes
        if len(rows) < 2**nbits:  # one image: FAISS wants a row per code (it raised)
            rows = np.resize(rows, (2**nbits, d))
        index = faiss.IndexIVFPQ(quantizer, d, nlist, m, nbits, faiss.METRIC_INNER_PRODUCT)
        assign = nearest(rows, centroids)
        residuals = np.ascontiguousarray(rows - centroids[assign])
        index.pq.cp.seed = config.seed
        # a small library trains 2^nbits codes from fewer than 39 rows each, on purpose: no
        # "WARNING clustering N points to K centroids" per sub-quantizer on stderr (this
        # setting only decides that warning)
        index.pq.cp.min_points_per_centroid = 1
        index.train_encoder(len(rows), faiss.swig_ptr(residuals), faiss.swig_ptr(assign))
        index.is_trained = True
        return cls(faiss.serialize_index(index), config.ondisk_shard)

    def add(self, ids: np.ndarray, x: np.ndarray) -> None:
        """Lists assigned with numpy, codes by FAISS; a full RAM part becomes a shard file."""
        ids, x = as_ids(ids), np.ascontiguousarray(x, dtype=np.float32)
        part = self.index
        assign = nearest(x, flat_view(part.quantizer))
        part.add_core(len(x), faiss.swig_ptr(x), faiss.swig_ptr(ids), faiss.swig_ptr(assign))
        if self.base is None and part.ntotal >= self.shard_size:
            self._flush_shard()

    def _flush_shard(self) -> None:
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="imgsearch-ivfpq-"))
        path = self._tmp / f"shard{len(self.shards):05d}.faiss"
        faiss.write_index(self.index, str(path))
        self.shards.append((path, faiss.read_index(str(path), faiss.IO_FLAG_MMAP)))
        self.index = self._empty()

    # -- reading -------------------------------------------------------------------------

    @property
    def ntotal(self) -> int:
        return sum(int(p.ntotal) for p in self._parts()) - len(self.tombstones)

    @property
    def dimension(self) -> int:
        return int(self.index.d)

    def max_param(self) -> int:
        return int(self.index.nlist)

    def search(self, q: np.ndarray, k: int, param: int) -> tuple[np.ndarray, np.ndarray]:
        nlist = int(self.index.nlist)
        return probed_search(self._search, q, k, max(1, min(param or 1, nlist)), nlist, self.ntotal)

    def _search(self, q: np.ndarray, k: int, nprobe: int) -> tuple[np.ndarray, np.ndarray]:
        parts, dead = self._parts(), self.tombstones
        inner = faiss.IDSelectorBatch(dead) if len(dead) else None  # kept alive: Not holds it
        selector = faiss.IDSelectorNot(inner) if inner is not None else None
        found_s, found_i = [], []
        for part in parts:
            if not part.ntotal:
                continue
            params = faiss.SearchParametersIVF()
            params.nprobe = nprobe
            if selector is not None and part is not self.index:
                params.sel = selector
            s, i = part.search(q, k, params=params)
            found_s.append(s)
            found_i.append(i)
        if not found_s:
            return np.full((len(q), k), PAD_SCORE, np.float32), np.full((len(q), k), -1, np.int64)
        s, i = np.concatenate(found_s, axis=1), np.concatenate(found_i, axis=1)
        s[i < 0] = PAD_SCORE
        top = np.argsort(-s, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(s, top, 1), np.take_along_axis(i, top, 1)

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        raise ValueError("ivfpq-ondisk keeps no vectors: read them from the store")

    def stored_ids(self) -> np.ndarray:
        parts = []
        for part in self._parts():
            lists = part.invlists
            for i in range(part.nlist):
                size = lists.list_size(i)
                if size:
                    parts.append(faiss.rev_swig_ptr(lists.get_ids(i), size).copy())
        found = np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)
        return found[~np.isin(found, self.tombstones)] if len(self.tombstones) else found

    def remove(self, ids: np.ndarray) -> int:
        ids = as_ids(ids)
        before = self.index.ntotal
        if before:
            self.index.remove_ids(faiss.IDSelectorBatch(ids))
        in_ram = before - self.index.ntotal
        if in_ram < len(ids):  # the rest lie in the file (or shards): tombstones
            self.tombstones = np.union1d(self.tombstones, ids)
        return len(ids)

    def drift(self) -> str | None:
        """Why a rebuild would help: changes since the file passed 10 % of it."""
        if self.base is None:
            return None
        changed = int(self.index.ntotal) + len(self.tombstones)
        if changed > 0.1 * max(1, int(self.base.ntotal)):
            return f"{changed} changes since the on-disk lists of {self.base.ntotal} were built"
        return None

    def describe(self) -> dict[str, object]:
        return {
            "nlist": int(self.index.nlist),
            "pq_bytes": int(self.index.pq.M),
            "ondisk_file": self.base_file.name if self.base_file is not None else None,
        }

    # -- files ---------------------------------------------------------------------------

    def prepare_save(self, path: Path) -> None:
        """First save: merge shards + RAM into ``<path>.<token>.ivfdata`` (older ones go once
        the index file naming it is in place: :func:`remove_stale_lists`)."""
        if self.base is None:
            token = uuid.uuid4().hex[:12]
            target = path.parent / f"{path.name}.{token}{SUFFIX}"
            parts = [p for _f, p in self.shards] + [self.index]
            ntotal = sum(part.ntotal for part in parts)  # codes + ids, with a quarter to spare
            require_room(target, int(1.25 * ntotal * (self.index.code_size + 8)) + (1 << 20))
            lists = faiss.OnDiskInvertedLists(self.index.nlist, self.index.code_size, str(target))
            vector = faiss.InvertedListsPtrVector()
            for part in parts:
                vector.push_back(part.invlists)
            with c_stdout_silenced():  # FAISS printf()s "resizing FILE to N bytes"
                ntotal = lists.merge_from_multiple(vector.data(), vector.size(), False)
            base = self._empty()
            base.replace_invlists(lists, True)
            lists.this.disown()
            base.ntotal = ntotal
            self.base, self.base_file = base, target
            self.index = self._empty()
            self._drop_shards()

    def lists_file(self) -> Path | None:
        return self.base_file

    def faiss_index(self) -> faiss.Index:
        assert self.base is not None, "prepare_save first"
        return self.base

    def sections(self) -> dict[str, np.ndarray]:
        assert self.base_file is not None, "prepare_save first"
        meta = {"file": self.base_file.name, **lists_file_stamp(self.base_file)}
        out = {
            "ondisk": np.frombuffer(json.dumps(meta).encode(), np.uint8),
            "skeleton": self.skeleton,
            "tombstones": self.tombstones,
        }
        if self.index.ntotal:
            out["delta"] = faiss.serialize_index(self.index)
        return out

    @classmethod
    def open_at(
        cls, raw: faiss.Index, extra: dict[str, bytes], config: Any, path: Path
    ) -> IVFPQOnDiskBackend:
        """Wrap an index file's ``raw`` skeleton (read with :attr:`read_flags`): map its
        ``.ivfdata`` read-only from beside ``path``."""
        meta = json.loads(extra["ondisk"])
        target = Path(path).parent / str(meta["file"])
        if not target.is_file() or any(
            meta.get(key, value) != value for key, value in lists_file_stamp(target).items()
        ):
            raise ValueError(f"its lists file {target} is missing or changed")
        backend = cls(np.frombuffer(extra["skeleton"], np.uint8).copy(), config.ondisk_shard)
        lists = faiss.downcast_InvertedLists(faiss.extract_index_ivf(raw).invlists)
        lists.filename = str(target)
        lists.do_mmap()
        backend.base, backend.base_file = raw, target
        backend.tombstones = np.frombuffer(extra["tombstones"], np.int64).copy()
        if "delta" in extra:
            backend.index = faiss.deserialize_index(np.frombuffer(extra["delta"], np.uint8))
        return backend

    def _drop_shards(self) -> None:
        self.shards = []
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __del__(self) -> None:
        self._drop_shards()
