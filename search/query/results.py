"""The query engine's types: what goes in (queries, checks, errors) and what comes out
(search hits and image records, plain JSON-ready data)."""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from PIL import Image as PILImage

from models import (
    ImageError,
    ImgsearchError,
    hash_image_file,
    is_streamed,
    load_image,
    pixel_sha256,
    read_image_file,
)
from models.roi import RegionOfInterest
from search.descriptor import NO_COPY_OF_BETTER
from search.query.errors import QueryError
from search.query.limits import MAX_IMAGE_ID, MAX_K
from search.store import Label, StoredImage, labels_to_json, quality_flags_json

ImageQuery = Any  # str | os.PathLike | bytes | binary file object | PIL.Image.Image | ndarray
RoiLike = RegionOfInterest | str | Sequence[float] | None
SCORE_DECIMALS = 6  # scores are rounded so that equal vectors tie and sort by id
# pixels: a query image or region narrower than this has no copies but exact ones
FLAT_LEVELS = 2  # a query whose 16 x 16 cells' channels vary less is one flat colour
MIN_COPY_SIDE = 16


def is_image_id(value: object) -> bool:
    """Whether ``value`` can be an image id (an int in 1..2^63-1), so queries never overflow."""
    return (
        isinstance(value, (int, np.integer))
        and not isinstance(value, bool)
        and (1 <= int(value) <= MAX_IMAGE_ID)
    )


def check_params(k: int, min_score: float | None) -> None:
    """Raise :class:`QueryError` unless ``1 <= k <= MAX_K`` and ``-1 <= min_score <= 1``."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= MAX_K:
        raise QueryError(f"k must be an integer between 1 and {MAX_K}, got {k!r}")
    if min_score is not None and (
        isinstance(min_score, bool)
        or not isinstance(min_score, (int, float))
        or not -1.0 <= float(min_score) <= 1.0
    ):
        raise QueryError(f"min_score must be a number between -1 and 1, got {min_score!r}")


def read_query_bytes(source: ImageQuery) -> bytes | None:
    """The query's encoded bytes (None for an in-memory PIL image or array, and for a file
    too large to hold, :func:`models.is_streamed`: it is decoded from the file)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, (str, os.PathLike)):
        if is_streamed(source):
            return None
        return read_image_file(source)  # regular files only, size-limited
    if hasattr(source, "read"):
        data = source.read()
        if not isinstance(data, (bytes, bytearray)):
            raise QueryError("the query file object must be opened in binary mode")
        return bytes(data)
    if isinstance(source, (PILImage.Image, np.ndarray)):
        return None
    raise QueryError(f"cannot search with a {type(source).__name__}; give a path, bytes or image")


def cut(value: float, digits: int) -> str:
    """``value`` with ``digits`` decimals, cut (not rounded) so that a value below a limit is
    never shown equal to it; every answer (CLI, API evidence, web page) writes numbers so. The
    product is read at 12 significant digits first: 0.29 * 100 is 28.999999999999996, which
    was cut to "0.28" (the stored values have at most 6 decimals)."""
    scale = 10**digits
    return f"{math.floor(float(f'{value * scale:.12g}')) / scale:.{digits}f}"


@dataclass(frozen=True)
class SearchHit:
    """One result of a query. ``score`` orders the results (1.0 = the same image): for image
    queries the rank score, the copy score fused with label similarity. ``copy_score`` is the
    cosine similarity in the library's descriptor space, ``z`` its calibrated value (standard
    deviations above the library's background) and ``duplicate`` the copy decision.

    ``media`` is "video" for a video file, whose ``timestamp_ms`` is its best moment.
    ``exact`` is True when the hit is a byte-identical (same sha256) or pixel-identical copy of
    the query image. ``size`` is the file size in bytes. ``label`` names the matching label of a
    label search (None for image searches).
    """

    rank: int
    score: float
    id: int
    path: str
    width: int | None
    height: int | None
    size: int
    labels: list[Label] = field(default_factory=list)
    exact: bool = False
    collection_id: int | None = None
    rel_path: str | None = None
    format: str | None = None
    label: str | None = None
    copy_score: float | None = None
    z: float | None = None  # calibrated copy score (sd above the library's background)
    duplicate: bool = False  # z >= search.descriptor.DUPLICATE_Z: a copy of the query
    lookalike: bool = False  # z at the decision, but no copy (``lookalike_reason`` says why)
    lookalike_reason: str | None = None
    #: a look-alike's copy score and z (past the decision: by its vectors, or raised by its
    #: ``key_points``) before the witnesses said it is no copy and put its ``copy_score`` under
    #: the decision; None for other hits
    vector_score: float | None = None
    vector_z: float | None = None
    key_points: int | None = None  # matches that confirmed it as a copy (the grey-band check)
    pixel_match: float | None = None  # a small query's pixel correlation that confirmed it
    #: the query's copies that each hold it in the grey band and whose key points (or the
    #: query's) it matches: a copy of its copies (search.descriptor.vouched); None otherwise
    copy_of: list[int] | None = None
    mtime: datetime | None = None  # the file's modification time (set when browsing)
    media: str = "image"  # "video": a video file, ``timestamp_ms`` its best moment
    timestamp_ms: int | None = None
    duration_ms: int | None = None
    quality_flags: int | None = None  # models.quality bits; None = not measured
    #: the part of the query (left, top, right, bottom: fractions of the upright query, or of
    #: its region of interest) where this copy was found: a collage's picture or a quarter
    #: (the ``regions`` evidence); None: the whole query or its views
    part: tuple[float, float, float, float] | None = None
    #: the indexed content's sha256 (not in the JSON: the version in its thumbnail's URL)
    sha256: str | None = None

    @property
    def lookalike_note(self) -> str:
        """Why a look-alike is no copy, to follow its copy score and z in a sentence."""
        reason = self.lookalike_reason or NO_COPY_OF_BETTER
        if self.vector_score is None or self.vector_z is None:
            return f"a look-alike: {reason}"
        raised = f" with {self.key_points} matching key points" if self.key_points else ""
        source = "copy score" if raised else "vectors' copy score"
        return (
            f"a look-alike (its {source} {cut(self.vector_score, 3)}{raised}, z "
            f"{cut(self.vector_z, 1)}, was past the decision, but {reason})"
        )

    @property
    def confirmation_note(self) -> str | None:
        """What confirmed a copy that its vectors left in doubt, to follow its z in a sentence
        (None: its score alone decided)."""
        if not self.duplicate or self.exact:
            return None
        if self.key_points is not None:
            return f"confirmed by {self.key_points} matching key points"
        if self.pixel_match is not None:
            return f"confirmed by its pixels (correlation {self.pixel_match:.2f})"
        if self.copy_of:
            return f"a copy of the query's copies {copies_text(self.copy_of)}, by key points"
        return None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``imgsearch search --json`` and the web API (keys are stable)."""
        out: dict[str, Any] = {
            "rank": self.rank,
            "score": self.score,
            "id": self.id,
            "path": self.path,
            "width": self.width,
            "height": self.height,
            "size": self.size,
            "labels": labels_to_json(self.labels),
            "exact": self.exact,
            "collection_id": self.collection_id,
            "rel_path": self.rel_path,
            "format": self.format,
            "copy_score": self.copy_score,
            "z": self.z,
            "duplicate": self.duplicate,
            "lookalike": self.lookalike,
            "lookalike_reason": self.lookalike_reason,
            "vector_score": self.vector_score,
            "vector_z": self.vector_z,
            "key_points": self.key_points,
            "pixel_match": self.pixel_match,
            "copy_of": self.copy_of,
            "part": None if self.part is None else list(self.part),
            "media": self.media,
            "flags": quality_flags_json(self.quality_flags),
        }
        if self.media == "video":
            out["timestamp_ms"] = self.timestamp_ms
            out["duration_ms"] = self.duration_ms
        if self.label is not None:
            out["label"] = self.label
        if self.mtime is not None:
            out["mtime"] = self.mtime.isoformat()
        return out


def hit_from_row(rank: int, score: float, row: StoredImage, exact: bool) -> SearchHit:
    return SearchHit(
        rank=rank,
        score=float(score),
        id=row.id,
        path=row.path,
        width=row.width,
        height=row.height,
        size=int(row.file_size),
        exact=exact,
        labels=list(row.labels),
        collection_id=row.collection_id,
        rel_path=row.rel_path,
        format=row.format,
        media="image" if row.duration_ms is None else "video",
        timestamp_ms=None if row.duration_ms is None else 0,
        duration_ms=row.duration_ms,
        quality_flags=row.quality_flags,
        sha256=row.sha256,
    )


def query_sha256(source: ImageQuery, data: bytes | None) -> str | None:
    """The sha256 of the query's bytes: ``data``'s, or a streamed file's read in chunks
    (None for an in-memory image)."""
    if data is not None:
        return hashlib.sha256(data).hexdigest()
    if not isinstance(source, (str, os.PathLike)):
        return None
    try:
        return hash_image_file(source)
    except (OSError, ImgsearchError):  # gone since it was decoded: no exact copy then
        return None


def query_pixel_hash(source: ImageQuery, data: bytes | None, max_pixels: int) -> str | None:
    """The decoded pixels' digest of a query (full size; None when it cannot be decoded)."""
    try:
        decoded = load_image(
            data if data is not None else source, draft_size=None, max_pixels=max_pixels
        )
    except ImgsearchError:
        return None
    return pixel_sha256(decoded.image)


def with_source(error: ImageError, source: ImageQuery) -> ImageError:
    """An ImageError about query bytes, re-made to name the query file when there is one."""
    if not isinstance(source, (str, os.PathLike)) or error.source is not None:
        return error
    try:
        return type(error)(error.message, source=str(source), reason=error.reason)
    except TypeError:
        return error


@dataclass(frozen=True)
class ImageQueryResult:
    """An image query: the query's analysis (size, labels...), its bytes when it came as
    bytes or a file, their sha256, the hits, and how many views of it were embedded."""

    analysis: Any
    data: bytes | None
    sha256: str | None
    hits: list[SearchHit]
    views: int = 1


def too_small_for_copies(width: int, height: int, region: RegionOfInterest | None) -> str | None:
    """Why no hit of a ``width`` x ``height`` query image (or of its ``region``) can be called
    a copy: under :data:`MIN_COPY_SIDE` pixels on a side it is a few colours to the model,
    and a flat placeholder image scored as its copy (a 1-pixel region did). None otherwise."""
    if region is not None:
        left, top, right, bottom = region.to_box(width, height)
        width, height = right - left, bottom - top
    if min(width, height) >= MIN_COPY_SIDE:
        return None
    what = "region" if region is not None else "image"
    return f"the query {what} is {width}x{height} px, too small to tell a copy"


def no_copies_reason(
    width: int, height: int, picture: PILImage.Image | None, region: RegionOfInterest | None
) -> str | None:
    """Why no hit of a query can be called a copy (exact ones aside), whether a photo or a
    video's moment: too small (:func:`too_small_for_copies`), or one flat colour - no channel
    of its 16 x 16 cell means varies by more than :data:`FLAT_LEVELS` - which any flat picture
    of that colour matches (a plain green square was a duplicate of an all-black animation at
    z 6.3). A low-contrast copy is no flat picture: the hold-out sets' sepia copies, whose
    luma spread is under the ``uniform`` flag's, vary by 8 levels and more (the least of
    9,487 files: every hold-out set made, and the shared photos). None otherwise."""
    small = too_small_for_copies(width, height, region)
    if small is not None or picture is None:
        return small
    cells = picture.convert("RGB").resize((16, 16), PILImage.Resampling.BOX, reducing_gap=2.0)
    means = np.asarray(cells, np.int16).reshape(-1, 3)
    if int((means.max(axis=0) - means.min(axis=0)).max()) > FLAT_LEVELS:
        return None
    what = "region" if region is not None else "image"
    return f"the query {what} is one flat colour: any flat picture of that colour matches it"


def copies_text(ids: Sequence[int]) -> str:
    """Image ids as a reader names them: "#12 and #15"."""
    names = [f"#{i}" for i in ids]
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
