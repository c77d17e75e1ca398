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


@pytest.mark.parametrize("path", INPUTS, ids=[p.name[:16] for p in INPUTS])
def test_fuzzer_input_decodes_or_fails_with_a_typed_error(path: Path) -> None:
    started = time.monotonic()
    check(path.read_bytes())
    assert time.monotonic() - started < 5
