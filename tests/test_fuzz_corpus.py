"""The standing attack suite, part 3: the inputs the coverage-guided fuzzer
(``bench/fuzz_decode.py``, atheris) kept, replayed through the decoding entry point.

Each must decode or raise a typed ``ImageError`` (never another exception), quickly.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bench.fuzz_decode import check

CORPUS = Path(__file__).resolve().parent / "fuzz_corpus" / "decode"
INPUTS = sorted(CORPUS.iterdir()) if CORPUS.is_dir() else []


def test_the_corpus_is_there_and_small() -> None:
    assert len(INPUTS) >= 20
    assert all(p.stat().st_size <= 4096 for p in INPUTS)


def test_every_fuzzer_input_decodes_or_fails_with_a_typed_error() -> None:
    slow = []
    for path in INPUTS:
        started = time.monotonic()
        check(path.read_bytes())  # raises anything but an ImageError
        if time.monotonic() - started > 5:
            slow.append(path.name)
    assert not slow, slow


def test_a_png_with_a_corrupt_body_is_refused_not_kept_half_decoded(data_dir: Path) -> None:
    """Found by the attack suite: reading EXIF decoded the PNG and swallowed its error."""
    import io
    import random

    from PIL import Image

    from models import CorruptImageError, TruncatedImageError, load_image

    buffer = io.BytesIO()
    Image.open(data_dir / "ukbench_subset" / "images" / "ukbench00000.jpg").save(buffer, "PNG")
    noise = random.Random(0).randbytes(200)
    with pytest.raises((CorruptImageError, TruncatedImageError)):
        load_image(buffer.getvalue()[:60] + noise)
