"""Opening image files by path, the same rules for every input (index, search, lookup, embed):
regular files only (a FIFO, a device or a socket is refused before it is opened for reading,
so nothing blocks or reads forever), at most :data:`MAX_FILE_BYTES`, read in chunks.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from pathlib import Path
from typing import Any, BinaryIO

from models.errors import EmptyImageError, FileTooLargeError, UnreadableImageError

MAX_FILE_BYTES = 1 << 30  # larger "images" are refused, never read into memory
CHUNK_BYTES = 1 << 20
#: files larger than this are hashed in chunks and decoded from the file, never held whole
#: in memory (a 900 MB file of no image took 1.9 GB before it was refused; decoding from the
#: file reads its header, and the pixels only when the header says they fit the limits)
STREAMED_ABOVE_BYTES = 64 << 20
#: a path that was a URL (``https://x/y.jpg``, its ``//`` made ``/`` by a path on the way)
_URL = re.compile(r"(?i)^(https?|ftp|s3|gs|file):/")


#: the file times a database can hold (a signed 64-bit count of nanoseconds: 1677-2262)
MTIME_NS_MIN, MTIME_NS_MAX = -(2**63), 2**63 - 1


def file_mtime_ns(st: os.stat_result) -> int:
    """A file's modification time in nanoseconds as the library keeps it: a camera with a
    broken clock or a badly unpacked archive can date a file past 2262, which no 64-bit
    column holds (the batch holding it failed, and every later run with it), so it is cut
    to the range; every comparison with a stored time reads it through here."""
    return min(max(st.st_mtime_ns, MTIME_NS_MIN), MTIME_NS_MAX)


def file_mtime(st: os.stat_result) -> float:
    """:func:`file_mtime_ns` in seconds."""
    return file_mtime_ns(st) / 1e9


def file_kind(mode: int) -> str:
    """What a file that is no regular file is, in words (of its ``st_mode``)."""
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _check(st: os.stat_result, name: str, max_bytes: int) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise UnreadableImageError("is a directory, not an image file", source=name)
    if not stat.S_ISREG(st.st_mode):
        raise UnreadableImageError(
            f"is {file_kind(st.st_mode)}, not an image file: only regular files are read",
            source=name,
            reason="not_a_file",
        )
    if st.st_size > max_bytes:
        raise FileTooLargeError(
            f"file has {st.st_size} bytes, more than the {max_bytes} allowed", source=name
        )
    if st.st_size == 0:
        raise EmptyImageError("file is empty (zero bytes)", source=name)


def url_hint(name: str) -> str:
    """`` (URLs are not downloaded: ...)`` when ``name`` is a URL, to end a message about
    it; "" otherwise."""
    return (
        " (URLs are not downloaded: save the image and give its path)" if _URL.match(name) else ""
    )


def url_as_typed(name: str) -> str | None:
    """``name`` as the URL it was typed as, when it is one (None otherwise): a path object
    makes ``https://host/a.jpg`` ``https:/host/a.jpg``, which the messages should not show."""
    url = _URL.match(name)
    if url is None:
        return None
    rest = name[url.end() :]
    if url.group(1).lower() != "file" and not rest.startswith("/"):
        return f"{name[: url.end()]}/{rest}"
    return name


def no_such_file(name: str) -> UnreadableImageError:
    """The error for a path where there is no file (a URL's path says so)."""
    missing = "cannot read file: no such file" + url_hint(name)
    return UnreadableImageError(missing, source=url_as_typed(name) or name)


def open_image_file(path: str | os.PathLike[str], max_bytes: int = MAX_FILE_BYTES) -> BinaryIO:
    """A binary file object for ``path`` once it is known to be a non-empty regular file of at
    most ``max_bytes`` (links are followed; what they lead to is checked). Raises
    :class:`UnreadableImageError`, :class:`FileTooLargeError` or :class:`EmptyImageError`."""
    name = os.fspath(path)
    try:
        _check(os.stat(name), name, max_bytes)  # nothing opened yet: a FIFO cannot block
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise no_such_file(name) from None
    except OSError as exc:
        raise UnreadableImageError(
            f"cannot read file: {exc.strerror or exc}", source=name
        ) from None
    try:
        _check(os.fstat(fd), name, max_bytes)  # the file opened is the file checked
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read(handle: BinaryIO, size: int, name: str) -> bytes:
    try:
        return handle.read(size)
    except OSError as exc:
        raise UnreadableImageError(
            f"cannot read file: {exc.strerror or exc}", source=name
        ) from None


def _too_large(name: str, max_bytes: int) -> FileTooLargeError:
    return FileTooLargeError(f"file has more than the {max_bytes} bytes allowed", source=name)


def read_limited(handle: BinaryIO, name: str, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """Read ``handle`` to its end, refusing more than ``max_bytes`` (a file that grows while
    it is read). A file's size is read into one buffer (chunks joined at the end held the
    file twice over)."""
    try:
        expected = os.fstat(handle.fileno()).st_size
    except (AttributeError, OSError, ValueError):  # not a file: read in chunks
        expected = 0
    data = _read(handle, min(expected, max_bytes) + 1, name)
    if len(data) <= min(expected, max_bytes):  # the whole file, within the limit
        return data
    chunks, total = [data], len(data)
    while chunk := _read(handle, CHUNK_BYTES, name):
        total += len(chunk)
        if total > max_bytes:
            raise _too_large(name, max_bytes)
        chunks.append(chunk)
    if total > max_bytes:
        raise _too_large(name, max_bytes)
    return b"".join(chunks)


def hash_limited(handle: BinaryIO, name: str, max_bytes: int = MAX_FILE_BYTES) -> tuple[str, int]:
    """``(sha256, size)`` of ``handle`` read to its end in chunks (memory stays one chunk),
    refusing more than ``max_bytes``."""
    digest, total = hashlib.sha256(), 0
    while chunk := _read(handle, CHUNK_BYTES, name):
        total += len(chunk)
        if total > max_bytes:
            raise _too_large(name, max_bytes)
        digest.update(chunk)
    return digest.hexdigest(), total


def is_streamed(file: str | os.PathLike[str] | int) -> bool:
    """Is ``file`` (a path, or a file's size) one to hash and decode from the file rather
    than read whole (larger than :data:`STREAMED_ABOVE_BYTES`)? False for a path that cannot
    be read (its reader says why)."""
    try:
        size = file if isinstance(file, int) else os.stat(file).st_size
    except OSError:
        return False
    return size > STREAMED_ABOVE_BYTES


def read_image_file(path: str | os.PathLike[str], max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of the image file at ``path`` (see :func:`open_image_file`)."""
    with open_image_file(path, max_bytes) as handle:
        return read_limited(handle, str(Path(path)), max_bytes)


def hash_image_file(path: str | os.PathLike[str], max_bytes: int = MAX_FILE_BYTES) -> str:
    """The sha256 of the file at ``path`` (see :func:`open_image_file`), read in chunks."""
    with open_image_file(path, max_bytes) as handle:
        return hash_limited(handle, str(Path(path)), max_bytes)[0]


#: Pillow formats whose decoding runs another program on the file: never opened (an EPS
#: upload, whatever its name, was rendered by Ghostscript where one is installed)
EXTERNAL_DECODERS = frozenset({"EPS"})


def pillow_formats() -> list[str]:
    """The formats Pillow knows (HEIC/AVIF too, once ``pillow-heif`` registered them) but
    those of :data:`EXTERNAL_DECODERS`. (Decoding opens with Pillow's own order instead -
    its five common formats first, every plugin loaded only when none of them matches, ~30 ms
    a process - and refuses those formats after reading the header, before any pixel.)"""
    from PIL import Image

    Image.init()
    return [name for name in Image.ID if name not in EXTERNAL_DECODERS]


#: single-byte reads allowed while Pillow identifies an image: its JPEG reader skips junk
#: between markers one byte at a time, so a JPEG header and 900 MB of zeros took 80 s (and a
#: 31 MB upload 2.6 s of a server thread) before "not an image"; a real header needs a few
MAX_HEADER_BYTE_READS = 1 << 20


class JunkHeaderError(ValueError):
    """The header went on for more single bytes than an image's header has."""


class _CountedReads:
    """``stream`` with its one-byte reads counted until :attr:`limit` (None: no more)."""

    def __init__(self, stream: BinaryIO, limit: int) -> None:
        self._stream = stream
        self.limit: int | None = limit

    def read(self, size: int = -1) -> bytes:
        if size == 1 and self.limit is not None:
            self.limit -= 1
            if self.limit < 0:
                raise JunkHeaderError(
                    f"no image data after {MAX_HEADER_BYTE_READS} bytes of junk in its header"
                )
        return self._stream.read(size)

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


def open_pillow(stream: BinaryIO) -> Any:
    """:func:`PIL.Image.open` of ``stream`` (the header only, in Pillow's own order of
    formats), refusing a header of junk (:class:`JunkHeaderError`) before it is scanned
    byte by byte, and a format of :data:`EXTERNAL_DECODERS` (``UnidentifiedImageError``)
    before any pixel: loading it would run a program."""
    from PIL import Image, UnidentifiedImageError

    counted = _CountedReads(stream, MAX_HEADER_BYTE_READS)
    image = Image.open(counted)  # type: ignore[arg-type]
    counted.limit = None  # decoding reads what it must
    if image.format in EXTERNAL_DECODERS:
        image.close()
        raise UnidentifiedImageError(f"{image.format} is never decoded here")
    return image


def image_format(path: str | os.PathLike[str]) -> str | None:
    """The image format the file's content is (``"JPEG"``, ``"PNG"``...), read from its header
    only; None when it is no image Pillow knows (or cannot be read as one)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with open_image_file(path) as handle, open_pillow(handle) as image:
            return image.format
    except Image.DecompressionBombError:  # more pixels than Pillow opens: the header tells
        return _format_by_signature(path)  # (an HTTP 500 for a file replaced by a huge one)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        return None


def _format_by_signature(path: str | os.PathLike[str]) -> str | None:
    """The format whose signature the file's first bytes carry, as Pillow tells them apart
    (its plugins' ``accept`` checks) without opening the image."""
    from PIL import Image

    try:
        with open_image_file(path) as handle:
            head = handle.read(16)
    except (OSError, ValueError):
        return None
    for name in pillow_formats():
        accept = Image.OPEN[name][1]
        if accept is not None and accept(head):
            return name
    return None
