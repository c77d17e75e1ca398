"""Multipart forms whose part headers are not UTF-8: read, never dropped.

``curl -F image=@photo-été.jpg`` on a Latin-1 file system (an old camera card, a ZIP, a
Samba share) sends the file name's raw bytes. werkzeug decodes a part's headers as strict
UTF-8 and, failing, drops the whole form without a word: the API said "No image" (400) for
a photo it was sent. The name is only a label: its undecodable bytes are read as U+FFFD.
"""

from __future__ import annotations

from werkzeug import formparser
from werkzeug.datastructures import Headers
from werkzeug.sansio.multipart import MultipartDecoder


class TolerantDecoder(MultipartDecoder):
    """werkzeug's multipart decoder, a part's headers that are not UTF-8 read with the
    replacement character where their bytes are not (``photo-\\xe9t\\xe9.jpg`` ->
    ``photo-�t�.jpg``); UTF-8 headers exactly as werkzeug reads them."""

    def _parse_headers(self, data: bytes | bytearray) -> Headers:
        try:
            bytes(data).decode()
        except UnicodeDecodeError:
            data = bytes(data).decode("utf-8", "replace").encode()
        return super()._parse_headers(data)


def read_any_part_names() -> None:
    """Make werkzeug's form parser (``formparser.MultiPartParser.parse`` builds its decoder
    by this module-level name) use :class:`TolerantDecoder`. Idempotent."""
    if not issubclass(formparser.MultipartDecoder, TolerantDecoder):
        formparser.MultipartDecoder = TolerantDecoder  # type: ignore[misc]
