"""Reading request parameters and uploads; every bad value becomes a 400 with a clear message.

Uploads stay in memory (see :class:`InMemoryRequest`): they are never written to disk, let
alone under a library's collections. A query names its image either by an upload or by a
library image id; the id is resolved by the engine from the database, never to a path taken
from the request.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import IO, Any

from flask import Request, current_app, request

from models.errors import RoiError
from models.roi import RegionOfInterest, parse_roi
from search.query import MAX_IMAGE_ID, QualityFilter, QueryError
from search.units import human_size, whole_number
from web.errors import ApiError
from web.fields import (
    LOOKUP_ONLY,
    SEARCH_ONLY,
    refuse_misplaced_parts,
    refuse_stray_fields,
)
from web.text import visible

DEFAULT_K = 12
MAX_K = 200
DEFAULT_OTHERS = 5
MAX_OTHERS = 100
MAX_PAGE = 1_000_000
BROWSE_PER_PAGE = 60  # cards per page of the browse and label pages (and the API default)
CALIBRATED, FIXED = "calibrated", "fixed"  # threshold_mode: the HTML form's choice
MULTIPART_SLACK = 64 * 1024  # form fields and boundaries around the file itself


class InMemoryRequest(Request):
    """A request whose uploaded files are parsed into memory, never into temporary files.

    ``MAX_CONTENT_LENGTH`` bounds the whole body, so memory use is bounded too.
    """

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        return io.BytesIO()


@dataclass(frozen=True)
class Query:
    """An image query: uploaded bytes or a library image id, with its options."""

    data: bytes | None
    image_id: int | None
    filename: str | None
    roi: RegionOfInterest | None
    k: int
    min_score: float | None
    flags: QualityFilter | None = None

    def roi_json(self) -> list[float] | None:
        return list(self.roi.as_tuple()) if self.roi else None

    def roi_units(self) -> str | None:
        """``fraction`` (of the image) or ``px``: the units of :meth:`roi_json`."""
        return None if self.roi is None else ("fraction" if self.roi.normalized else "px")


@dataclass(frozen=True)
class LookupQuery:
    """A reverse lookup: uploaded bytes or a library image id, the near-duplicate threshold on
    the copy score (None: the library's default, its calibrated decision unless
    ``IMGSEARCH_DEDUP_THRESHOLD`` is set) and how many other, less similar images to add."""

    data: bytes | None
    image_id: int | None
    filename: str | None
    threshold: float | None
    others: int


def _value(name: str) -> str | None:
    value = request.form.get(name) if request.method == "POST" else None
    if value is None:
        value = request.args.get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def parse_optional_whole(name: str, low: int, high: int) -> int | None:
    """Form/query field ``name`` as a whole number in ``low..high`` (ASCII digits:
    :func:`search.units.whole_number`), None when absent; anything else is a 400."""
    text = _value(name)
    if text is None:
        return None
    value = whole_number(text)
    if value is None or not low <= value <= high:
        raise ApiError(
            400, f"'{name}' must be a whole number from {low} to {high}, got '{visible(text)}'."
        )
    return value


def parse_whole(name: str, default: int, low: int, high: int) -> int:
    """:func:`parse_optional_whole` with ``default`` when the field is absent."""
    value = parse_optional_whole(name, low, high)
    return default if value is None else value


def parse_choice(name: str, choices: tuple[str, ...], default: str) -> str:
    """Field ``name``, one of ``choices`` (``default`` when absent), else a 400."""
    value = _value(name) or default
    if value not in choices:
        raise ApiError(
            400, f"'{name}' must be one of {', '.join(choices)}, got '{visible(value)}'."
        )
    return value


def parse_k(default: int = DEFAULT_K, name: str = "k") -> int:
    return parse_whole(name, default, 1, MAX_K)


def _similarity(name: str) -> float | None:
    """A score given as a fraction (0.8) or a percentage ("80%"), or None."""
    text = _value(name)
    if text is None:
        return None
    try:
        value = float(text.rstrip("%")) / (100.0 if text.endswith("%") else 1.0)
    except ValueError:
        raise ApiError(400, f"'{name}' must be a number, got '{visible(text)}'.") from None
    return value


def parse_min_score(name: str = "min_score") -> float | None:
    value = _similarity(name)
    percent = (_value(name) or "").endswith("%")  # a percentage is 0%..100% ("-100%" was -1)
    lowest = 0.0 if percent else -1.0
    if value is not None and (not math.isfinite(value) or not lowest <= value <= 1.0):
        raise ApiError(400, f"'{name}' must be a score between -1 and 1 (or 0%..100%).")
    return value


def parse_threshold(name: str = "threshold") -> float | None:
    value = _similarity(name)
    if value is not None and (not math.isfinite(value) or not 0.0 < value <= 1.0):
        raise ApiError(400, f"'{name}' must be a copy score above 0 and at most 1 (or up to 100%).")
    return value


def parse_decision(*, strict: bool) -> float | None:
    """The lookup's near-duplicate threshold: ``threshold`` (a copy score), or None for the
    library's default decision. ``threshold_mode`` (the form's choice) may say which:
    ``calibrated`` ignores the form's slider (the API, ``strict``, refuses both at once),
    ``fixed`` requires a threshold."""
    mode = _value("threshold_mode")
    if mode is not None and mode not in (CALIBRATED, FIXED):
        raise ApiError(
            400, f"'threshold_mode' must be '{CALIBRATED}' or '{FIXED}', got '{visible(mode)}'."
        )
    threshold = parse_threshold()
    if mode == CALIBRATED:
        if strict and threshold is not None:
            raise ApiError(400, "Give either 'threshold' or 'threshold_mode=calibrated', not both.")
        return None
    if mode == FIXED and threshold is None:
        raise ApiError(400, "'threshold_mode=fixed' needs a 'threshold' (a copy score).")
    return threshold


def _values(name: str) -> list[str]:
    """Every value of a repeatable field (form and query string), blanks left out."""
    found = request.form.getlist(name) if request.method == "POST" else []
    return [v.strip() for v in found + request.args.getlist(name) if v.strip()]


def parse_flags() -> QualityFilter | None:
    """``flag`` / ``exclude_flag`` (repeatable or comma-separated quality flags: dark,
    bright, blurry, tiny, uniform; ``any``): a filter, or None."""
    try:
        return QualityFilter.parse(_values("flag"), _values("exclude_flag"))
    except QueryError as error:
        raise ApiError(400, f"{error}.", "bad_flag") from None


def parse_page(name: str = "page") -> int:
    """A page number, 1 and up (1 when absent)."""
    return parse_whole(name, 1, 1, MAX_PAGE)


def parse_others(name: str = "others") -> int:
    return parse_whole(name, DEFAULT_OTHERS, 0, MAX_OTHERS)


def parse_region(name: str = "roi") -> RegionOfInterest | None:
    text = _value(name)
    if text is None:
        return None
    try:
        return parse_roi(text[:200])
    except RoiError as error:
        raise ApiError(400, f"Bad region of interest '{name}': {error}", "bad_roi") from None


def parse_image_id(text: str | None) -> int | None:
    if text is None:
        return None
    value = whole_number(text)
    if value is None or not 1 <= value <= MAX_IMAGE_ID:
        raise ApiError(
            400,
            f"'image_id' must be a whole number from 1 to {MAX_IMAGE_ID}, got '{visible(text)}'.",
        )
    return value


FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def read_upload(field: str = "image") -> tuple[bytes, str | None] | None:
    """The uploaded file's bytes and name, or None when the field is absent or empty."""
    upload = request.files.get(field)
    if upload is None:
        return None
    data = upload.stream.read(current_app.config["IMGSEARCH_MAX_UPLOAD_BYTES"] + 1)
    if len(data) > current_app.config["IMGSEARCH_MAX_UPLOAD_BYTES"]:
        limit = human_size(current_app.config["IMGSEARCH_MAX_UPLOAD_BYTES"])
        raise ApiError(413, f"Upload too large: the limit is {limit}.", "too_large")
    if not data:
        if not upload.filename:
            return None  # a form submitted without choosing a file
        raise ApiError(400, "The uploaded file is empty.", "empty")
    return data, upload.filename or None


def read_image(*, strict: bool = True) -> tuple[bytes | None, int | None, str | None]:
    """The query image: ``(upload bytes, None, file name)`` or ``(None, image_id, None)``.
    ``strict`` (the API) refuses both at once (the upload won without a word); the form
    sends its library image's id along with a file chosen later, and the file wins."""
    refuse_misplaced_parts()
    upload = read_upload()
    image_id = parse_image_id(_value("image_id"))
    if strict and upload is not None and image_id is not None:
        raise ApiError(400, "Give one query: an 'image' file or an 'image_id', not both.")
    if upload is None and image_id is None:
        kind = request.mimetype
        if request.content_length and kind not in FORM_TYPES:
            raise ApiError(
                415,
                f"The body is {kind or 'of no declared type'}, which is not read here: send a "
                "multipart form (multipart/form-data) with an 'image' file or an 'image_id' "
                "field.",
                "unsupported_media_type",
            )
        raise ApiError(
            400,
            "No image: send a multipart form with an 'image' file (or an 'image_id').",
            "no_image",
        )
    if upload is not None:
        return upload[0], None, upload[1]
    return None, image_id, None


def read_query(*, default_k: int = DEFAULT_K, strict: bool = True) -> Query:
    """Parse a search request: ``image`` upload or ``image_id``, ``roi``, ``k``,
    ``min_score``, ``flag`` / ``exclude_flag``. The caller passes the result to the engine.
    ``strict`` (the API) refuses the lookup-only fields (a ``threshold`` was ignored without a
    word), as a lookup refuses ``roi``; the HTML form sends them along."""
    for name in LOOKUP_ONLY if strict else ():
        if _value(name) is not None:
            raise ApiError(
                400,
                f"'{name}' does not apply to a search, which ranks by similarity; give "
                "'min_score' and 'k' (or use /lookup for the copy decision).",
            )
    if strict:
        refuse_stray_fields(SEARCH_ONLY)
    roi = parse_region()
    k = parse_k(default_k)
    min_score = parse_min_score()
    flags = parse_flags()
    data, image_id, filename = read_image(strict=strict)
    return Query(data, image_id, filename, roi, k, min_score, flags)


def read_lookup(*, strict: bool = True) -> LookupQuery:
    """Parse a reverse-lookup request: ``image`` upload or ``image_id``, ``threshold`` (and
    ``threshold_mode``, see :func:`parse_decision`), ``others``. ``strict`` (the API) refuses
    the search-only ``roi``, ``k`` and ``min_score`` rather than ignoring them; the HTML form
    sends them along and they are ignored."""
    if strict:
        for name in SEARCH_ONLY:
            if _value(name) is not None:
                raise ApiError(
                    400,
                    f"'{name}' does not apply to a lookup, which compares whole images; give "
                    "'threshold' and 'others' (or use /search for regions and k).",
                )
        refuse_stray_fields(LOOKUP_ONLY)
    threshold = parse_decision(strict=strict)
    others = parse_others()
    data, image_id, filename = read_image(strict=strict)
    return LookupQuery(data, image_id, filename, threshold, others)


def query_summary(query: Query) -> dict[str, Any]:
    return {
        "image_id": query.image_id,
        "filename": query.filename,
        "roi": query.roi_json(),
        "roi_units": query.roi_units(),
        "k": query.k,
        "min_score": query.min_score,
        **(query.flags.to_dict() if query.flags else {}),
    }
