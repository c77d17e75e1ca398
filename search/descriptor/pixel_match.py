"""Small queries compared by their pixels: a copy too small for key points.

A photo re-posted as a thumbnail of a few dozen pixels has no key points worth matching (ORB
runs at 512 px), and the model's vector of so blurred an upsample ranks its original anywhere
among the first candidates: photos-50 originals shrunk to 32 / 48 / 64 px (JPEG 75) are
found first by 0.18 / 0.62 / 0.78 of the queries, within the first 20 by 0.78 / 0.88 / 0.94
(plain embedding and default descriptor alike; ``bench/README.md``, "Small queries compared
by their pixels"). At the query's size, though, a copy is its original's pixels: the
correlation (zero mean, unit norm) of their grey levels - both shrunk by area averaging to
half the query's size, finer than a tiny JPEG's blocks; the candidate's aspect ratio within
:data:`MAX_ASPECT` of the query's; the query mirrored too - is 0.957-1.00 for thumbnails of
32-128 px (JPEG 40-70, brightened, greyscale) and at most 0.75-0.88 for different photos
(1,500 pairs of hymenoptera and UKBench photos at each size; the highest are other views of
one UKBench object). A crop, a turn or a colour shift that moves the grey levels does not
match (those are left to key points and the views).

So a query whose longer side is at most :data:`PIXEL_SIDE` has its best
:data:`PIXEL_CHECKED` candidates below the confirmed band (whatever their z: a thumbnail's
original often scores low) compared this way, and a candidate from :data:`PIXEL_MATCH` is a
confirmed copy, placed in the confirmed band by its correlation
(:func:`search.descriptor.confirmed.confirmed_copy_score`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from models import load_image
from search.descriptor.confirmed import confirmed_copy_score, verified_floor
from search.descriptor.expansion import SELF_SCORE

if TYPE_CHECKING:
    from search.descriptor.calibration import Calibration

PIXEL_SIDE = 160  # a query whose longer side is at most this is compared by pixels
PIXEL_CHECKED = 50  # its best candidates compared, at most (bench/README.md)
PIXEL_MATCH = 0.93  # correlation from which a candidate is a copy (module doc)
MIN_COMPARED = 8  # pixels a side compared, at least
THUMB_SIDE = 256  # a candidate's grey thumbnail (kept per image): at most this side
MAX_ASPECT = 0.05  # aspect ratios of query and candidate agree within this share


def is_small(width: int, height: int) -> bool:
    """Whether an image of this size is too small for key points: compared by pixels."""
    return max(width, height) <= PIXEL_SIDE


@dataclass(frozen=True)
class QueryPixels:
    """A small query's grey levels at the compared size, and its own aspect ratio."""

    levels: np.ndarray  # float32 [h, w]
    aspect: float


def grey_levels(image: Image.Image) -> QueryPixels:
    """A small query's grey levels, shrunk by area averaging to half its size (at least
    :data:`MIN_COMPARED` pixels a side): a JPEG's blocks and ringing at a few dozen pixels
    are finer than that (module doc)."""
    grey = image.convert("L")
    size = (max(MIN_COMPARED, grey.width // 2), max(MIN_COMPARED, grey.height // 2))
    levels = np.asarray(grey.resize(size, Image.Resampling.BOX), np.float32)
    return QueryPixels(levels, grey.width / grey.height)


def grid_levels(image: Image.Image, grid: tuple[int, int]) -> QueryPixels:
    """A pixelated query's grey levels: its picture shrunk to one level per block of its
    ``grid`` (blocks across, down: :mod:`models.mosaic`), then as :func:`grey_levels` (a
    mosaic's block may be one sampled pixel rather than its block's mean)."""
    grey = image.convert("L")
    blocks = grey_levels(grey.resize(grid, Image.Resampling.BOX))
    return QueryPixels(blocks.levels, grey.width / grey.height)


def thumbnail(image: Image.Image) -> Image.Image:
    """A candidate's grey thumbnail (longer side at most :data:`THUMB_SIDE`)."""
    grey = image.convert("L")
    grey.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BOX)
    return grey


def read_thumbnail(source: object, max_pixels: int | None = None) -> Image.Image:
    """The grey thumbnail of an image file or its bytes, decoded at the thumbnail's draft."""
    side = (THUMB_SIDE, THUMB_SIDE)
    return thumbnail(load_image(source, draft_size=side, max_pixels=max_pixels).image)


def _unit(levels: np.ndarray) -> np.ndarray:
    centred = levels.ravel() - levels.mean()
    return centred / max(float(np.linalg.norm(centred)), 1e-6)


def pixel_correlation(query: QueryPixels, candidate: Image.Image) -> float:
    """The correlation of a small query's grey levels with the candidate's thumbnail shrunk
    to the same size, the query as is or mirrored (the larger); 0 when their aspect ratios
    differ (module doc)."""
    if abs(candidate.width / candidate.height - query.aspect) > MAX_ASPECT * query.aspect:
        return 0.0
    height, width = query.levels.shape
    theirs = _unit(np.asarray(candidate.resize((width, height), Image.Resampling.BOX), np.float32))
    return max(float(_unit(q) @ theirs) for q in (query.levels, query.levels[:, ::-1]))


def pixel_candidates(copy: np.ndarray, calibration: Calibration | None) -> list[int]:
    """Positions of the :data:`PIXEL_CHECKED` best copy scores below the confirmed band (the
    query's own vector left out), best first."""
    c = np.asarray(copy, np.float64)
    keep = np.flatnonzero((c < verified_floor(calibration)) & (c < SELF_SCORE))
    return [int(n) for n in keep[np.argsort(-c[keep], kind="stable")][:PIXEL_CHECKED]]


def pixel_copy_score(copy: float, correlation: float, calibration: Calibration | None) -> float:
    """A candidate's copy score once compared by pixels: ``copy`` itself below
    :data:`PIXEL_MATCH`; else in the confirmed band, placed by how far the correlation
    rises from there to 1."""
    if correlation < PIXEL_MATCH:
        return float(copy)
    place = max(1e-3, (correlation - PIXEL_MATCH) / (1.0 - PIXEL_MATCH))
    return confirmed_copy_score(copy, min(place, 1.0), calibration)
