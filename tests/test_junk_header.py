"""A file that starts like a JPEG and goes on with junk is refused quickly: Pillow's JPEG
reader skips junk between markers one byte at a time, so a JPEG header followed by 900 MB of
zeros kept `imgsearch index` on that one file for 80 s (and a 31 MB upload kept a server
thread 2.6 s) before "not an image"."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from models import CorruptImageError, load_image
from models.files import MAX_HEADER_BYTE_READS, image_format


def _junk_jpeg(folder: Path, data_dir: Path, size: int) -> Path:
    photo = sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[0]
    path = folder / "junk.jpg"
    with open(path, "wb") as out:
        out.write(photo.read_bytes()[:1000])  # SOI and the first markers
        out.truncate(size)  # then zeros (a sparse file: nothing written)
    return path


def test_a_jpeg_header_and_junk_is_refused_before_it_is_scanned(
    tmp_path: Path, data_dir: Path
) -> None:
    path = _junk_jpeg(tmp_path, data_dir, 64 * MAX_HEADER_BYTE_READS)  # 64 MiB
    started = time.perf_counter()
    with pytest.raises(CorruptImageError, match="bytes of junk in its header"):
        load_image(path)
    assert image_format(path) is None
    assert time.perf_counter() - started < 3.0  # it took ~5.5 s per read (84 ns a byte)


def test_real_photos_still_open(data_dir: Path) -> None:
    for photo in sorted((data_dir / "near_duplicates" / "images").iterdir())[:12]:
        assert image_format(photo) in ("JPEG", "PNG", "WEBP", "MPO"), photo
        assert load_image(photo).image.size[0] > 0
