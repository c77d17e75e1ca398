"""The edits of the independent hold-out copy sets: code of their own, not that of the dev set.

:mod:`search.evaluation.sets.edits` (the dev set, which the descriptor was tuned on) is not used
here: every edit below is written again with other parameter ranges, and several kinds are
new (perspective, crops down to 50 % of the side, a turn and a crop together, sharpening,
noise, stickers, borders, 2x2 collages). Each edit is ``fn(img, rng, params) -> img`` and
records what it drew in ``params``. :data:`HOLDOUT_EDITS` maps a name to its function;
:func:`burst_shot` makes a *different* photo of the same scene (a neighbouring frame of a
burst: moved framing, another exposure), which the sets list as related, not as a copy.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

Rng = np.random.Generator
Params = dict[str, object]
EditFn = Callable[[Image.Image, Rng, Params], Image.Image]


def _u(rng: Rng, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _colour(rng: Rng) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(0, 256, 3))  # type: ignore[return-value]


def crop_half(img: Image.Image, rng: Rng, p: Params) -> Image.Image:
    """Keep 50-70 % of each side (25-49 % of the area), anywhere in the photo."""
    w, h = img.size
    fw, fh = _u(rng, 0.5, 0.7), _u(rng, 0.5, 0.7)
    cw, ch = int(w * fw), int(h * fh)
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    p["crop"] = [round(fw, 3), round(fh, 3), x, y]
    return img.crop((x, y, x + cw, y + ch))


def perspective(img: Image.Image, rng: Rng, p: Params) -> Image.Image:
    """A photo of the photo: each corner moved inwards by up to 18 % of the side."""
    w, h = img.size
    m = [(_u(rng, 0, 0.18) * w, _u(rng, 0, 0.18) * h) for _ in range(4)]
    quad = (m[0][0], m[0][1], m[1][0], h - m[1][1], w - m[2][0], h - m[2][1], w - m[3][0], m[3][1])
    p["quad"] = [round(v, 1) for v in quad]
    return img.transform((w, h), Image.Transform.QUAD, quad, Image.Resampling.BICUBIC)


def turn_crop(img: Image.Image, rng: Rng, p: Params) -> Image.Image:
    """Turned 4-20 degrees either way, then cut inside the turned photo (no corners)."""
    angle = _u(rng, 4, 20) * (1 if rng.random() < 0.5 else -1)
    turned = img.rotate(angle, Image.Resampling.BICUBIC, expand=False)
    w, h = img.size
    keep = _u(rng, 0.55, 0.75)
    cw, ch = int(w * keep), int(h * keep)
    x = (w - cw) // 2 + int(rng.integers(-w // 20, w // 20 + 1))
    y = (h - ch) // 2 + int(rng.integers(-h // 20, h // 20 + 1))
    p["turn_crop"] = [round(angle, 1), round(keep, 3)]
    return turned.crop((x, y, x + cw, y + ch))


def turn_fill(img: Image.Image, rng: Rng, p: Params) -> Image.Image:
    """Turned 6-35 degrees, the whole photo kept, corners filled with one colour."""
    angle = _u(rng, 6, 35) * (1 if rng.random() < 0.5 else -1)
    fill = (0, 0, 0) if rng.random() < 0.5 else _colour(rng)
    p["turn_fill"] = [round(angle, 1), list(fill)]
    return img.rotate(angle, Image.Resampling.BICUBIC, expand=True, fillcolor=fill)


def sharpen(img: Image.Image, rng: Rng, p: Params) -> Image.Image:
    """Unsharp mask (radius 2-5, 150-300 %) and a saturation push."""
    radius, percent = _u(rng, 2, 5), int(rng.integers(150, 301))
    out = img.filter(ImageFilter.UnsharpMask(radius, percent, 2))
    sat = _u(rng, 1.2, 1.8)
    p["sharpen"] = [round(radius, 2), percent, round(sat, 2)]
    return ImageEnhance.Color(out).enhance(sat)


def noise(img: Image.Image, rng: Rng, p: Params) -> Image.Image:
    """Gaussian sensor noise, sigma 12-30 grey levels."""
    sigma = _u(rng, 12, 30)
    a = np.asarray(img, np.float32) + rng.normal(0, sigma, (img.height, img.width, 1))
    p["noise"] = round(sigma, 1)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def stickers(img: Image.Image, rng: Rng, p: Params) -> Image.Image:
    """3-6 emoji-like stickers (faces, stars, hearts) over 10-25 % of the photo."""
    out = img.copy()
    draw = ImageDraw.Draw(out)
    w, h = img.size
    n = int(rng.integers(3, 7))
    share = _u(rng, 0.10, 0.25)
    r = int(np.sqrt(share * w * h / n / np.pi))
    for _ in range(n):
        cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
        kind = int(rng.integers(0, 3))
        if kind == 0:  # a face
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(255, 204, 0), outline=(0, 0, 0))
            e = max(1, r // 5)
            draw.ellipse((cx - 2 * e - e, cy - 2 * e, cx - e, cy), fill=(0, 0, 0))
            draw.ellipse((cx + e, cy - 2 * e, cx + 3 * e, cy), fill=(0, 0, 0))
            draw.arc((cx - 2 * e, cy, cx + 2 * e, cy + 2 * e), 0, 180, fill=(0, 0, 0), width=e)
        elif kind == 1:  # a star
            pts = [
                (
                    cx + (r if k % 2 == 0 else r // 2) * np.cos(np.pi * k / 5 - np.pi / 2),
                    cy + (r if k % 2 == 0 else r // 2) * np.sin(np.pi * k / 5 - np.pi / 2),
                )
                for k in range(10)
            ]
            draw.polygon(pts, fill=_colour(rng))
        else:  # a heart
            c = (230, 30, 60)
            draw.ellipse((cx - r, cy - r // 2, cx, cy + r // 2), fill=c)
            draw.ellipse((cx, cy - r // 2, cx + r, cy + r // 2), fill=c)
            draw.polygon([(cx - r, cy), (cx + r, cy), (cx, cy + r)], fill=c)
    p["stickers"] = [n, round(share, 3)]
    return out


def border(img: Image.Image, rng: Rng, p: Params) -> Image.Image:
    """A plain or two-tone border of 6-20 % of the side on every edge."""
    w, h = img.size
    t = int(max(w, h) * _u(rng, 0.06, 0.20))
    outer, inner = _colour(rng), _colour(rng)
    out = ImageOps.expand(img, border=max(1, t // 6), fill=inner)
    p["border"] = [t, list(outer)]
    return ImageOps.expand(out, border=t, fill=outer)


def collage(img: Image.Image, rng: Rng, p: Params) -> Image.Image:
    """The photo as one tile of a 2x2 collage; the three other tiles are generated scenes."""
    from search.evaluation.sets.scenes import render_scene

    w, h = img.size
    tile = (max(64, w // 2), max(64, h // 2))
    where = int(rng.integers(0, 4))
    out = Image.new("RGB", (2 * tile[0] + 6, 2 * tile[1] + 6), (255, 255, 255))
    for k in range(4):
        part = img if k == where else render_scene(rng, tile)
        part = part.resize(tile, Image.Resampling.BILINEAR)
        out.paste(part, ((k % 2) * (tile[0] + 6), (k // 2) * (tile[1] + 6)))
    p["collage"] = where
    return out


def small_jpeg(img: Image.Image, rng: Rng, p: Params) -> Image.Image:
    """Shrunk to 96-192 px (longer side) and saved at JPEG quality 40-75 (a thumbnail)."""
    side = int(rng.integers(96, 193))
    q = int(rng.integers(40, 76))
    small = img.copy()
    small.thumbnail((side, side), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    small.save(buf, "JPEG", quality=q)
    buf.seek(0)
    p["small_jpeg"] = [side, q]
    return Image.open(buf).convert("RGB")


def sepia(img: Image.Image, rng: Rng, p: Params) -> Image.Image:
    """Sepia or a duotone (two random inks), then a gamma of 0.6-1.6."""
    grey = ImageOps.grayscale(img)
    dark, light = (
        ((40, 26, 13), (255, 240, 192))
        if rng.random() < 0.5
        else (
            _colour(rng),
            _colour(rng),
        )
    )
    out = ImageOps.colorize(grey, dark, light)
    gamma = _u(rng, 0.6, 1.6)
    lut = [min(255, int(255 * (i / 255) ** gamma)) for i in range(256)] * 3
    p["sepia"] = [list(dark), list(light), round(gamma, 2)]
    return out.point(lut)


def mirror_crop(img: Image.Image, rng: Rng, p: Params) -> Image.Image:
    """Mirrored, then 60-85 % of each side kept."""
    out = ImageOps.mirror(img)
    w, h = out.size
    keep = _u(rng, 0.6, 0.85)
    cw, ch = int(w * keep), int(h * keep)
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    p["mirror_crop"] = round(keep, 3)
    return out.crop((x, y, x + cw, y + ch))


def meme(img: Image.Image, rng: Rng, p: Params) -> Image.Image:
    """White bars of 15-30 % of the height above and below with black blocks of 'text'."""
    w, h = img.size
    top, bottom = int(h * _u(rng, 0.15, 0.3)), int(h * _u(rng, 0.0, 0.2))
    out = Image.new("RGB", (w, h + top + bottom), (255, 255, 255))
    out.paste(img, (0, top))
    draw = ImageDraw.Draw(out)
    for y0, band in ((0, top), (top + h, bottom)):
        if band < 12:
            continue
        x = int(w * 0.05)
        while x < w * 0.9:  # word-shaped blocks
            ww = int(rng.integers(band // 3, band + 1))
            draw.rectangle((x, y0 + band // 3, x + ww, y0 + 2 * band // 3), fill=(0, 0, 0))
            x += ww + band // 4
    p["meme"] = [top, bottom]
    return out


HOLDOUT_EDITS: dict[str, EditFn] = {
    "crop_half": crop_half,
    "perspective": perspective,
    "turn_crop": turn_crop,
    "turn_fill": turn_fill,
    "sharpen": sharpen,
    "noise": noise,
    "stickers": stickers,
    "border": border,
    "collage": collage,
    "small_jpeg": small_jpeg,
    "sepia": sepia,
    "mirror_crop": mirror_crop,
    "meme": meme,
}
COMBOS = (("turn_fill", "crop_half"), ("sepia", "noise"), ("perspective", "small_jpeg"))


def burst_shot(img: Image.Image, rng: Rng) -> Image.Image:
    """A neighbouring frame of a burst: framing moved by 6-12 %, exposure +-15 %, a tilt."""
    w, h = img.size
    keep = _u(rng, 0.82, 0.9)
    cw, ch = int(w * keep), int(h * keep)
    dx, dy = int(w * _u(rng, 0.06, 0.12)), int(h * _u(rng, 0.0, 0.06))
    x = min(w - cw, max(0, (w - cw) // 2 + (dx if rng.random() < 0.5 else -dx)))
    y = min(h - ch, max(0, (h - ch) // 2 + dy))
    out = img.rotate(_u(rng, -2, 2), Image.Resampling.BICUBIC).crop((x, y, x + cw, y + ch))
    out = ImageEnhance.Brightness(out).enhance(_u(rng, 0.85, 1.15))
    return out.resize((w, h), Image.Resampling.BICUBIC)
