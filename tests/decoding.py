"""Helpers of the decoding tests (test_models_load.py, test_models_decode_errors.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from models import ImageAnalyzer, OnnxModel


def embed(model: OnnxModel, source: object, roi: object = None) -> np.ndarray:
    with ImageAnalyzer(model, decode_workers=0) as analyzer:
        return analyzer.analyze(source, roi).embedding


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def upright(photo: Path) -> Image.Image:
    with Image.open(photo) as im:
        return im.convert("RGB")


def make_big_jpeg(photo: Path, path: Path) -> Path:
    """A 12 MP JPEG at ``path``, made by upscaling ``photo`` to 4000x3000."""
    with Image.open(photo) as im:
        im.convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC).save(path, quality=90)
    return path


def bee_photo(data_dir: Path) -> Path:
    return sorted((data_dir / "hymenoptera/images/val/bees").glob("*.jpg"))[0]
