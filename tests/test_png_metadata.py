"""A PNG whose metadata Pillow will not read is indexed by its pixels.

A valid 64x64 PNG carrying 1.5 MB of compressed XMP (an iTXt chunk past Pillow's
``MAX_TEXT_CHUNK``) was recorded "corrupt: cannot parse image header: Decompressed data too
large for PngImagePlugin.MAX_TEXT_CHUNK" and never indexed, the same XMP stored uncompressed
was read; a text chunk after the image data failed at decode the same way (a new user's
audit). The file is decoded again without its metadata chunks."""

from __future__ import annotations

import io
import json
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, PngImagePlugin

from cli.main import cli
from models import TruncatedImageError, load_image
from models.png_metadata import without_metadata

XMP = ("<x:xmpmeta>" + "<rdf:li>keyword</rdf:li>" * 70_000 + "</x:xmpmeta>").encode()


def _picture() -> Image.Image:
    rng = np.random.default_rng(5)
    return Image.fromarray((rng.random((64, 64, 3)) * 255).astype(np.uint8))


def _png(**info: object) -> bytes:
    out = io.BytesIO()
    _picture().save(out, format="PNG", **info)  # type: ignore[arg-type]
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data).to_bytes(4, "big")
    return len(data).to_bytes(4, "big") + kind + data + crc


def _with_chunk_before_end(png: bytes, chunk: bytes) -> bytes:
    return png[:-12] + chunk + png[-12:]  # IEND is the last 12 bytes


def _compressed_xmp() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", XMP.decode(), zip=True)
    return _png(pnginfo=info)


def _ztxt_bomb_after_the_pixels() -> bytes:
    bomb = b"Comment\0\0" + zlib.compress(b"\0" * (100 * 1024 * 1024), 9)
    return _with_chunk_before_end(_png(), _chunk(b"zTXt", bomb))


def _iccp_bomb() -> bytes:
    profile = b"icc\0\0" + zlib.compress(b"\0" * (50 * 1024 * 1024), 9)
    png = _png()
    return png[:33] + _chunk(b"iCCP", profile) + png[33:]  # right after IHDR


@pytest.mark.parametrize("make", [_compressed_xmp, _ztxt_bomb_after_the_pixels, _iccp_bomb])
def test_a_png_with_metadata_pillow_refuses_is_decoded_by_its_pixels(make) -> None:  # type: ignore[no-untyped-def]
    data = make()
    assert len(data) < 2 * 1024 * 1024
    with pytest.raises(ValueError, match="MAX_TEXT"), Image.open(io.BytesIO(data)) as im:
        im.load()  # what Pillow says of the file
    decoded = load_image(data, draft_size=None)
    assert decoded.image.size == (64, 64)
    assert np.array_equal(np.asarray(decoded.image), np.asarray(_picture()))


def test_only_metadata_chunks_are_left_out() -> None:
    data = _compressed_xmp()
    stripped = without_metadata(data)
    assert stripped is not None and len(stripped) < len(data)
    assert without_metadata(stripped) is None  # none left
    assert without_metadata(b"\xff\xd8\xff\xe0 not a png") is None
    with pytest.raises(TruncatedImageError):  # a cut file is still told as one
        load_image(_compressed_xmp()[:-200], draft_size=None)


def test_the_index_keeps_a_png_with_compressed_xmp(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "with_xmp.png").write_bytes(_compressed_xmp())
    (photos / "plain.png").write_bytes(_png())
    common = ["--library", str(tmp_path / "lib"), "--model-path", str(models_dir)]
    done = CliRunner().invoke(cli, [*common, "index", "--no-progress", "--json", str(photos)])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert (summary["added"], summary["failed"]) == (2, 0), summary
