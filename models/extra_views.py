"""Extra views of an image (its edits, say) made while the analyzer has it decoded.

``ImageAnalyzer(views=maker)`` calls ``maker(source, decoded)`` in its decode threads for
each whole image; the views it returns are preprocessed there too, and the views of a batch
embedded in one more model pass. Their costs are measured where they are paid, so that a
caller can report them apart from the images' own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from PIL import Image

from models.cores import usable_cores
from models.errors import ImageError, RoiError
from models.frame import ContentBox
from models.load import DEFAULT_MAX_PIXELS, DecodedImage
from models.onnx_model import OnnxModel
from models.roi import RegionOfInterest
from models.sources import ImageSource, source_name

log = logging.getLogger(__name__)

#: (source, decoded image) -> its extra views (none: an empty sequence).
ViewMaker = Callable[[ImageSource, DecodedImage], Sequence[Image.Image]]
#: making the views (wall, thread CPU seconds), their model passes (wall, CPU seconds: the
#: calling thread's times the model's threads, as its other threads run the same share)
ViewCosts = tuple[float, float, float, float]


def make_views(
    model: OnnxModel, maker: ViewMaker, source: ImageSource, decoded: DecodedImage
) -> tuple[np.ndarray | None, tuple[float, float]]:
    """The views' model inputs (``[N, H, W, 3]`` uint8, None without views) and the wall and
    thread CPU seconds they took. An error only loses the views, never the image."""
    wall, cpu = time.perf_counter(), time.thread_time()
    tensors = None
    try:
        views = maker(source, decoded)
        if views:
            width, height = model.input_size
            tensors = np.empty((len(views), height, width, 3), np.uint8)
            for n, view in enumerate(views):
                model.preprocess(view, out=tensors[n])
    except Exception:
        log.exception("cannot make the extra views of %s", source_name(source))
        tensors = None
    return tensors, (time.perf_counter() - wall, time.thread_time() - cpu)


def embed_extra(
    model: OnnxModel, inputs: Mapping[int, np.ndarray], max_rows: int = 32
) -> dict[int, np.ndarray]:
    """More inputs of a batch's images (``{slot: [n, H, W, 3] uint8}``: a framed photo, the
    five crops) in model passes of at most ``max_rows`` (a pass of 160 rows costs ~20 % more
    CPU a row than one of 32): each slot's unit embeddings [n, D]."""
    if not inputs:
        return {}
    slots = list(inputs)
    batch = np.concatenate([inputs[s] for s in slots])
    step = max(1, max_rows)
    rows = np.concatenate(
        [model.run(batch[at : at + step]).embeddings for at in range(0, len(batch), step)]
    )
    out: dict[int, np.ndarray] = {}
    start = 0
    for slot in slots:
        out[slot] = rows[start : start + len(inputs[slot])].copy()
        start += len(inputs[slot])
    return out


def embed_views(
    model: OnnxModel,
    batch: Mapping[int, tuple[np.ndarray | None, tuple[float, float]]],
    max_rows: int = 32,
) -> dict[int, tuple[np.ndarray, ViewCosts]]:
    """The views of a batch (``{slot: (inputs or None, making costs)}``) in model passes of
    at most ``max_rows`` (the images' batch size: the model's working memory stays what the
    images need): each slot's unit embeddings and its costs, each pass shared by rows."""
    viewed = {
        slot: (tensors, made) for slot, (tensors, made) in batch.items() if tensors is not None
    }
    if not viewed:
        return {}
    wall, cpu = time.perf_counter(), time.thread_time()
    vectors = embed_extra(model, {slot: tensors for slot, (tensors, _) in viewed.items()}, max_rows)
    wall = time.perf_counter() - wall
    cpu = (time.thread_time() - cpu) * (model.threads or usable_cores())
    rows = sum(len(tensors) for tensors, _ in viewed.values())
    return {
        slot: (vectors[slot], (*made, wall * len(tensors) / rows, cpu * len(tensors) / rows))
        for slot, (tensors, made) in viewed.items()
    }


def framed_photo(
    model: OnnxModel,
    source: ImageSource,
    decoded: DecodedImage,
    box: ContentBox,
    rotation: int = 0,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> Image.Image:
    """The photo inside ``box``: cut from ``decoded``, or, when a JPEG draft left it
    smaller than the model's input, decoded again at the draft its region needs (the
    draft is chosen for the whole image; a framed photo is a part of it)."""
    photo = box.crop(decoded.image)
    width, height = model.input_size
    crop = model.spec.crop_fraction
    if not decoded.reduced or min(photo.width * crop / width, photo.height * crop / height) >= 1:
        return photo
    region = RegionOfInterest(box.left, box.top, box.right, box.bottom)
    try:
        if hasattr(source, "seek"):
            source.seek(0)
        finer = model.load(source, region, rotation_degrees=rotation, max_pixels=max_pixels)
    except (ImageError, RoiError, OSError, ValueError):
        return photo  # read once already; the coarser cut is still the photo
    return box.crop(finer.image)  # the box is relative: any decode size
