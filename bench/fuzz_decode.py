"""Coverage-guided fuzzing (atheris / libFuzzer) of the decoding entry point, ``load_image``.

    python bench/fuzz_decode.py [--seconds 120] [--corpus tests/fuzz_corpus/decode]

Every input is untrusted bytes: ``load_image`` must answer with an image or a typed
``ImageError`` (never another exception, never a hang: libFuzzer's -timeout flags a slow input,
-rss_limit_mb a memory hog). The corpus starts from tiny files of every format Pillow reads
(made here, a few hundred bytes each) and keeps what the fuzzer finds that reaches new code;
inputs are at most 4 KB, so the kept corpus stays small enough for the repository, where
``tests/test_fuzz_corpus.py`` replays it in the normal test suite. Needs the ``atheris`` package
(a wheel for CPython on Linux x86-64; elsewhere it builds with clang and libFuzzer).
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO / "tests" / "fuzz_corpus" / "decode"
MAX_LEN = 4096


def seed_corpus(folder: Path) -> int:
    """Tiny valid files of many formats and modes (the fuzzer mutates from these)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    made = 0
    base = Image.new("RGB", (7, 5), (200, 30, 90))
    variants = {
        "png-rgb": (base, "PNG", {}),
        "png-rgba": (base.convert("RGBA"), "PNG", {}),
        "png-p": (base.convert("P"), "PNG", {"transparency": 0}),
        "png-i16": (base.convert("I;16"), "PNG", {}),
        "png-la": (base.convert("LA"), "PNG", {}),
        "jpeg": (base, "JPEG", {"quality": 50}),
        "jpeg-cmyk": (base.convert("CMYK"), "JPEG", {}),
        "jpeg-exif": (base, "JPEG", {"exif": _exif()}),
        "gif": (base.convert("P"), "GIF", {}),
        "bmp": (base, "BMP", {}),
        "tiff-f": (base.convert("F"), "TIFF", {}),
        "tiff-i": (base.convert("I"), "TIFF", {}),
        "webp": (base, "WEBP", {"quality": 50}),
        "ico": (base, "ICO", {}),
        "ppm": (base, "PPM", {}),
        "tga": (base, "TGA", {}),
    }
    for name, (image, fmt, options) in variants.items():
        target = folder / f"seed-{name}"
        if target.exists():
            continue
        buffer = io.BytesIO()
        try:
            image.save(buffer, fmt, **options)
        except (OSError, KeyError, ValueError):
            continue
        target.write_bytes(buffer.getvalue()[:MAX_LEN])
        made += 1
    return made


def _exif() -> bytes:
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: turned
    exif[0x0132] = "2024:05:01 14:03:00"
    return exif.tobytes()


def check(data: bytes) -> None:
    """One input: an image or a typed ImageError; anything else is a finding."""
    from models import ImageError, load_image

    try:
        decoded = load_image(data, max_pixels=4_000_000)
    except ImageError:
        return
    assert decoded.image.mode == "RGB" and decoded.width >= 1 and decoded.height >= 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=120, help="how long to fuzz")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--seed", type=int, default=0)
    args, extra = parser.parse_known_args(argv)
    sys.path.insert(0, str(REPO))
    try:
        import atheris
    except ImportError:
        raise SystemExit(
            "atheris is not installed: pip install atheris (needs CPython on "
            "Linux x86-64 for the wheel, else clang with libFuzzer)"
        ) from None
    with atheris.instrument_imports(include=["models", "PIL"]):  # Pillow's parsers are Python
        import PIL.Image

        PIL.Image.init()  # every format plugin, instrumented
    made = seed_corpus(args.corpus)
    before = len(list(args.corpus.iterdir()))
    print(f"corpus {args.corpus}: {before} inputs ({made} seeds made); fuzzing {args.seconds} s")

    def one_input(data: bytes) -> None:
        check(data)

    atheris.Setup(
        [
            sys.argv[0],
            str(args.corpus),
            f"-max_total_time={args.seconds}",
            f"-seed={args.seed}",
            f"-max_len={MAX_LEN}",
            "-timeout=10",
            "-rss_limit_mb=2048",
            *extra,
        ],
        one_input,
    )
    atheris.Fuzz()


if __name__ == "__main__":
    main()
