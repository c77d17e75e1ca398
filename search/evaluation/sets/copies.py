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
same sources and seed give byte-identical files. Only Pillow and numpy are used. The edits
themselves are in :mod:`search.evaluation.sets.edits`; this module writes the set.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from search.evaluation.errors import CopiesError
from search.evaluation.sets.copy_output import (
    TRUTH_NAME,
    check_sources_apart,
    old_set_names,
    staged_set,
)
from search.evaluation.sets.edits import apply_edits, plan_edits

GENERATOR_ID = "search.evaluation.copies"  # written into ground truth: stable
GENERATOR_VERSION = 1
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
MAX_SIDE = 1600  # larger originals are reduced before editing (speed; the copy is smaller anyway)
DEFAULT_QUALITY = 90


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


def _distinct(files: list[Path], on_skip: Callable[[Path, str], None] | None) -> list[Path]:
    """``files`` without a second file of the same bytes (the first kept; ``on_skip`` told):
    two identical originals made a set whose truth called each one's copies copies of that
    original only. A file that cannot be read stays, for the writing to skip and say why."""
    seen: dict[str, Path] = {}
    kept: list[Path] = []
    for path in files:
        try:
            with path.open("rb") as file:
                digest = hashlib.file_digest(file, "sha256").hexdigest()
        except OSError:
            kept.append(path)
            continue
        if digest in seen:
            if on_skip is not None:
                on_skip(path, f"the same bytes as {seen[digest]}")
            continue
        seen[digest] = path
        kept.append(path)
    return kept


def make_copies(
    src_folder: Path | str | Sequence[Path],
    out_folder: Path | str,
    *,
    per_original: int = 20,
    seed: int = 0,
    distractor_share: float = 0.2,
    max_originals: int | None = None,
    overwrite: bool = False,
    on_skip: Callable[[Path, str], None] | None = None,
) -> Path:
    """Generate the copy set into ``out_folder``; returns the path of its ground-truth JSON.

    ``src_folder`` is a folder (searched recursively) or a list of image files. With
    ``max_originals`` a seeded sample of that many is used. ``distractor_share`` of the
    originals (at least one when there are 3 or more, never all) get no copies. ``out_folder``
    must be empty or missing, or (``overwrite``) hold only a set made by this generator, and lie
    apart from the sources; it is checked before anything is written, and an old set is replaced
    only once the new one is complete (:mod:`search.evaluation.sets.copy_output`).

    An original that cannot be read, or has the same bytes as one before it, is left out of
    the set (``on_skip(path, reason)`` is told); the others are made as they would be
    without it. :class:`CopiesError` when no
    original with copies could be read.
    """
    if per_original < 1:
        raise CopiesError("per_original must be >= 1")
    if not 0.0 <= distractor_share < 1.0:
        raise CopiesError("distractor_share must be in [0, 1)")
    src = src_folder if isinstance(src_folder, (str, Path)) else list(src_folder)
    files = _distinct(_sources(src), on_skip)
    out = Path(out_folder)
    check_sources_apart(src, files, out)
    old_names = old_set_names(out, GENERATOR_ID, overwrite)
    rng = np.random.default_rng([seed, 0x5EED])
    if max_originals is not None and max_originals < len(files):
        files = [files[i] for i in sorted(rng.choice(len(files), max_originals, replace=False))]
    n_distract = round(len(files) * distractor_share)
    if distractor_share > 0 and len(files) >= 3:
        n_distract = max(1, n_distract)
    # one original keeps its copies: `--distractors 0.95` of 4 wrote a set of distractors
    # only, that its own ground-truth check then refused ("nothing to evaluate")
    n_distract = min(n_distract, len(files) - 1)
    distract = set(rng.choice(len(files), n_distract, replace=False).tolist())
    with staged_set(out, old_names) as stage:
        _write_set(files, distract, stage, per_original, seed, distractor_share, on_skip)
    return out / TRUTH_NAME


def _write_set(
    files: list[Path],
    distract: set[int],
    out: Path,
    per_original: int,
    seed: int,
    distractor_share: float,
    on_skip: Callable[[Path, str], None] | None = None,
) -> None:
    """Write the originals, their edited copies and the ground truth into ``out``; an
    original that cannot be read is skipped (``on_skip``), never copied into the set (a
    distractor was copied unread: the evaluation then failed on it)."""
    clusters: dict[str, list[str]] = {}
    distractors: list[str] = []
    edits: dict[str, dict[str, object]] = {}
    sources: dict[str, str] = {}
    unreadable: list[str] = []
    for index, path in enumerate(files):
        try:
            img = _open_original(path)
        except CopiesError as exc:  # the others are made all the same
            unreadable.append(str(exc))
            if on_skip is not None:  # Pillow's words name the file again
                why = str(exc.__cause__ or exc).replace(f" '{path}'", "")
                on_skip(path, f"cannot read it: {why}")
            continue
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
    if not clusters:
        more = f" (and {len(unreadable) - 1} more)" if len(unreadable) > 1 else ""
        said = f": {unreadable[0]}{more}" if unreadable else ""
        raise CopiesError(f"no original to make copies of could be read{said}")

    truth = {
        "name": f"copies-seed{seed}",
        "description": "Hard copy-detection set made by imgsearch (search.evaluation.sets.copies): "
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
    (out / TRUTH_NAME).write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
