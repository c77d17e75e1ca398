"""Evaluation media generated at run time from shared photos: images foreign to a photo
collection and degraded versions of photos (the explore stage: outliers, quality flags), and
videos (slideshows with cuts, pans, re-encodes and trims) with stills of known time (video)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from models import require_av

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


@dataclass
class VideoSet:
    """What :func:`make_video_set` wrote: originals, their copies (with the original and the
    copy's start inside it) and unrelated clips; paths relative to the set's folder."""

    folder: Path
    originals: list[str] = field(default_factory=list)
    copies: dict[str, tuple[str, int]] = field(default_factory=dict)  # copy -> (orig, ms)
    unrelated: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "originals": self.originals,
            "copies": {c: {"original": o, "offset_ms": ms} for c, (o, ms) in self.copies.items()},
            "unrelated": self.unrelated,
        }

    def copy_pairs(self) -> set[frozenset[str]]:
        """Every pair of files that are copies of one video (original and copies)."""
        groups: dict[str, set[str]] = {o: {o} for o in self.originals}
        for copy, (original, _ms) in self.copies.items():
            groups[original].add(copy)
        return {frozenset((a, b)) for g in groups.values() for a in g for b in g if a < b}


def _shot_frames(
    photo: Image.Image, size: tuple[int, int], count: int, rng: random.Random
) -> Iterator[np.ndarray]:
    """``count`` frames of one shot: a crop box that pans and zooms over ``photo``."""
    width, height = size
    aspect = width / height
    pw, ph = photo.size
    base_w = min(pw, ph * aspect)
    zoom0, zoom1 = rng.uniform(0.7, 1.0), rng.uniform(0.55, 1.0)
    cx0, cy0, cx1, cy1 = (rng.uniform(0.35, 0.65) for _ in range(4))
    for i in range(count):
        f = i / max(1, count - 1)
        bw = base_w * (zoom0 + (zoom1 - zoom0) * f)
        bh = bw / aspect
        cx = (cx0 + (cx1 - cx0) * f) * pw
        cy = (cy0 + (cy1 - cy0) * f) * ph
        left = min(max(0.0, cx - bw / 2), pw - bw)
        top = min(max(0.0, cy - bh / 2), ph - bh)
        box = (left, top, left + bw, top + bh)
        yield np.asarray(photo.resize(size, Image.BILINEAR, box=box))


def write_video(
    path: Path,
    frames: Iterator[np.ndarray],
    size: tuple[int, int],
    fps: int = 25,
    crf: int = 23,
) -> int:
    """Encode RGB ``frames`` as H.264 (yuv420p) into ``path``; returns the frame count."""
    av = require_av()
    count = 0
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.options = {"preset": "veryfast", "crf": str(crf)}
        for array in frames:
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
            count += 1
        for packet in stream.encode():
            out.mux(packet)
    return count


def slideshow(
    photos: Sequence[Path], size: tuple[int, int], shot_s: float, fps: int, seed: int
) -> Iterator[np.ndarray]:
    """Frames of a slideshow: one panning/zooming shot per photo, hard cuts between."""
    rng = random.Random(seed)
    for photo_path in photos:
        with Image.open(photo_path) as opened:
            photo = opened.convert("RGB")
        yield from _shot_frames(photo, size, round(shot_s * fps), rng)


def decoded_frames(path: Path, size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    """Every frame of a video as RGB arrays (resized to ``size`` when given)."""
    av = require_av()
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if size is None:
                yield frame.to_ndarray(format="rgb24")
            else:
                yield frame.to_ndarray(width=size[0], height=size[1], format="rgb24")


def make_video_set(
    photos: Sequence[Path],
    folder: Path,
    *,
    videos: int = 4,
    unrelated: int = 2,
    shots: int = 3,
    shot_s: float = 3.0,
    size: tuple[int, int] = (640, 360),
    fps: int = 25,
    seed: int = 0,
) -> VideoSet:
    """Write ``videos`` slideshows of ``shots`` photos each, three copies of each (``crf`` 35,
    half size, trimmed), and ``unrelated`` clips of other photos, into ``folder``."""
    rng = random.Random(seed)
    needed = (videos + unrelated) * shots
    if len(photos) < needed:
        raise ValueError(f"{needed} photos needed, {len(photos)} given")
    chosen = rng.sample(list(photos), needed)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "copies").mkdir(exist_ok=True)
    made = VideoSet(folder)
    fps_ms = 1000 / fps
    for v in range(videos + unrelated):
        group = chosen[v * shots : (v + 1) * shots]
        name = f"video{v:02d}.mp4" if v < videos else f"other{v - videos:02d}.mp4"
        total = write_video(folder / name, slideshow(group, size, shot_s, fps, seed + v), size, fps)
        if v >= videos:
            made.unrelated.append(name)
            continue
        made.originals.append(name)
        small = (size[0] // 2 // 2 * 2, size[1] // 2 // 2 * 2)
        start, end = int(total * 0.3), int(total * 0.85)
        for kind, frames, out_size, crf, offset in (
            ("reencode", decoded_frames(folder / name), size, 35, 0),
            ("small", decoded_frames(folder / name, small), small, 28, 0),
            ("trim", _slice(decoded_frames(folder / name), start, end), size, 26, start),
        ):
            copy = f"copies/{Path(name).stem}_{kind}.mp4"
            write_video(folder / copy, frames, out_size, fps, crf)
            made.copies[copy] = (name, round(offset * fps_ms))
    (folder / "ground_truth.json").write_text(json.dumps(made.to_json(), indent=1))
    return made


def _slice(frames: Iterator[np.ndarray], start: int, end: int) -> Iterator[np.ndarray]:
    for i, frame in enumerate(frames):
        if start <= i < end:
            yield frame
        elif i >= end:
            return


def take_stills(
    videos: Sequence[Path], folder: Path, count: int, seed: int = 0
) -> list[tuple[Path, Path, int]]:
    """``count`` stills from random frames (any frame, not only sampled ones) of ``videos``,
    saved as JPEG: ``(still, video, timestamp_ms)``."""
    av = require_av()
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    picks: dict[Path, list[int]] = {}
    for _ in range(count):
        picks.setdefault(rng.choice(list(videos)), []).append(rng.random())
    out = []
    for video, fractions in picks.items():
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            total = stream.frames or 1
            wanted = sorted({int(f * (total - 1)) for f in fractions})
            for i, frame in enumerate(container.decode(stream)):
                if i in wanted:
                    still = folder / f"{video.stem}_{i:05d}.jpg"
                    frame.to_image().save(still, quality=90)
                    out.append((still, video, round(float(frame.time) * 1000)))
    return out
