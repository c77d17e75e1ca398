"""PNG files whose metadata Pillow will not read are decoded without it.

Pillow refuses a compressed text chunk (``zTXt``, ``iTXt``: XMP, comments) or ICC profile
(``iCCP``) that inflates past ``PngImagePlugin.MAX_TEXT_CHUNK`` (1 MB), or text past 64 MB in
all, with a ``ValueError`` that named its own internals: a valid picture carrying 1.5 MB of
compressed XMP was recorded "corrupt" (the same XMP stored uncompressed was read), and never
indexed. The pixels do not depend on those chunks: the file is decoded again without them
(its colour profile, if that was the bomb, is lost; nothing else)."""

from __future__ import annotations

import io
import os

from models.files import open_image_file

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: chunks that hold metadata only: text (plain, compressed, international) and the ICC profile
METADATA_CHUNKS = frozenset({b"tEXt", b"zTXt", b"iTXt", b"iCCP"})
#: Pillow's words for a text or profile chunk past its limits
OVERSIZED_METADATA = ("MAX_TEXT_CHUNK", "MAX_TEXT_MEMORY")
#: a file is rewritten without its metadata in memory up to this size
MAX_REWRITE_BYTES = 256 * 1024 * 1024


def oversized_metadata(error: BaseException) -> bool:
    """Whether ``error`` is Pillow's refusal of a PNG's text or ICC chunk."""
    return any(words in str(error) for words in OVERSIZED_METADATA)


def without_metadata(data: bytes) -> bytes | None:
    """``data`` (a PNG) with its metadata chunks left out; None when it is no PNG or has
    none. A chunk cut short is kept as it is (the decoder then says the file is truncated)."""
    if not data.startswith(PNG_SIGNATURE):
        return None
    kept, pos, dropped = [PNG_SIGNATURE], len(PNG_SIGNATURE), False
    while pos + 8 <= len(data):
        length, kind = int.from_bytes(data[pos : pos + 4], "big"), data[pos + 4 : pos + 8]
        end = pos + 12 + length  # length, type, data, CRC
        if end > len(data):
            kept.append(data[pos:])
            pos = len(data)
            break
        if kind in METADATA_CHUNKS:
            dropped = True
        else:
            kept.append(data[pos:end])
        pos = end
        if kind == b"IEND":
            break
    kept.append(data[pos:])
    return b"".join(kept) if dropped else None


def png_without_metadata(source: object) -> bytes | None:
    """The bytes of ``source`` (a path, bytes, or a seekable binary file) without metadata
    chunks, or None (no PNG, no such chunk, too large, or not to be read again)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        with open_image_file(source, MAX_REWRITE_BYTES) as handle:
            data = handle.read(MAX_REWRITE_BYTES + 1)
    elif isinstance(source, io.IOBase) and source.seekable():
        source.seek(0)
        data = source.read(MAX_REWRITE_BYTES + 1)
    else:
        return None
    if not isinstance(data, bytes) or len(data) > MAX_REWRITE_BYTES:
        return None
    return without_metadata(data)


__all__ = ["METADATA_CHUNKS", "oversized_metadata", "png_without_metadata", "without_metadata"]
