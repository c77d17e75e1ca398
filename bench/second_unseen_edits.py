"""A second family of edit kinds no generator makes, as queries against a library of originals.

    python bench/second_unseen_edits.py [--sets photos-120,scenes-450]
                                        [--configs 'plain;default'] [--every 0]

Written after ``bench/unseen_edits.py``'s kinds had chosen what to build, with code of its own
and nothing tuned on it first: the original pasted at 45-70 % of the side into a generated
background (``inset``), beside a generated picture of its size or stacked with one
(``side_by_side``), framed by a patterned border of 8-18 % of the side (``pattern_border``),
its hue turned by 55-305 degrees (``hue``), under a flat colour at 35-55 % (``tint``), grey
with film grain (``grain``), printed as a halftone of 4-6 px dots (``halftone``), drawn as a
cartoon (median filter, 8 colours, dark edges: ``cartoon``), turned by a quarter and cropped to
65-80 % (``rot90crop``), cropped to 55-70 % and enlarged 6x from a third of its size
(``upscale_crop``), flipped upside down (``vflip``). One copy of each kind per original
(:func:`bench.holdout.derived_set`) in ``/tmp/imgsearch-unseen2-POOL-N-seedS`` (never in the
repository); the queries (all up to 200 originals, else one in three) run through
:func:`bench.edit_queries.run_configs` (the engine the API runs, k = 20) and the same tables
are printed. Its side-by-side kind chose the halves (:func:`models.views.half_boxes`); nothing
else was built on it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.unseen_edits import Rng, edit_kinds_set, random_crop, run_edit_kinds  # noqa: E402

Size = tuple[int, int]


def generated_picture(size: Size, rng: Rng) -> Image.Image:
    """A generated picture: smooth colour blobs under 25 discs."""
    w, h = size
    blobs = rng.integers(0, 256, (max(2, h // 60), max(2, w // 60), 3), dtype=np.uint8)
    out = Image.fromarray(blobs).resize((w, h), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(out)
    for _ in range(25):
        x, y, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(5, w / 6)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.integers(0, 256, 3).tolist()))
    return out.filter(ImageFilter.GaussianBlur(2))


def _inset(img: Image.Image, rng: Rng) -> Image.Image:
    w, h = img.size
    f = rng.uniform(0.45, 0.7)
    out, small = (
        generated_picture((w, h), rng),
        img.resize((int(w * f), int(h * f)), Image.Resampling.LANCZOS),
    )
    out.paste(small, (int(rng.uniform(0, w - small.width)), int(rng.uniform(0, h - small.height))))
    return out


def _side_by_side(img: Image.Image, rng: Rng) -> Image.Image:
    w, h = img.size
    stacked, first = rng.random() < 0.3, rng.random() < 0.5
    out = Image.new("RGB", (w, 2 * h) if stacked else (2 * w, h))
    second = (0, h) if stacked else (w, 0)
    out.paste(img, (0, 0) if first else second)
    out.paste(generated_picture((w, h), rng), second if first else (0, 0))
    return out


def _pattern_border(img: Image.Image, rng: Rng) -> Image.Image:
    w, h = img.size
    b = int(min(w, h) * rng.uniform(0.08, 0.18))
    out = generated_picture((w + 2 * b, h + 2 * b), rng)
    out.paste(img, (b, b))
    return out


def _hue(img: Image.Image, rng: Rng) -> Image.Image:
    hsv = np.asarray(img.convert("HSV")).copy()
    hsv[..., 0] = (hsv[..., 0].astype(int) + int(rng.integers(40, 216))) % 256
    return Image.fromarray(hsv, "HSV").convert("RGB")


def _tint(img: Image.Image, rng: Rng) -> Image.Image:
    colour = Image.new("RGB", img.size, tuple(rng.integers(0, 256, 3).tolist()))
    return Image.blend(img, colour, rng.uniform(0.35, 0.55))


def _grain(img: Image.Image, rng: Rng) -> Image.Image:
    grey = np.asarray(ImageOps.grayscale(img).convert("RGB"), np.float32)
    noise = rng.normal(0, rng.uniform(18, 30), grey.shape[:2])[..., None]
    return Image.fromarray(np.clip(grey + noise, 0, 255).astype(np.uint8))


def _halftone(img: Image.Image, rng: Rng) -> Image.Image:
    grey, step = np.asarray(img.convert("L"), np.float32) / 255, int(rng.integers(4, 7))
    h, w = grey.shape
    out = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(out)
    for y in range(0, h, step):
        for x in range(0, w, step):
            r = (1 - grey[y : y + step, x : x + step].mean()) * step * 0.7
            cx, cy = x + step / 2, y + step / 2
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=0)
    return out.convert("RGB")


def _cartoon(img: Image.Image, rng: Rng) -> Image.Image:
    edges = img.convert("L").filter(ImageFilter.FIND_EDGES).point(lambda v: 0 if v > 40 else 255)
    flat = img.filter(ImageFilter.MedianFilter(5)).quantize(8).convert("RGB")
    return Image.composite(flat, Image.new("RGB", img.size), edges)


def _rot90crop(img: Image.Image, rng: Rng) -> Image.Image:
    turns = [Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_270]
    return random_crop(img.transpose(turns[int(rng.integers(2))]), rng.uniform(0.65, 0.8), rng)


def _upscale_crop(img: Image.Image, rng: Rng) -> Image.Image:
    part = random_crop(img, rng.uniform(0.55, 0.7), rng)
    w, h = part.size
    small = part.resize((max(1, w // 3), max(1, h // 3)), Image.Resampling.BILINEAR)
    return small.resize((w * 2, h * 2), Image.Resampling.BICUBIC)


EDITS: dict[str, Callable[[Image.Image, Rng], Image.Image]] = {
    "inset": _inset,
    "side_by_side": _side_by_side,
    "pattern_border": _pattern_border,
    "hue": _hue,
    "tint": _tint,
    "grain": _grain,
    "halftone": _halftone,
    "cartoon": _cartoon,
    "rot90crop": _rot90crop,
    "upscale_crop": _upscale_crop,
    "vflip": lambda i, r: ImageOps.flip(i),
}


def second_unseen_set(holdout: Path, seed: int) -> Path:
    """The truth file of this family's set over ``holdout``'s originals (made when missing)."""
    return edit_kinds_set(holdout, seed, "unseen2", EDITS, 0x5EF, (85, 92))


if __name__ == "__main__":
    run_edit_kinds(__doc__, second_unseen_set)
