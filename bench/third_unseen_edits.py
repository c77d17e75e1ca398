"""A third family of edit kinds no generator makes, as queries against a library of originals.

    python bench/third_unseen_edits.py [--sets photos-120,scenes-450]
                                       [--configs 'plain;default'] [--every 0]

Written after the other families had chosen what to build, with code of its own and nothing
tuned on it: kinds that image-sharing sites and augmentation libraries (AugLy's list) make
and that none of the other generators does. Faded towards white by 40-60 % (``faded``),
under semi-transparent stripes (``stripes``), sheared by 12-25 degrees on black (``shear``),
contrast cut to 25-45 % (``flat``), darkened to 20-35 % (``dark``), colours saturated
2.5-4x (``saturated``), ghosted over a generated picture at 30-45 % (``ghost``), through a
barrel lens (``barrel``), under lines of text across the whole picture (``text``), padded to
a square with a colour and shrunk to 120-180 px (``pad_square``), its red and blue channels
shifted apart by 1-2 % of the side (``chroma``), turned half a turn and cropped to 75-90 %
(``turn180crop``). One copy of each kind per original (:func:`bench.holdout.derived_set`) in
``/tmp/imgsearch-unseen3-POOL-N-seedS`` (never in the repository); the queries (all up to 200
originals, else one in three) run through :func:`bench.edit_queries.run_configs` (the engine
the API runs, k = 20) and the same tables are printed: per kind, '<' where a configuration is
below the first (plain).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.second_unseen_edits import generated_picture  # noqa: E402
from bench.unseen_edits import FONT, Rng, edit_kinds_set, random_crop, run_edit_kinds  # noqa: E402

WORDS = (
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "sale",
    "today",
    "only",
    "new",
    "look",
    "wow",
    "free",
)


def _faded(img: Image.Image, rng: Rng) -> Image.Image:
    return Image.blend(img, Image.new("RGB", img.size, (255, 255, 255)), rng.uniform(0.4, 0.6))


def _stripes(img: Image.Image, rng: Rng) -> Image.Image:
    w, h = img.size
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    spacing = max(6, int(min(w, h) * rng.uniform(0.04, 0.1)))
    width = max(2, int(spacing * rng.uniform(0.2, 0.5)))
    colour = (*rng.integers(0, 256, 3).tolist(), int(rng.integers(100, 180)))
    slope = rng.uniform(-1, 1) * h
    for x in range(-h, w + h, spacing):
        draw.line((x, 0, x + slope, h), fill=colour, width=width)
    return Image.alpha_composite(img.convert("RGBA"), layer).convert("RGB")


def _shear(img: Image.Image, rng: Rng) -> Image.Image:
    w, h = img.size
    s = np.tan(np.radians(rng.uniform(12, 25))) * (1 if rng.random() < 0.5 else -1)
    grow = int(abs(s) * h)
    shift = grow if s > 0 else 0  # the output's x = input's x + s * y + shift, inverted below
    return img.transform(
        (w + grow, h), Image.Transform.AFFINE, (1, s, -shift, 0, 1, 0), Image.Resampling.BICUBIC
    )


def _flat(img: Image.Image, rng: Rng) -> Image.Image:
    return ImageEnhance.Contrast(img).enhance(rng.uniform(0.25, 0.45))


def _dark(img: Image.Image, rng: Rng) -> Image.Image:
    return ImageEnhance.Brightness(img).enhance(rng.uniform(0.2, 0.35))


def _saturated(img: Image.Image, rng: Rng) -> Image.Image:
    return ImageEnhance.Color(img).enhance(rng.uniform(2.5, 4.0))


def _ghost(img: Image.Image, rng: Rng) -> Image.Image:
    return Image.blend(img, generated_picture(img.size, rng), rng.uniform(0.3, 0.45))


def _barrel(img: Image.Image, rng: Rng) -> Image.Image:
    w, h = img.size
    k = rng.uniform(0.2, 0.4)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    nx, ny = (xs - w / 2) / (w / 2), (ys - h / 2) / (h / 2)
    factor = 1 + k * (nx**2 + ny**2)  # a point at radius r shows the input at r * factor
    factor /= 1 + k * 2  # the corners show the input's corners: nothing outside it
    sx = np.clip(nx * factor * (w / 2) + w / 2, 0, w - 1).astype(np.int32)
    sy = np.clip(ny * factor * (h / 2) + h / 2, 0, h - 1).astype(np.int32)
    return Image.fromarray(np.asarray(img.convert("RGB"))[sy, sx])


def _text(img: Image.Image, rng: Rng) -> Image.Image:
    out = img.copy()
    draw = ImageDraw.Draw(out)
    w, h = out.size
    size = max(10, int(h * rng.uniform(0.07, 0.12)))
    font = ImageFont.truetype(str(FONT), size) if FONT.exists() else ImageFont.load_default()
    rows = int(rng.integers(4, 8))
    for row in range(rows):
        words = " ".join(rng.choice(WORDS, int(rng.integers(3, 6))))
        colour = tuple(rng.integers(0, 256, 3).tolist())
        y = (row + 0.3) * h / rows + rng.uniform(-size / 3, size / 3)
        draw.text((rng.uniform(0, w * 0.3), y), words, fill=colour, font=font)
    return out


def _pad_square(img: Image.Image, rng: Rng) -> Image.Image:
    w, h = img.size
    side = max(w, h)
    out = Image.new("RGB", (side, side), tuple(rng.integers(0, 256, 3).tolist()))
    out.paste(img, ((side - w) // 2, (side - h) // 2))
    target = int(rng.integers(120, 181))
    return out.resize((target, target), Image.Resampling.BILINEAR)


def _chroma(img: Image.Image, rng: Rng) -> Image.Image:
    shift = max(1, int(max(img.size) * rng.uniform(0.01, 0.02)))
    r, g, b = img.convert("RGB").split()
    return Image.merge(
        "RGB",
        (
            r.transform(r.size, Image.Transform.AFFINE, (1, 0, shift, 0, 1, 0)),
            g,
            b.transform(b.size, Image.Transform.AFFINE, (1, 0, -shift, 0, 1, 0)),
        ),
    )


def _turn180crop(img: Image.Image, rng: Rng) -> Image.Image:
    return random_crop(img.transpose(Image.Transpose.ROTATE_180), rng.uniform(0.75, 0.9), rng)


EDITS: dict[str, Callable[[Image.Image, Rng], Image.Image]] = {
    "faded": _faded,
    "stripes": _stripes,
    "shear": _shear,
    "flat": _flat,
    "dark": _dark,
    "saturated": _saturated,
    "ghost": _ghost,
    "barrel": _barrel,
    "text": _text,
    "pad_square": _pad_square,
    "chroma": _chroma,
    "turn180crop": _turn180crop,
}


def third_unseen_set(holdout: Path, seed: int) -> Path:
    """The truth file of this family's set over ``holdout``'s originals (made when missing)."""
    return edit_kinds_set(holdout, seed, "unseen3", EDITS, 0x5F0, (80, 92))


if __name__ == "__main__":
    run_edit_kinds(__doc__, third_unseen_set)
