"""Generic photo augmentations for self-supervised learning on a library's own images.

:mod:`search.descriptor.whitening` learns which embedding directions change when a photo is edited
from
pairs (photo, edited photo) made here from a sample of the library. The edits are the usual
ones of self-supervised copy-detection training (random resized crop, mirror, colour jitter,
greyscale, hue rotation, blur, small rotation, padding, text / shape / bar overlays, strong
downscale, JPEG) with their own random parameters. They are written independently of
:mod:`search.evaluation.sets.copies` (the evaluation's hard copy set) so that what is learned
here is not tuned to the test edits: random glyph strings instead of words, shapes, no UI
screenshots.
"""

from __future__ import annotations

import io
import math
import string

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps, ImageStat

Rng = np.random.Generator
WORK_SIDE = 448  # edits are made on a copy whose shorter side is at most this (2x the input)
_GLYPHS = string.ascii_letters + string.digits + "!?#@&% "


def _colour(rng: Rng) -> tuple[int, int, int]:
    r, g, b = (int(v) for v in rng.integers(0, 256, 3))
    return r, g, b


def _glyphs(rng: Rng, lo: int, hi: int) -> str:
    return "".join(_GLYPHS[i] for i in rng.integers(0, len(_GLYPHS), int(rng.integers(lo, hi))))


def crop_box(size: tuple[int, int], rng: Rng, min_area: float = 0.35) -> tuple[int, int, int, int]:
    """A crop of ``min_area``-100 % of the area of an image of ``size``, with a mildly
    changed aspect ratio: ``(left, top, right, bottom)``."""
    w, h = size
    area = rng.uniform(min_area, 1.0)
    aspect = float(np.exp(rng.uniform(-0.3, 0.3)))
    cw = max(1, min(w, int(w * np.sqrt(area * aspect))))
    ch = max(1, min(h, int(h * np.sqrt(area / aspect))))
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    return x, y, x + cw, y + ch


def random_crop(img: Image.Image, rng: Rng, min_area: float = 0.35) -> Image.Image:
    """A crop of ``min_area``-100 % of the area with a mildly changed aspect ratio."""
    return img.crop(crop_box(img.size, rng, min_area))


def hue_rotate(img: Image.Image, rng: Rng) -> Image.Image:
    """The hue turned by 20-235 of 256 steps of the colour circle: one 3x3 colour matrix
    turning RGB about the grey axis (luminance kept, as SVG's ``hueRotate``), ten times
    cheaper than a round trip through HSV."""
    turn = 2 * math.pi * int(rng.integers(20, 236)) / 256
    c, s = math.cos(turn), math.sin(turn)
    matrix = (
        *(
            0.213 + c * 0.787 - s * 0.213,
            0.715 - c * 0.715 - s * 0.715,
            0.072 - c * 0.072 + s * 0.928,
            0,
        ),
        *(
            0.213 - c * 0.213 + s * 0.143,
            0.715 + c * 0.285 + s * 0.140,
            0.072 - c * 0.072 - s * 0.283,
            0,
        ),
        *(
            0.213 - c * 0.213 - s * 0.787,
            0.715 - c * 0.715 + s * 0.715,
            0.072 + c * 0.928 + s * 0.072,
            0,
        ),
    )
    return img.convert("RGB", matrix)


_LUMA = (0.299, 0.587, 0.114)  # Pillow's RGB -> L, the grey of ``ImageEnhance.Color``


def colour_jitter(img: Image.Image, rng: Rng) -> Image.Image:
    """Saturation, contrast, brightness (as :mod:`PIL.ImageEnhance`'s ``Color``, ``Contrast``
    and ``Brightness`` one after the other, all three linear in RGB: one 3 x 4 colour matrix,
    a fifth of the cost of the three passes; only the intermediate clipping differs)."""
    saturation = rng.uniform(0.3, 1.8)
    mean = ImageStat.Stat(img.convert("L")).mean[0]  # Contrast's grey level (kept by Color)
    contrast, brightness = rng.uniform(0.6, 1.5), rng.uniform(0.7, 1.3)
    grey = [(1 - saturation) * w for w in _LUMA]
    gain, offset = brightness * contrast, brightness * (1 - contrast) * int(mean + 0.5)
    matrix = []
    for band in range(3):
        row = [gain * g for g in grey]
        row[band] += gain * saturation
        matrix += [*row, offset]
    return img.convert("RGB", tuple(matrix))


def pad(img: Image.Image, rng: Rng) -> Image.Image:
    """The photo on a larger plain canvas at a random place."""
    pw, ph = int(img.width * rng.uniform(0.05, 0.5)), int(img.height * rng.uniform(0.05, 0.5))
    canvas = Image.new("RGB", (img.width + pw, img.height + ph), _colour(rng))
    canvas.paste(img, (int(rng.integers(0, pw + 1)), int(rng.integers(0, ph + 1))))
    return canvas


def overlay(img: Image.Image, rng: Rng) -> Image.Image:
    """Random glyph strings, filled shapes, or a coloured bar with glyphs above or below."""
    img = img.copy()
    w, h = img.size
    draw = ImageDraw.Draw(img)
    kind = int(rng.integers(0, 3))
    if kind == 0:
        for _ in range(int(rng.integers(1, 4))):
            font = ImageFont.load_default(size=max(8, int(min(w, h) * rng.uniform(0.06, 0.2))))
            draw.text(
                (rng.uniform(0, w * 0.7), rng.uniform(0, h * 0.9)),
                _glyphs(rng, 3, 14),
                fill=_colour(rng),
                font=font,
                stroke_width=int(rng.integers(0, 3)),
                stroke_fill=_colour(rng),
            )
        return img
    if kind == 1:
        for _ in range(int(rng.integers(1, 4))):
            x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
            side = rng.uniform(0.05, 0.25) * min(w, h)
            box = (x0, y0, x0 + side, y0 + side * rng.uniform(0.5, 2.0))
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=_colour(rng))
        return img
    bar = max(4, int(h * rng.uniform(0.1, 0.3)))
    colour = _colour(rng)
    canvas = Image.new("RGB", (w, h + bar), colour)
    top = bool(rng.random() < 0.5)
    canvas.paste(img, (0, bar if top else 0))
    font = ImageFont.load_default(size=max(8, int(bar * 0.5)))
    ImageDraw.Draw(canvas).text(
        (w * 0.05, (0 if top else h) + bar * 0.2),
        _glyphs(rng, 5, 20),
        fill=tuple(255 - c for c in colour),
        font=font,
    )
    return canvas


def blur(img: Image.Image, sigma: float) -> Image.Image:
    """A blur of standard deviation ``sigma`` px: one box filter of the same variance (a
    Gaussian's look at these radii, for half the cost of Pillow's three-pass Gaussian)."""
    return img.filter(ImageFilter.BoxBlur(sigma * math.sqrt(3)))


def downscale(img: Image.Image, rng: Rng) -> Image.Image:
    """Down to 20-160 px on the longer side (thumbnails, tiny re-posts; a quarter of them
    20-48 px: a photo small inside a shrunk screenshot)."""
    side = int(rng.integers(20, 49) if rng.random() < 0.25 else rng.integers(48, 161))
    s = side / max(img.size)
    if s >= 1:
        return img
    size = (max(8, round(img.width * s)), max(8, round(img.height * s)))
    return img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def jpeg(img: Image.Image, rng: Rng) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=int(rng.integers(15, 70)))
    buf.seek(0)
    out = Image.open(buf)
    out.load()
    return out if out.mode == "RGB" else out.convert("RGB")


def edit_side(input_size: tuple[int, int], crop_fraction: float = 1.0) -> int:
    """The shorter side an edit needs to keep every pixel a network reads: its input over
    the central crop it takes (224 / 0.875 = 256 for the TF-slim MobileNets)."""
    return math.ceil(max(input_size) / max(1e-6, crop_fraction))


def edit_source(img: Image.Image, work: int | None = WORK_SIDE) -> Image.Image:
    """The photo a photo's edits are made from, once for all of them: RGB, reduced by the
    largest whole factor that keeps its shorter side at least ``work`` (:meth:`Image.reduce`,
    a box filter: a 1920 x 1080 PNG is edited from 960 x 540; a JPEG draft is already there).
    Its edits are those of ``img``: :func:`augment` defines them on a copy of that side."""
    if img.mode != "RGB":
        img = img.convert("RGB")
    factor = 1 if work is None else min(img.size) // max(1, work)
    return img.reduce(factor) if factor > 1 else img


def photo_edits(img: Image.Image, count: int, *, seed: int, place: int, side: int) -> list:
    """The ``count`` learning edits of photo ``place`` of a seeded sample, made at the shorter
    side ``side`` (:func:`edit_side`) from one :func:`edit_source`: the same edits whichever
    path makes them (an index run's decode threads, or a stored photo read again)."""
    rng = np.random.default_rng([seed, place])
    photo = edit_source(img, WORK_SIDE)
    return [augment(photo, rng, side, WORK_SIDE) for _ in range(count)]


def _start(
    img: Image.Image, rng: Rng, side: int | None, work: int | None
) -> tuple[Image.Image, float]:
    """The first step of :func:`augment`: the random crop (70 %), drawn on the working copy
    (``img`` with its shorter side cut to ``work``), then reduced to the shorter side
    ``side``; one resize from ``img`` makes both. Returns it and its pixels per working-copy
    pixel."""
    k = 1.0 if work is None else min(1.0, work / min(img.size))
    size = (max(1, round(img.width * k)), max(1, round(img.height * k)))  # the working copy
    box = crop_box(size, rng) if rng.random() < 0.7 else (0, 0, *size)
    w, h = box[2] - box[0], box[3] - box[1]
    scale = 1.0 if side is None else min(1.0, side / min(w, h))
    if k == 1.0 and scale == 1.0:
        return (img if box == (0, 0, *img.size) else img.crop(box)), 1.0
    out = (max(1, round(w * scale)), max(1, round(h * scale)))
    source = (box[0] / k, box[1] / k, min(img.width, box[2] / k), min(img.height, box[3] / k))
    return img.resize(out, Image.Resampling.BOX, box=source, reducing_gap=2.0), scale


def augment(
    img: Image.Image, rng: Rng, side: int | None = None, work: int | None = None
) -> Image.Image:
    """One random edit chain of an RGB photo (each step with its own probability).

    The edit is defined on a working copy of the photo whose shorter side is at most
    ``work`` (:data:`WORK_SIDE` for the index runs' learning: the embedding sees 224 px and
    the smallest crop keeps 59 % of a side, and blur or JPEG strength do not depend on the
    camera; ``None``: the photo as given). With ``side`` (:func:`edit_side`) it is made at
    the resolution the network reads instead: the crop is cut from ``img`` and reduced to
    that shorter side in one resize, and the steps measured in pixels (blur radius, the
    shrink's target size) are scaled with it, so the network sees the same edit for a
    fraction of the pixels. The random draws do not depend on ``side`` or ``work``.

    Chosen for cost (an index run makes two edits per library image): the crop is reduced
    with a box filter (area average; two thirds of a bilinear resize's cost) and turned by
    nearest neighbour (a tenth of Pillow's bilinear turn, whose jagged edges the network's
    own resize smooths); the learned whitening's copy recall is unchanged (README)."""
    if img.mode != "RGB":
        img = img.convert("RGB")
    img, scale = _start(img, rng, side, work)
    if rng.random() < 0.5:
        img = ImageOps.mirror(img)
    if rng.random() < 0.3:
        img = ImageOps.grayscale(img).convert("RGB")
    elif rng.random() < 0.5:
        img = colour_jitter(img, rng)
    if rng.random() < 0.3:
        img = blur(img, rng.uniform(0.5, 2.0) * scale)
    if rng.random() < 0.3:
        img = img.rotate(rng.uniform(-15, 15), resample=Image.Resampling.NEAREST, expand=True)
    if rng.random() < 0.3:
        img = pad(img, rng)
    if rng.random() < 0.4:
        s = rng.uniform(0.15, 0.6) / scale  # of the full-size edit's size
        size = (max(16, int(img.width * s)), max(16, int(img.height * s)))
        if size[0] < img.width and size[1] < img.height:
            img = img.resize(size, Image.Resampling.BOX)
    if rng.random() < 0.5:
        img = jpeg(img, rng)
    if rng.random() < 0.3:
        img = hue_rotate(img, rng)
    if rng.random() < 0.4:
        img = overlay(img, rng)
    if rng.random() < 0.25:
        img = downscale(img, rng)
    return img
