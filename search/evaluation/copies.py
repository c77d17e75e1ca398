"""A hard copy-detection set: many strong edits of each original, with ground truth.

``make_copies(src, out, per_original=20, seed=0)`` copies each original into ``out`` unchanged
and writes ``<original stem>__<edit>.jpg`` for its edited copies: heavy crops (30-60 % of the
area), quarter/half turns and small rotations with fill, JPEG quality 10-20, tiny rescales
(64-128 px), meme captions and text overlays, screenshot-like framing (the photo pasted small
into a UI canvas with bars), hue shifts, greyscale, strong contrast, flips, and combinations of
2-3 of those (``crop+hue+jpeg``). A share of the originals gets no copies and is listed as a
distractor. The ground truth is the ``clusters`` format of ``near_duplicates`` (read by
:func:`search.evaluation.truth.load_truth`), plus each copy's edit parameters under ``edits``.

Deterministic: every original draws from its own generator seeded by ``(seed, index)``, so the
same sources and seed give byte-identical files. Only Pillow and numpy are used.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

from search.evaluation.errors import CopiesError

GENERATOR_ID = "search.evaluation.copies"
GENERATOR_VERSION = 1
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
MAX_SIDE = 1600  # larger originals are reduced before editing (speed; the copy is smaller anyway)
DEFAULT_QUALITY = 90

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


def _open_original(path: Path) -> Image.Image:
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                im = im.convert("RGBA")
                base = Image.new("RGBA", im.size, (255, 255, 255, 255))
                im = Image.alpha_composite(base, im)
            img = im.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise CopiesError(f"cannot read original {path}: {exc}") from exc
    if max(img.size) > MAX_SIDE:
        img.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return img


def _sources(src: Path | Sequence[Path]) -> list[Path]:
    if isinstance(src, (str, Path)):
        root = Path(src)
        if not root.is_dir():
            raise CopiesError(f"source folder not found: {root}")
        files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    else:
        files = [Path(p) for p in src]
        if missing := [p for p in files if not p.is_file()]:
            raise CopiesError(f"source files not found: {', '.join(map(str, missing[:5]))}")
    if not files:
        raise CopiesError(f"no images in {src}")
    return files


def _prepare_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise CopiesError(f"output path exists and is not a folder: {out}")
    if out.is_dir() and any(out.iterdir()):
        truth = out / "ground_truth.json"
        try:
            old = json.loads(truth.read_text(encoding="utf-8"))
            ours = old.get("generator", {}).get("module") == GENERATOR_ID
        except (OSError, ValueError, AttributeError):
            ours = False
        if not (overwrite and ours):
            why = "overwrite (--overwrite) replaces it" if ours else "it is not a generated set"
            raise CopiesError(f"output folder {out} is not empty ({why})")
        names = [f for files in old["clusters"].values() for f in files] + old["distractors"]
        for name in names:
            (out / Path(name).name).unlink(missing_ok=True)
        truth.unlink()
        if any(out.iterdir()):
            raise CopiesError(f"output folder {out} holds other files; refusing to mix them in")
    out.mkdir(parents=True, exist_ok=True)


def make_copies(
    src_folder: Path | str | Sequence[Path],
    out_folder: Path | str,
    *,
    per_original: int = 20,
    seed: int = 0,
    distractor_share: float = 0.2,
    max_originals: int | None = None,
    overwrite: bool = False,
) -> Path:
    """Generate the copy set into ``out_folder``; returns the path of its ground-truth JSON.

    ``src_folder`` is a folder (searched recursively) or a list of image files. With
    ``max_originals`` a seeded sample of that many is used. ``distractor_share`` of the
    originals (at least one when there are 3 or more) get no copies. ``out_folder`` must be
    empty or missing, or (``overwrite``) hold a set made by this generator.
    """
    if per_original < 1:
        raise CopiesError("per_original must be >= 1")
    if not 0.0 <= distractor_share < 1.0:
        raise CopiesError("distractor_share must be in [0, 1)")
    files = _sources(src_folder if isinstance(src_folder, (str, Path)) else list(src_folder))
    rng = np.random.default_rng([seed, 0x5EED])
    if max_originals is not None and max_originals < len(files):
        files = [files[i] for i in sorted(rng.choice(len(files), max_originals, replace=False))]
    n_distract = round(len(files) * distractor_share)
    if distractor_share > 0 and len(files) >= 3:
        n_distract = max(1, n_distract)
    distract = set(rng.choice(len(files), n_distract, replace=False).tolist())
    out = Path(out_folder)
    _prepare_out(out, overwrite)

    clusters: dict[str, list[str]] = {}
    distractors: list[str] = []
    edits: dict[str, dict[str, object]] = {}
    sources: dict[str, str] = {}
    for index, path in enumerate(files):
        stem = path.stem.replace("__", "_")
        base, n = stem, 2
        while stem in sources:
            stem, n = f"{base}-{n}", n + 1
        sources[stem] = str(path)
        original = f"{stem}{path.suffix.lower()}"
        shutil.copyfile(path, out / original)
        if index in distract:
            distractors.append(original)
            continue
        img = _open_original(path)
        orng = np.random.default_rng([seed, index])
        members = [original]
        for recipe in plan_edits(index, per_original, orng):
            name = f"{stem}__{'+'.join(recipe)}"
            k = 2
            while f"{name}.jpg" in edits:
                name, k = f"{stem}__{'+'.join(recipe)}-{k}", k + 1
            copy, params = apply_edits(img, recipe, orng)
            quality = int(params.get("quality", DEFAULT_QUALITY))  # type: ignore[call-overload]
            copy.save(out / f"{name}.jpg", "JPEG", quality=quality, optimize=False)
            members.append(f"{name}.jpg")
            edits[f"{name}.jpg"] = {"edits": recipe, "params": params}
        clusters[stem] = members

    truth = {
        "name": f"copies-seed{seed}",
        "description": "Hard copy-detection set made by imgsearch (search.evaluation.copies): "
        "each cluster "
        "is an original plus strongly edited copies; any two files of one cluster are "
        "duplicates, nothing else is. The part of a name after '__' names the edits.",
        "generator": {
            "module": GENERATOR_ID,
            "version": GENERATOR_VERSION,
            "seed": seed,
            "per_original": per_original,
            "distractor_share": distractor_share,
        },
        "sources": sources,
        "clusters": clusters,
        "distractors": distractors,
        "edits": edits,
        "pairs_positive_count": sum(len(m) * (len(m) - 1) // 2 for m in clusters.values()),
    }
    truth_path = out / "ground_truth.json"
    tmp = truth_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    tmp.replace(truth_path)
    return truth_path
