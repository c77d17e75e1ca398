"""The edits of the hard copy set: crops, turns, flips, colour, overlays, frames, sizes, JPEG.

Each edit is ``fn(img, rng, params) -> img``: it draws what it needs from ``rng`` and records
what it drew in ``params``. :data:`EDITS` maps an edit's name to its category and function;
:func:`plan_edits` chooses an original's recipes, :func:`apply_edits` applies one (in category
order). Only Pillow and numpy are used; :mod:`search.evaluation.sets.copies` writes the set.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

Rng = np.random.Generator
Params = dict[str, object]
EditFn = Callable[[Image.Image, Rng, Params], Image.Image]


_WORDS = (
    "when",
    "you",
    "finally",
    "see",
    "it",
    "sale",
    "today",
    "only",
    "best",
    "photo",
    "ever",
    "look",
    "at",
    "this",
    "new",
    "deal",
    "breaking",
    "news",
    "wow",
    "share",
    "if",
    "agree",
    "original",
    "content",
    "monday",
    "mood",
    "free",
    "click",
    "here",
    "follow",
    "for",
    "more",
)
_UI_COLOURS = (
    (59, 89, 152),
    (29, 161, 242),
    (225, 48, 108),
    (255, 69, 0),
    (36, 41, 46),
    (0, 132, 80),
    (88, 101, 242),
)


def _font(size: float) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(8, int(size)))


def _words(rng: Rng, lo: int, hi: int) -> str:
    return " ".join(_WORDS[i] for i in rng.integers(0, len(_WORDS), int(rng.integers(lo, hi + 1))))


def _fit_font(draw: ImageDraw.ImageDraw, text: str, size: float, max_width: float):
    font = _font(size)
    while size > 8 and draw.textlength(text, font=font) > max_width:
        size *= 0.85
        font = _font(size)
    return font


# --- single edits -------------------------------------------------------------------------


def _crop(img: Image.Image, rng: Rng, p: Params) -> Image.Image:
    w, h = img.size
    area = float(rng.uniform(0.30, 0.60))
    stretch = math.exp(float(rng.uniform(-0.4, 0.4)))
    cw = min(w, max(1, round(w * math.sqrt(area * stretch))))
    ch = min(h, max(1, round(h * math.sqrt(area / stretch))))
    left, top = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    p["crop_area"] = round(cw * ch / (w * h), 3)
    return img.crop((left, top, left + cw, top + ch))


def _rot90(img: Image.Image, rng: Rng, p: Params) -> Image.Image:
    clockwise = bool(rng.integers(0, 2))
    p["turn"] = "cw" if clockwise else "ccw"
    return img.transpose(Image.Transpose.ROTATE_270 if clockwise else Image.Transpose.ROTATE_90)


def _rot180(img: Image.Image, rng: Rng, p: Params) -> Image.Image:
    return img.transpose(Image.Transpose.ROTATE_180)


def _rotate(img: Image.Image, rng: Rng, p: Params) -> Image.Image:
    angle = float(rng.uniform(5, 25)) * (1 if rng.integers(0, 2) else -1)
    fill = tuple(int(v) for v in rng.integers(0, 256, 3)) if rng.random() < 0.4 else (0, 0, 0)
    p["angle"] = round(angle, 1)
    return img.rotate(angle, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=fill)


def _hflip(img: Image.Image, rng: Rng, p: Params) -> Image.Image:
    return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def _vflip(img: Image.Image, rng: Rng, p: Params) -> Image.Image:
    return img.transpose(Image.Transpose.FLIP_TOP_BOTTOM)


def _hue(img: Image.Image, rng: Rng, p: Params) -> Image.Image:
    shift = int(rng.integers(50, 206))  # of 256: 70-290 degrees
    hsv = np.asarray(img.convert("HSV")).copy()
    hsv[..., 0] = (hsv[..., 0].astype(np.int32) + shift) % 256
    sat = float(rng.uniform(1.0, 1.6))
    hsv[..., 1] = np.clip(hsv[..., 1].astype(np.float32) * sat, 0, 255).astype(np.uint8)
    p["hue_shift_deg"] = round(shift * 360 / 256)
    return Image.fromarray(hsv, "HSV").convert("RGB")


def _grey(img: Image.Image, rng: Rng, p: Params) -> Image.Image:
    return ImageOps.grayscale(img).convert("RGB")


def _contrast(img: Image.Image, rng: Rng, p: Params) -> Image.Image:
    factor = float(rng.uniform(0.3, 0.5) if rng.random() < 0.5 else rng.uniform(1.8, 2.6))
    bright = float(rng.uniform(0.7, 1.3))
    p["contrast"], p["brightness"] = round(factor, 2), round(bright, 2)
    return ImageEnhance.Brightness(ImageEnhance.Contrast(img).enhance(factor)).enhance(bright)


def _caption(img: Image.Image, rng: Rng, p: Params) -> Image.Image:
    """Meme style: white bar(s) above and/or below with black text."""
    w, h = img.size
    where = ("top", "bottom", "both")[int(rng.integers(0, 3))]
    bar = max(12, round(h * float(rng.uniform(0.18, 0.30))))
    top, bottom = (bar if where in ("top", "both") else 0), (bar if where != "top" else 0)
    out = Image.new("RGB", (w, h + top + bottom), (255, 255, 255))
    out.paste(img, (0, top))
    draw = ImageDraw.Draw(out)
    for y0, height in ((0, top), (top + h, bottom)):
        if height:
            text = _words(rng, 3, 6)
            font = _fit_font(draw, text, height * 0.45, w * 0.92)
            draw.text((w / 2, y0 + height / 2), text, fill=(0, 0, 0), font=font, anchor="mm")
    p["caption"] = where
    return out


def _text(img: Image.Image, rng: Rng, p: Params) -> Image.Image:
    """Words written over the photo in a loud colour with an outline."""
    out = img.copy()
    w, h = out.size
    draw = ImageDraw.Draw(out)
    lines = int(rng.integers(1, 4))
    for _ in range(lines):
        text = _words(rng, 1, 3)
        font = _fit_font(draw, text, min(w, h) * float(rng.uniform(0.10, 0.18)), w * 0.9)
        tw = draw.textlength(text, font=font)
        x = float(rng.uniform(0, max(1.0, w - tw)))
        y = float(rng.uniform(0, max(1.0, h * 0.85)))
        colour = tuple(int(v) for v in rng.integers(128, 256, 3))
        stroke = max(1, round(font.size / 12)) if hasattr(font, "size") else 1
        draw.text((x, y), text, fill=colour, font=font, stroke_width=stroke, stroke_fill=(0, 0, 0))
    p["text_lines"] = lines
    return out


def _screenshot(img: Image.Image, rng: Rng, p: Params) -> Image.Image:
    """The photo pasted small into an app / browser-like canvas with bars and fake text."""
    cw, ch = ((1280, 800), (1440, 900), (1366, 768), (750, 1334))[int(rng.integers(0, 4))]
    phone = ch > cw
    dark = rng.random() < 0.3
    bg, ink = ((28, 28, 32), (90, 90, 96)) if dark else ((246, 246, 248), (200, 200, 206))
    canvas = Image.new("RGB", (cw, ch), bg)
    draw = ImageDraw.Draw(canvas)
    accent = _UI_COLOURS[int(rng.integers(0, len(_UI_COLOURS)))]
    bar = round(ch * (0.08 if phone else 0.07))
    draw.rectangle((0, 0, cw, bar), fill=accent)
    draw.text(
        (bar * 0.4, bar / 2),
        _words(rng, 1, 3),
        fill=(255, 255, 255),
        font=_font(bar * 0.45),
        anchor="lm",
    )
    side = 0 if phone else round(cw * float(rng.uniform(0.15, 0.22)))
    if side:
        draw.rectangle((0, bar, side, ch), fill=tuple(max(0, c - 12) for c in bg))
        for k in range(int(rng.integers(5, 10))):
            y = bar + 30 + k * 42
            draw.rounded_rectangle((20, y, side - int(rng.integers(30, 90)), y + 14), 5, fill=ink)
    footer = round(ch * 0.06)
    draw.rectangle((0, ch - footer, cw, ch), fill=tuple(max(0, c - 20) for c in bg))
    x0, y0, x1, y1 = side + 24, bar + 24, cw - 24, ch - footer - 24
    frac = float(rng.uniform(0.55, 0.8) if phone else rng.uniform(0.25, 0.45))
    scale = min(frac * cw / img.width, 0.7 * (y1 - y0) / img.height)
    pw, ph = max(1, round(img.width * scale)), max(1, round(img.height * scale))
    px = int(rng.integers(x0, max(x0 + 1, x1 - pw)))
    py = int(rng.integers(y0 + 40, max(y0 + 41, y1 - ph)))
    canvas.paste(img.resize((pw, ph), Image.Resampling.BILINEAR), (px, py))
    draw.text((px, py - 34), _words(rng, 2, 5), fill=ink, font=_font(22))
    for k in range(int(rng.integers(2, 5))):  # text placeholder lines under the photo
        y = py + ph + 16 + k * 22
        if y + 10 < y1:
            draw.rounded_rectangle(
                (px, y, px + int(pw * rng.uniform(0.4, 1.0)), y + 10), 4, fill=ink
            )
    p["canvas"], p["photo_area"] = f"{cw}x{ch}", round(pw * ph / (cw * ch), 3)
    return canvas


def _tiny(img: Image.Image, rng: Rng, p: Params) -> Image.Image:
    side = int(rng.integers(64, 129))
    scale = side / max(img.size)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    p["size"] = f"{size[0]}x{size[1]}"
    return img.resize(size, Image.Resampling.LANCZOS)


def _jpeg(img: Image.Image, rng: Rng, p: Params) -> Image.Image:
    p["quality"] = int(rng.integers(10, 21))  # applied when the copy is saved (always last)
    return img


# name -> (category, function); the category order is the order edits are applied in.
CATEGORIES = ("crop", "turn", "flip", "colour", "overlay", "frame", "size", "jpeg")
EDITS: dict[str, tuple[str, EditFn]] = {
    "crop": ("crop", _crop),
    "rot90": ("turn", _rot90),
    "rot180": ("turn", _rot180),
    "rotate": ("turn", _rotate),
    "hflip": ("flip", _hflip),
    "vflip": ("flip", _vflip),
    "hue": ("colour", _hue),
    "grey": ("colour", _grey),
    "contrast": ("colour", _contrast),
    "caption": ("overlay", _caption),
    "text": ("overlay", _text),
    "screenshot": ("frame", _screenshot),
    "tiny": ("size", _tiny),
    "jpeg": ("jpeg", _jpeg),
}


def _canonical(edits: Sequence[str]) -> list[str]:
    return sorted(edits, key=lambda e: CATEGORIES.index(EDITS[e][0]))


def plan_edits(index: int, per_original: int, rng: Rng) -> list[list[str]]:
    """The edit recipes of one original: single edits first (rotated by ``index`` so every
    edit is equally common over the set), then combinations of 2-3 edits of distinct kinds."""
    singles = list(EDITS)
    start = (index * per_original) % len(singles)
    plan = [[singles[(start + k) % len(singles)]] for k in range(min(per_original, len(singles)))]
    by_cat = {c: [e for e in EDITS if EDITS[e][0] == c] for c in CATEGORIES}
    seen = {tuple(r) for r in plan}
    while len(plan) < per_original:
        cats = rng.choice(len(CATEGORIES), size=int(rng.integers(2, 4)), replace=False)
        recipe = _canonical(
            [by_cat[CATEGORIES[c]][int(rng.integers(0, len(by_cat[CATEGORIES[c]])))] for c in cats]
        )
        if tuple(recipe) not in seen or len(seen) > 500:
            seen.add(tuple(recipe))
            plan.append(recipe)
    return plan


def apply_edits(img: Image.Image, recipe: Sequence[str], rng: Rng) -> tuple[Image.Image, Params]:
    """Apply a recipe (canonical order); returns the image and the parameters drawn."""
    params: Params = {}
    for name in _canonical(recipe):
        img = EDITS[name][1](img, rng, params)
    return img, params
