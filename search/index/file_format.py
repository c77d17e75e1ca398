"""The index file: FAISS bytes + extra arrays + a stamped JSON header, written atomically.

Layout (one file, so one ``rename`` publishes index and stamp together)::

    b"IMGSIDX1"                                   magic
    section bytes ...                             "faiss" (faiss.write_index), then extras
    header JSON (utf-8)                           stamp, kind, info, sections + sha256 each
    footer: u64 header offset, u64 header length, 32-byte sha256 of the header, b"IMGSEND1"

A missing footer means a truncated file; every section carries its sha256, so flipped bytes
are caught before FAISS parses anything (a corrupt FAISS stream could otherwise crash).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, fields
from pathlib import Path
from typing import BinaryIO

from search.index.errors import (
    CorruptIndexError,
    ForeignIndexError,
    IndexMissingError,
    StaleIndexError,
)
from search.index.faiss_lib import faiss

MAGIC = b"IMGSIDX1"
END = b"IMGSEND1"
FOOTER = struct.Struct("<QQ32s8s")
FORMAT_VERSION = 1
_CHUNK = 1 << 22


@dataclass(frozen=True)
class IndexStamp:
    library_id: str
    generation: int
    count: int
    model_name: str
    model_sha256: str
    dimension: int
    descriptor: str = ""  # what the vectors were mapped through (search.library.library)
    #: the generation's random token (search.store): "" where unknown, then not compared
    token: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> IndexStamp:
        """From a file's header; fields added since (``token``) keep their defaults."""
        known = {f.name: data[f.name] for f in fields(cls) if f.name in data or f.name != "token"}
        return cls(**known)  # type: ignore[arg-type]


class FormatError(Exception):
    """Internal: the file is not a well-formed index file (mapped to CorruptIndexError)."""


@dataclass(frozen=True)
class Header:
    """What the header of an index file says, read without touching the payload."""

    path: Path
    stamp: dict[str, object]
    kind: str
    info: dict[str, object]
    sections: dict[str, tuple[int, int, str]]  # name -> (offset, length, sha256 hex)
    file_size: int


class _HashingSink:
    """Writes to ``f`` while hashing; ``cut(name)`` closes the current section."""

    def __init__(self, f: BinaryIO) -> None:
        self.f, self.offset, self.start = f, f.tell(), f.tell()
        self.h = hashlib.sha256()
        self.sections: list[dict[str, object]] = []

    def write(self, data: bytes) -> int:
        self.f.write(data)
        self.h.update(data)
        self.offset += len(data)
        return len(data)

    def cut(self, name: str) -> None:
        self.sections.append(
            {
                "name": name,
                "offset": self.start,
                "length": self.offset - self.start,
                "sha256": self.h.hexdigest(),
            }
        )
        self.start, self.h = self.offset, hashlib.sha256()


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(
    path: Path,
    write_faiss: Callable[[Callable[[bytes], int]], None],
    arrays: dict[str, bytes],
    header: dict[str, object],
) -> int:
    """Write the index file atomically: temp file in the same dir, fsync, rename, fsync dir.

    On any failure the temporary file is removed and the previous file stays untouched.
    Returns the size written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(MAGIC)
            sink = _HashingSink(f)
            write_faiss(sink.write)
            sink.cut("faiss")
            for name, data in arrays.items():
                sink.write(data)
                sink.cut(name)
            body = json.dumps(
                {**header, "format": FORMAT_VERSION, "sections": sink.sections}, sort_keys=True
            ).encode()
            offset = f.tell()
            f.write(body)
            f.write(FOOTER.pack(offset, len(body), hashlib.sha256(body).digest(), END))
            f.flush()
            os.fsync(f.fileno())
            size = f.tell()
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)
    return size


def read_header(path: Path) -> Header:
    """Parse and check magic, footer and header checksum (IndexMissing/CorruptIndexError)."""
    try:
        return _read_header(Path(path))
    except FileNotFoundError as exc:
        raise IndexMissingError(f"no index file at {path}") from exc
    except (FormatError, OSError) as exc:
        raise CorruptIndexError(f"index file {path} is unreadable: {exc}") from exc


def check_stamp(header: Header, expected: IndexStamp) -> IndexStamp:
    """The file's stamp, if it matches ``expected``; else Foreign-/StaleIndexError."""
    try:
        stamp = IndexStamp.from_dict(header.stamp)
    except (KeyError, TypeError) as exc:
        raise CorruptIndexError(f"index file {header.path}: bad stamp {header.stamp}") from exc
    foreign = ("library_id", "model_name", "model_sha256", "dimension")
    stale = ("generation", "count", "descriptor")
    for names, error in ((foreign, ForeignIndexError), (stale, StaleIndexError)):
        for name in names:
            if getattr(stamp, name) != getattr(expected, name):
                raise error(
                    f"index file {header.path} has {name}={getattr(stamp, name)!r}, "
                    f"expected {getattr(expected, name)!r}"
                )
    if stamp.token and expected.token and stamp.token != expected.token:
        raise StaleIndexError(
            f"index file {header.path} was made by another copy of this library (its "
            f"generation {stamp.generation} holds other changes than this one's)"
        )
    return stamp


def _read_header(path: Path) -> Header:
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < len(MAGIC) + FOOTER.size:
            raise FormatError(f"{size} bytes is too short to be an index file (truncated?)")
        if f.read(len(MAGIC)) != MAGIC:
            raise FormatError("not an imgsearch index file (bad magic)")
        f.seek(size - FOOTER.size)
        offset, length, digest, end = FOOTER.unpack(f.read(FOOTER.size))
        if end != END:
            raise FormatError("no end marker: the file is truncated or was not written fully")
        if offset < len(MAGIC) or offset + length + FOOTER.size != size:
            raise FormatError("footer does not match the file size (truncated or appended to)")
        f.seek(offset)
        body = f.read(length)
    if hashlib.sha256(body).digest() != digest:
        raise FormatError("header checksum mismatch")
    try:
        doc = json.loads(body)
        if doc.get("format") != FORMAT_VERSION:
            raise FormatError(f"unsupported index file format {doc.get('format')!r}")
        sections = {
            s["name"]: (int(s["offset"]), int(s["length"]), str(s["sha256"]))
            for s in doc["sections"]
        }
        stamp, kind, info = dict(doc["stamp"]), str(doc["kind"]), dict(doc.get("info", {}))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise FormatError(f"malformed header: {exc}") from exc
    if "faiss" not in sections:
        raise FormatError("no faiss section")
    for name, (off, ln, _) in sections.items():
        if off < len(MAGIC) or ln < 0 or off + ln > offset:
            raise FormatError(f"section {name!r} lies outside the payload")
    return Header(path, stamp, kind, info, sections, size)


def read_index(
    path: Path,
    expected: IndexStamp,
    verify: bool = True,
    flags_of: Callable[[str], int] = lambda kind: 0,
) -> tuple[Header, object, dict[str, bytes]]:
    """Header (stamp checked), the FAISS index (read with ``flags_of(kind)``) and the extra
    sections of an index file."""
    header = read_header(path)
    check_stamp(header, expected)
    try:
        if verify:
            verify_sections(header)
        with section_reader(header, "faiss") as read:
            raw = faiss.read_index(faiss.PyCallbackIOReader(read), flags_of(header.kind))
        extra = {n: read_section(header, n) for n in header.sections if n != "faiss"}
    except (FormatError, RuntimeError, OSError) as exc:
        raise CorruptIndexError(f"index file {path} is unreadable: {exc}") from exc
    return header, raw, extra


def verify_sections(header: Header) -> None:
    """Stream every section through sha256 and compare with the header."""
    with open(header.path, "rb") as f:
        for name, (offset, length, expected) in header.sections.items():
            h = hashlib.sha256()
            for chunk in _read_range(f, offset, length):
                h.update(chunk)
            if h.hexdigest() != expected:
                raise FormatError(f"section {name!r} checksum mismatch (file modified or damaged)")


def _read_range(f: BinaryIO, offset: int, length: int) -> Iterator[bytes]:
    f.seek(offset)
    left = length
    while left:
        chunk = f.read(min(left, _CHUNK))
        if not chunk:
            raise FormatError("unexpected end of file")
        left -= len(chunk)
        yield chunk


def read_section(header: Header, name: str) -> bytes:
    offset, length, _ = header.sections[name]
    with open(header.path, "rb") as f:
        return b"".join(_read_range(f, offset, length))


@contextmanager
def section_reader(header: Header, name: str) -> Iterator[Callable[[int], bytes]]:
    """A ``read(n) -> bytes`` callback bounded to one section (for faiss.PyCallbackIOReader)."""
    offset, length, _ = header.sections[name]
    with open(header.path, "rb") as f:
        f.seek(offset)
        left = [length]

        def read(n: int) -> bytes:
            data = f.read(min(n, left[0]))
            left[0] -= len(data)
            return data

        yield read


class RWLock:
    """Many readers or one writer; a waiting writer blocks new readers. Not re-entrant."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._waiting = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._waiting += 1
            try:
                while self._writer or self._readers:
                    self._cond.wait()
            finally:
                self._waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()
