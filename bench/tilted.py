"""Tilted photos stood upright: what the framed view gives the model, per kind of tilt.

    python bench/tilted.py [--sets photos-50,scenes-50] [--per-kind 40]

For the originals of hold-out copy sets (``bench/holdout.py``; made under /tmp when missing)
and their edits, the plain cosine (the model's embedding, no descriptor) between the original
and (a) the edited canvas as it is, (b) the photo the frame finder cuts out of it
(:func:`models.frame.find_content_box` on a 224-px decode, cut from the full image: stood
upright when tilted), per kind:

* the hold-out's own edits that tilt: ``turn_fill`` (turned 6-35 degrees with ``expand``),
  ``turn_fill+crop_half`` (a cut of one), ``turn_crop`` (turned, cut inside: no corners);
* turns in place made here (``Image.rotate`` without ``expand``: the photo's corners cut off,
  the canvas's black), alternately either way, 3, 8, 15 and 25 degrees;
* the originals themselves and other edits (border, meme, crops, stickers, collage): a frame
  found where none is wanted costs a second vector and can only be worse.

Printed per kind: how many were found framed, the mean cosine of the canvas, of the cut
photo where found, and of the better of the two, and how many cut photos score lower than
their canvas by more than 0.05.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.holdout import holdout_set  # noqa: E402
from models import open_model  # noqa: E402
from models.frame import find_content_box  # noqa: E402

EDIT_KINDS = (
    "turn_fill",
    "turn_fill+crop_half",
    "turn_crop",
    "crop_half",
    "border",
    "meme",
    "collage",
    "stickers",
)
IN_PLACE = (3, 8, 15, 25)


def small(image: Image.Image, side: int = 224) -> Image.Image:
    """What the indexer looks for frames in: a decode of about ``side`` px."""
    scale = side / max(image.size)
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR)


def measure(model: object, pairs: list[tuple[Image.Image, Image.Image]]) -> dict[str, float]:
    """Cosines of (edited canvas, cut photo) to the original over ``pairs`` (edit, original)."""
    canvas, cut, best = [], [], []
    worse = 0
    for edited, original in pairs:
        box = find_content_box(small(edited))
        images = [original, edited] + ([box.crop(edited)] if box is not None else [])
        e = model.embed_images(images)  # type: ignore[attr-defined]
        whole = float(e[1] @ e[0])
        canvas.append(whole)
        if box is None:
            best.append(whole)
            continue
        photo = float(e[2] @ e[0])
        cut.append(photo)
        best.append(max(whole, photo))
        worse += photo < whole - 0.05
    return {
        "n": len(pairs),
        "framed": len(cut),
        "canvas": float(np.mean(canvas)) if canvas else 0.0,
        "cut": float(np.mean(cut)) if cut else float("nan"),
        "best": float(np.mean(best)) if best else 0.0,
        "worse": worse,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", default="photos-50,scenes-50")
    ap.add_argument("--per-kind", type=int, default=40, help="originals turned in place")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--model-path", type=Path, default=ROOT.parent / "shared" / "models")
    args = ap.parse_args()
    model = open_model(None, [args.model_path])

    def load(path: Path) -> Image.Image:
        with Image.open(path) as im:
            return im.convert("RGB")

    print(f"{'set':12s} {'kind':22s} {'n':>4s} {'framed':>6s} {'canvas':>7s} {'cut':>7s}", end="")
    print(f" {'best':>7s} {'cut worse':>9s}")
    for name in args.sets.split(","):
        pool, size = name.rsplit("-", 1)
        root = holdout_set(pool, int(size), 0, args.data).parent
        files = sorted(p.name for p in root.glob("*.jpg"))
        originals = [f for f in files if "__" not in f and "_burst" not in f]
        kinds: dict[str, list[tuple[Image.Image, Image.Image]]] = {}
        for kind in EDIT_KINDS:
            kinds[kind] = [
                (load(root / f), load(root / (f.split("__")[0] + ".jpg")))
                for f in files
                if f.endswith(f"__{kind}.jpg")
            ]
        for angle in IN_PLACE:
            pairs = []
            for k, f in enumerate(originals[: args.per_kind]):
                photo = load(root / f)
                turn = angle if k % 2 else -angle
                pairs.append((photo.rotate(turn, Image.Resampling.BICUBIC), photo))
            kinds[f"in place {angle} deg"] = pairs
        kinds["originals"] = [(photo, photo) for photo in map(load, (root / f for f in originals))]
        for kind, pairs in kinds.items():
            m = measure(model, pairs)
            print(
                f"{name:12s} {kind:22s} {m['n']:4d} {m['framed']:6d} {m['canvas']:7.3f} "
                f"{m['cut']:7.3f} {m['best']:7.3f} {m['worse']:9d}"
            )


if __name__ == "__main__":
    main()
