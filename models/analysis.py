"""What :class:`models.ImageAnalyzer` hands on: one image's result (:class:`Analysis`), and
an image prepared for the model (:class:`Prepared`, :class:`Ready`)."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from models.errors import ImageError
from models.frame import ContentBox
from models.load import DecodedImage
from models.quality import ImageQuality
from models.roi import RegionOfInterest


@dataclass
class Analysis:
    """One image's result: unit embedding, top labels (background excluded), metadata."""

    embedding: np.ndarray
    labels: list[tuple[str, float]]
    width: int
    height: int
    format: str | None
    exif_datetime: datetime | None
    source: str | None = None
    probs: np.ndarray | None = field(default=None, repr=False)
    raw_embedding: np.ndarray | None = field(default=None, repr=False)
    #: ``ImageAnalyzer(frames=True)``: the photo's box inside a frame (screenshot, caption
    #: bars, padding) and that photo's own unit embedding; None when not framed.
    frame_box: ContentBox | None = None
    frame_embedding: np.ndarray | None = field(default=None, repr=False)
    #: ``ImageAnalyzer(views=...)``: the unit embeddings of the image's extra views (None
    #: when it had none), and what they cost: wall and CPU seconds of making them in a decode
    #: thread, and this image's share of their model pass (wall, process CPU).
    view_embeddings: np.ndarray | None = field(default=None, repr=False)
    view_costs: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    #: ``ImageAnalyzer(crops=True)``: the unit embeddings of the image's five crops
    #: (:data:`models.crops.CROP_REGIONS`), [5, D]; None without
    crop_embeddings: np.ndarray | None = field(default=None, repr=False)
    #: ``ImageAnalyzer(quality=True)``: quality measures and flags (None without)
    quality: ImageQuality | None = None
    #: with ``quality``: the whole image's 16 x 16 grey levels (:func:`models.image_layout`)
    layout: bytes | None = None


@dataclass
class Prepared:
    """One image decoded and preprocessed (:meth:`ImageAnalyzer.prepare`), waiting for its
    model pass."""

    decoded: DecodedImage
    tensor: np.ndarray
    region: RegionOfInterest | None = None
    frame_box: ContentBox | None = None
    frame_tensor: np.ndarray | None = None
    view_tensors: np.ndarray | None = None
    view_costs: tuple[float, float] = (0.0, 0.0)  # making them: wall, thread CPU
    crop_tensors: np.ndarray | None = None  # [5, H, W, 3]: models.crops.CROP_REGIONS
    quality: ImageQuality | None = None
    layout: bytes | None = None


@dataclass
class Ready:
    """A source :meth:`ImageAnalyzer.prepare` already ran on (ahead of the stream, e.g. in
    the same decode threads before its place was known), or will have once the future is
    done: :meth:`ImageAnalyzer.analyze_iter` takes this result instead of preparing the
    source again."""

    prepared: Prepared | ImageError | Future[Prepared | ImageError]
