"""Test media for the explore stage, generated at run time: images foreign to a photo
collection (documents, noise, flat colour, screenshots of text) and degraded copies of photos
(dark, overexposed, blurred, tiny) for the quality flags."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FOREIGN_KINDS = ("document", "noise", "flat", "screenshot")
DEGRADATIONS = ("dark", "bright", "blurry", "tiny", "uniform")
WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "with",
    "was",
    "on",
    "be",
    "by",
    "this",
    "are",
    "from",
    "at",
    "or",
    "an",
]


def _text(rng: np.random.Generator, n: int) -> str:
    return " ".join(rng.choice(WORDS, n).tolist())


def foreign_image(kind: str, seed: int) -> Image.Image:
    """One image of ``kind`` (see :data:`FOREIGN_KINDS`), different for each seed."""
    rng = np.random.default_rng(seed)
    w, h = int(rng.integers(480, 900)), int(rng.integers(480, 900))
    if kind == "noise":
        return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    if kind == "flat":
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        return Image.new("RGB", (w, h), colour)
    if kind == "document":
        image = Image.new("RGB", (w, h), (250, 250, 246))
        draw = ImageDraw.Draw(image)
        font = ImageFont.load_default(size=int(rng.integers(14, 22)))
        y = 40
        while y < h - 40:
            draw.text((40, y), _text(rng, 9), fill=(20, 20, 20), font=font)
            y += int(rng.integers(22, 32))
        return image
    if kind == "screenshot":
        bg = tuple(int(c) for c in rng.integers(10, 50, 3))
        image = Image.new("RGB", (w, h), bg)
        draw = ImageDraw.Draw(image)
        draw.rectangle((0, 0, w, 28), fill=(60, 60, 70))
        font = ImageFont.load_default(size=int(rng.integers(12, 18)))
        y = 40
        while y < h - 20:
            fg = tuple(int(c) for c in rng.integers(120, 256, 3))
            draw.text((int(rng.integers(10, 60)), y), _text(rng, 6), fill=fg, font=font)
            y += int(rng.integers(18, 26))
        return image
    raise ValueError(f"unknown kind {kind!r}")


def write_foreign(folder: Path, count: int = 20, seed: int = 0) -> list[Path]:
    """``count`` foreign images (kinds in turn) as PNG files in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        kind = FOREIGN_KINDS[i % len(FOREIGN_KINDS)]
        path = folder / f"foreign_{i:02d}_{kind}.png"
        foreign_image(kind, seed * 1000 + i).save(path)
        out.append(path)
    return out


def degrade(image: Image.Image, how: str) -> Image.Image:
    """A degraded copy of an RGB photo (see :data:`DEGRADATIONS`)."""
    if how == "dark":
        return Image.eval(image, lambda v: int(v * 0.12))
    if how == "bright":
        return Image.eval(image, lambda v: min(255, int(v * 2.6 + 90)))
    if how == "blurry":
        return image.filter(ImageFilter.GaussianBlur(radius=max(image.size) / 80))
    if how == "tiny":
        return image.resize((max(1, image.width // 12), max(1, image.height // 12)))
    if how == "uniform":
        mean = tuple(int(c) for c in np.asarray(image).reshape(-1, 3).mean(axis=0))
        flat = Image.new("RGB", image.size, mean)
        return Image.blend(flat, image, 0.03)
    raise ValueError(f"unknown degradation {how!r}")
