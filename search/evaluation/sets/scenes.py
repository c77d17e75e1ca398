"""Generated scenes: a photo pool that no one photographed (for the hold-out copy sets).

A scene is a sky/ground gradient, a textured field and 6-14 objects (ellipses, polygons,
bars, striped boards) drawn from a seeded generator, then softened and given grain, so that a
CNN sees many similar-looking but different pictures (hard negatives). :func:`scene_spec`
draws a scene, :func:`draw_scene` renders it, with ``moved`` > 0 for a burst shot of the same
scene (every object displaced by up to that share of the side, another light).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

Rng = np.random.Generator
Spec = dict[str, Any]


def scene_spec(rng: Rng) -> Spec:
    """A random scene's description (colours, horizon, objects)."""
    objects = []
    for _ in range(int(rng.integers(6, 15))):
        objects.append(
            {
                "kind": int(rng.integers(0, 4)),
                "x": float(rng.uniform(0, 1)),
                "y": float(rng.uniform(0.2, 1)),
                "s": float(rng.uniform(0.05, 0.3)),
                "a": float(rng.uniform(0.3, 2.5)),
                "colour": rng.integers(0, 256, 3).tolist(),
                "n": int(rng.integers(3, 8)),
                "phase": float(rng.uniform(0, 2 * np.pi)),
            }
        )
    return {
        "sky": [rng.integers(0, 256, 3).tolist() for _ in range(2)],
        "ground": [rng.integers(0, 256, 3).tolist() for _ in range(2)],
        "horizon": float(rng.uniform(0.3, 0.7)),
        "freq": float(rng.uniform(4, 40)),
        "waves": rng.uniform(-1, 1, (3, 4)).tolist(),  # background texture: 3 plane waves
        "ink": rng.integers(0, 256, (3, 3)).tolist(),
        "objects": objects,
        "grain": int(rng.integers(0, 2**31)),
    }


def _gradient(top: list[int], bottom: list[int], w: int, h: int) -> np.ndarray:
    t = np.linspace(0, 1, max(1, h))[:, None, None]
    col = np.asarray(top, np.float32) * (1 - t) + np.asarray(bottom, np.float32) * t
    return np.repeat(col, w, axis=1)


def draw_scene(
    spec: Spec, size: tuple[int, int] = (640, 480), moved: float = 0.0, seed: int = 0
) -> Image.Image:
    """Render ``spec`` at ``size``; ``moved`` > 0 renders a burst shot of it."""
    w, h = size
    rng = np.random.default_rng([spec["grain"], seed])
    light = float(rng.uniform(0.85, 1.15)) if moved else 1.0
    hz = int(h * (spec["horizon"] + (rng.uniform(-moved, moved) if moved else 0)))
    hz = min(h - 1, max(1, hz))
    a = np.concatenate(
        [_gradient(*spec["sky"], w, hz), _gradient(*spec["ground"], w, h - hz)], axis=0
    )
    yy, xx = np.mgrid[0:h, 0:w]
    a[hz:] += 18 * np.sin(xx[hz:] / w * spec["freq"] + yy[hz:] / h * spec["freq"] * 0.7)[..., None]
    for (fx, fy, ph, amp), ink in zip(spec["waves"], spec["ink"], strict=True):
        wave = np.sin(2 * np.pi * (fx * 12 * xx / w + fy * 12 * yy / h) + 3 * ph) * abs(amp)
        a += 0.35 * wave[..., None] * (np.asarray(ink, np.float32) - 128)
    img = Image.fromarray(np.clip(a * light, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for o in spec["objects"]:
        dx, dy = rng.uniform(-moved, moved, 2) if moved else (0.0, 0.0)
        cx, cy = (o["x"] + dx) * w, (o["y"] + dy) * h
        rx, ry = o["s"] * w, o["s"] * w / o["a"]
        colour = tuple(int(min(255, c * light)) for c in o["colour"])
        if o["kind"] == 0:
            draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=colour)
        elif o["kind"] == 1:
            pts = [
                (
                    cx + rx * np.cos(o["phase"] + 2 * np.pi * k / o["n"]),
                    cy + ry * np.sin(o["phase"] + 2 * np.pi * k / o["n"]),
                )
                for k in range(o["n"])
            ]
            draw.polygon(pts, fill=colour)
        elif o["kind"] == 2:
            draw.rectangle((cx - rx / 6, cy - ry * 2, cx + rx / 6, cy), fill=colour)
            draw.ellipse((cx - rx / 2, cy - ry * 2.6, cx + rx / 2, cy - ry * 1.4), fill=colour)
        else:
            for k in range(o["n"]):
                c = colour if k % 2 == 0 else (255 - colour[0], 255 - colour[1], 255 - colour[2])
                y0 = cy - ry + k * 2 * ry / o["n"]
                draw.rectangle((cx - rx, y0, cx + rx, y0 + 2 * ry / o["n"]), fill=c)
    img = img.filter(ImageFilter.GaussianBlur(1.0))
    grain = rng.normal(0, 4, (h, w, 1))
    return Image.fromarray(np.clip(np.asarray(img, np.float32) + grain, 0, 255).astype(np.uint8))


def render_scene(rng: Rng, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A fresh random scene (collage tiles, distractors)."""
    return draw_scene(scene_spec(rng), size)
