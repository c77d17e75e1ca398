"""Edit kinds neither copy generator makes, as queries against a library of originals.

    python bench/unseen_edits.py [--sets photos-120,scenes-450] [--configs 'plain;default']
                                 [--every 0]

The dev set (``bench/copies.py``) and the hold-out sets (``bench/holdout.py``) share their
kinds of edit with everything the descriptor was built on. This bench writes other kinds, with
code of its own, over the originals of a hold-out set (its library: the same originals, other
views, burst shots and unrelated photos): blur, motion blur, a squashed aspect, a negative, a
posterised palette, gamma, vignetting, a watermark, swapped colour channels, a 40-72 px
thumbnail, turns of 18-40 degrees, letterboxing, pixelation, a wrapped shift, JPEG quality 2-5,
solarising, equalising and crops to 30-42 % of the side: one copy of each kind per original
(:func:`bench.holdout.derived_set`), in ``/tmp/imgsearch-unseen-POOL-N-seedS`` (never in the
repository). The queries (all up to 200 originals, else one in three) run through
:func:`bench.edit_queries.run_configs` (the engine the API runs, k = 20) and the same tables
are printed: per kind, '<' where a configuration is below the first (plain).

Not a clean hold-out any more: an exploratory set of these kinds chose what to build (the
watermarks chose ``DENSE_FEATURES``, ``search/descriptor/verify.py``, and the pairs they and the
hold-out sets confirmed chose ``DENSE_LAYOUT``); nothing else was tuned on it.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.edit_queries import library_files, print_tables, run_configs  # noqa: E402
from bench.holdout import derived_bench_args, derived_set, derived_sets  # noqa: E402
from search.evaluation import load_truth  # noqa: E402

Rng = np.random.Generator
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")


def _jpeg(img: Image.Image, quality: int) -> Image.Image:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return Image.open(io.BytesIO(out.getvalue())).convert("RGB")


def _thumbnail(img: Image.Image, rng: Rng) -> Image.Image:
    small = img.copy()
    side = int(rng.integers(40, 72))
    small.thumbnail((side, side), Image.Resampling.LANCZOS)
    return small


def _squash(img: Image.Image, rng: Rng) -> Image.Image:
    f, (w, h) = rng.uniform(0.55, 0.8), img.size
    size = (int(w * f), h) if rng.random() < 0.5 else (w, int(h * f))
    return img.resize(size, Image.Resampling.BICUBIC)


def _posterise(img: Image.Image, rng: Rng) -> Image.Image:
    dither = Image.Dither.FLOYDSTEINBERG if rng.random() < 0.5 else Image.Dither.NONE
    return img.quantize(int(rng.integers(6, 17)), dither=dither).convert("RGB")


def _gamma(img: Image.Image, rng: Rng) -> Image.Image:
    g = rng.uniform(1.8, 2.6) if rng.random() < 0.5 else rng.uniform(0.35, 0.55)
    return img.point([int(255 * (i / 255) ** g) for i in range(256)] * 3)


def _vignette(img: Image.Image, rng: Rng) -> Image.Image:
    w, h = img.size
    y, x = np.mgrid[0:h, 0:w]
    d2 = ((x - w / 2) / (w / 2)) ** 2 + ((y - h / 2) / (h / 2)) ** 2
    shade = np.clip(1 - rng.uniform(0.5, 0.8) * d2, 0, 1)[..., None]
    return Image.fromarray((np.asarray(img) * shade).astype(np.uint8))


def _watermark(img: Image.Image, rng: Rng) -> Image.Image:
    w, h = img.size
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    size = int(min(w, h) * rng.uniform(0.12, 0.2))
    font = ImageFont.truetype(str(FONT), size) if FONT.is_file() else ImageFont.load_default(size)
    alpha, draw = int(rng.uniform(90, 160)), ImageDraw.Draw(layer)
    for line in range(3):
        place = (w * 0.05, h * (0.1 + 0.3 * line))
        draw.text(place, "\u00a9 SAMPLE PHOTO", font=font, fill=(255, 255, 255, alpha))
    layer = layer.rotate(rng.uniform(-30, 30))
    return Image.alpha_composite(img.convert("RGBA"), layer).convert("RGB")


def _channels(img: Image.Image, rng: Rng) -> Image.Image:
    order = [[2, 1, 0], [1, 2, 0], [2, 0, 1]][int(rng.integers(3))]
    return Image.fromarray(np.asarray(img)[..., order].copy())


def _turn(img: Image.Image, rng: Rng) -> Image.Image:
    angle = rng.uniform(18, 40) * (1 if rng.random() < 0.5 else -1)
    fill = (255, 255, 255) if rng.random() < 0.5 else (0, 0, 0)
    return img.rotate(angle, Image.Resampling.BICUBIC, expand=rng.random() < 0.5, fillcolor=fill)


def _letterbox(img: Image.Image, rng: Rng) -> Image.Image:
    w, h = img.size
    wide, tall = max(w, int(h * 16 / 9)), max(h, int(w * 9 / 16))
    if (wide, tall) == (w, h):
        tall = int(h * 1.5)
    out = Image.new("RGB", (wide, tall), (0, 0, 0))
    out.paste(img, ((wide - w) // 2, (tall - h) // 2))
    return out


def _pixelate(img: Image.Image, rng: Rng) -> Image.Image:
    block, (w, h) = int(rng.integers(8, 16)), img.size
    small = img.resize((max(1, w // block), max(1, h // block)), Image.Resampling.BOX)
    return small.resize((w, h), Image.Resampling.NEAREST)


def _shift(img: Image.Image, rng: Rng) -> Image.Image:
    w, h = img.size
    by = (int(h * rng.uniform(0.15, 0.3)), int(w * rng.uniform(0.15, 0.3)))
    return Image.fromarray(np.roll(np.asarray(img), by, axis=(0, 1)))


def random_crop(img: Image.Image, share: float, rng: Rng) -> Image.Image:
    """``share`` of ``img``'s width and height, at a place drawn from ``rng``."""
    w, h = img.size
    cw, ch = int(w * share), int(h * share)
    x, y = int(rng.uniform(0, w - cw)), int(rng.uniform(0, h - ch))
    return img.crop((x, y, x + cw, y + ch))


def _crop(img: Image.Image, rng: Rng) -> Image.Image:
    return random_crop(img, rng.uniform(0.3, 0.42), rng)


def _motion_blur(img: Image.Image, rng: Rng) -> Image.Image:
    length, pixels = int(rng.integers(9, 17)), np.asarray(img, np.float32)
    smeared = sum(np.roll(pixels, i - length // 2, axis=1) for i in range(length))
    return Image.fromarray((smeared / length).astype(np.uint8))


EDITS: dict[str, Callable[[Image.Image, Rng], Image.Image]] = {
    "blur": lambda i, r: i.filter(ImageFilter.GaussianBlur(r.uniform(2, 5) * max(i.size) / 500)),
    "squash": _squash,
    "negative": lambda i, r: ImageOps.invert(i),
    "posterize": _posterise,
    "gamma": _gamma,
    "vignette": _vignette,
    "watermark": _watermark,
    "channels": _channels,
    "thumb48": _thumbnail,
    "big_turn": _turn,
    "letterbox": _letterbox,
    "pixelate": _pixelate,
    "shift": _shift,
    "jpeg_q3": lambda i, r: _jpeg(i, int(r.integers(2, 6))),
    "solarize": lambda i, r: ImageOps.solarize(i, int(r.integers(100, 180))),
    "equalize": lambda i, r: ImageEnhance.Color(ImageOps.equalize(i)).enhance(r.uniform(1.3, 2)),
    "crop30": _crop,
    "motion_blur": _motion_blur,
}


def edit_kinds_set(
    holdout: Path,
    seed: int,
    name: str,
    edits: Mapping[str, Callable[[Image.Image, Rng], Image.Image]],
    salt: int,
    quality: tuple[int, int],
) -> Path:
    """The truth file of the set ``name`` over ``holdout``'s originals (made when missing, in
    ``/tmp/imgsearch-NAME-POOL-N-seedS``): one copy of each kind of ``edits`` per original,
    drawn with ``salt`` and saved at a JPEG quality drawn from ``quality``."""
    out = Path(str(holdout.parent).replace("imgsearch-holdout-", f"imgsearch-{name}-"))

    def edited(img: Image.Image, kind: str, rng: Rng) -> Image.Image:
        return edits[kind](img, rng)

    return derived_set(holdout, out, name, list(edits), edited, salt, seed, quality)


def run_edit_kinds(doc: str | None, make: Callable[[Path, int], Path]) -> None:
    """A bench of edit kinds: its command line, then per set the configurations' tables over
    the set ``make(holdout, seed)`` (:func:`edit_kinds_set`)."""
    args = derived_bench_args(doc, "photos-120,scenes-450", "plain;default")
    for spec, _, truth_path, every in derived_sets(args, make):
        truth = load_truth(truth_path)
        outcomes = run_configs(spec, truth, args.configs.split(";"), args.model_path, every)
        print_tables(spec, outcomes, len(library_files(truth)[0]))


def unseen_set(holdout: Path, seed: int) -> Path:
    """The truth file of the set of unseen edits of ``holdout``'s originals (made when
    missing): one copy of each kind per original."""
    return edit_kinds_set(holdout, seed, "unseen", EDITS, 0x5EE, (90, 90))


if __name__ == "__main__":
    run_edit_kinds(__doc__, unseen_set)
