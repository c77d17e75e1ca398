"""Animated GIF / WebP test media made from photos at run time (tests and ``bench/``): a
slideshow of panning shots with hard cuts, written with Pillow alone, and stills taken from
any of its frames with the time each is shown."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from search.evaluation.sets.generated_sets import slideshow


def write_animation(
    path: Path, frames: Iterable[np.ndarray], fps: int = 10, quality: int = 70
) -> int:
    """Write RGB ``frames`` as an animation (GIF or WebP by ``path``'s suffix) playing at
    ``fps``; returns the frame count."""
    count = 0

    def images() -> Iterator[Image.Image]:
        nonlocal count
        for array in frames:
            count += 1
            yield Image.fromarray(array)

    stream = images()
    first = next(stream)
    fmt = "WEBP" if path.suffix.lower() == ".webp" else "GIF"
    extra = {"quality": quality, "method": 0} if fmt == "WEBP" else {}
    first.save(
        path,
        fmt,
        save_all=True,
        append_images=stream,
        duration=round(1000 / fps),
        loop=0,
        **extra,
    )
    return count


def make_animation(
    photos: Sequence[Path],
    path: Path,
    *,
    size: tuple[int, int] = (160, 120),
    shot_s: float = 1.0,
    fps: int = 10,
    seed: int = 0,
) -> int:
    """A slideshow animation of ``photos`` (one panning shot of ``shot_s`` each, hard cuts
    between) written to ``path`` (.gif or .webp); returns its frame count."""
    return write_animation(path, slideshow(photos, size, shot_s, fps, seed), fps)


def animation_stills(
    path: Path, folder: Path, count: int, seed: int = 0, skip: Iterable[int] = ()
) -> list[tuple[Path, int]]:
    """``count`` stills (JPEG) of random frames of the animation at ``path`` (frames whose
    times are in ``skip`` left out), with the time each frame is shown at."""
    from models import AnimationReader

    folder.mkdir(parents=True, exist_ok=True)
    skipped = set(skip)
    with AnimationReader(path) as reader:
        times = [ms for ms, _frame in reader.frames() if ms not in skipped]
    wanted = set(random.Random(seed).sample(times, min(count, len(times))))
    out = []
    with AnimationReader(path) as reader:
        for ms, frame in reader.frames():
            if ms in wanted:
                still = folder / f"{path.stem}-{ms}.jpg"
                frame.convert("RGB").save(still, "JPEG", quality=90)
                out.append((still, ms))
    return out
