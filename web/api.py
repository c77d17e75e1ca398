"""The JSON API under /api/v1 (documented by /api/v1/openapi.json, see web/openapi.py).

Images are addressed by their database id only (the ``int`` route converter refuses anything
else); files are served from the path the database holds for that id.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request, send_file
from werkzeug.http import parse_range_header

from models import image_format
from search.library import DEFAULT_SIZE, SIZES
from search.query import (
    MODEL_UNAVAILABLE_NOTE,
    STATE_FLAGS,
    disk_change,
    file_state_of,
    singular_suggestion,
    update_hint,
)
from search.units import whole_number
from web import service
from web.errors import ApiError, for_this_library
from web.fields import refuse_repeated_args, refuse_unknown_args
from web.guard import public_stats
from web.media_types import served_type
from web.media_urls import cache_for_version
from web.openapi import openapi_document
from web.openapi_media import MAX_T_MS
from web.params import (
    BROWSE_PER_PAGE,
    DEFAULT_K,
    parse_flags,
    parse_k,
    parse_min_score,
    parse_page,
    query_summary,
    read_lookup,
    read_query,
)
from web.text import visible

bp = Blueprint("api", __name__, url_prefix="/api/v1")


GET_FIELDS: dict[str, tuple[str, ...]] = {
    "api.images": ("page", "per_page", "flag", "exclude_flag"),
    "api.image": (),
    "api.similar": ("k", "min_score", "flag", "exclude_flag"),
    "api.thumbnail": ("size", "t", "v"),
    "api.image_file": ("download", "v"),
    "api.stats": (),
    "api.labels": ("q", "k", "page"),
    "api.openapi": (),
    "api.clusters": ("method", "k", "min_size", "page", "per_page"),
    "api.outliers": ("n", "k"),
    "api.library_map": ("projection",),
    "api.map_clusters": (),
}
"""The query parameters each GET endpoint reads (others are refused, never ignored)."""


@bp.before_request
def one_value_per_parameter() -> None:
    """``GET /api/v1/...?k=5&k=6`` is refused, never answered for one of them, and so is a
    parameter the endpoint does not read (``?min-score=0.9`` was ignored without a word; the
    POSTs check their form fields and query together: see ``web.params``). HEAD answers as
    GET does (it was 200 where GET was 400)."""
    if request.method not in ("GET", "HEAD"):
        return
    known = GET_FIELDS.get(request.endpoint or "")
    if known is not None:
        refuse_unknown_args(known)
    else:
        refuse_repeated_args()


@bp.post("/search")
def search() -> Response:
    """Search by an uploaded image (or a library image id), optionally a region of it."""
    query = read_query(default_k=DEFAULT_K)
    stored = service.stored_search(query)
    hits, took_ms = stored[:2] if stored is not None else service.run_search(query)
    body: dict[str, Any] = {
        "query": query_summary(query),
        "took_ms": round(took_ms, 2),
        "results": [service.hit_json(hit) for hit in hits],
    }
    if stored is not None and query.image_id is not None:  # its file gone, changed, unreadable
        body.update(_stored_answer(stored[2], query.image_id))  # answered from stored vectors
    elif service.only_itself(hits, query) and (note := service.clip_note(query)):  # no video,
        body["note"] = note  # or the filter's doing
    return jsonify(body)


@bp.post("/lookup")
def lookup() -> Response:
    """Reverse lookup: where is this picture in the library, edited or not? Exact copies
    (same bytes, or same pixels in another encoding), near-duplicates (the library's calibrated
    copy decision, or a copy score at or above ``threshold``), then the nearest others, each
    with its ``match`` and ``evidence``."""
    query = read_lookup(strict=True)
    result, took_ms = service.run_lookup(query)
    body = service.lookup_json(result, query, took_ms)
    if result.file_state is not None and query.image_id is not None:
        note = service.engine().records.stored_note(query.image_id, result.file_state)
        body["note"] = for_this_library(note)
    elif result.model_unavailable and query.image_id is not None:  # as a search by its id
        body.update(_stored_answer(service.MODEL_UNAVAILABLE, query.image_id))
    return jsonify(body)


@bp.get("/images")
def images() -> Response:
    """The library, newest file first, a page at a time (``page``, ``per_page``), filtered
    by quality flags (``flag``, ``exclude_flag``)."""
    page = parse_page()
    per_page = parse_k(BROWSE_PER_PAGE, name="per_page")
    flags = parse_flags()
    hits, total = service.engine().browse((page - 1) * per_page, per_page, flags)
    return jsonify(
        {
            **(flags.to_dict() if flags else {}),
            "page": page,
            "per_page": per_page,
            "total": total,
            "pages": _pages(total, per_page),
            "results": [service.hit_json(hit) | {"score": None} for hit in hits],  # unscored
        }
    )


@bp.get("/images/<int:image_id>")
def image(image_id: int) -> Response:
    info = service.engine().records.get_image(image_id)
    if info is None:
        raise ApiError(404, f"No image with id {image_id}.")
    return jsonify(service.image_json(info))


@bp.get("/images/<int:image_id>/similar")
def similar(image_id: int) -> Response:
    eng = service.engine()
    k, min_score, flags = parse_k(DEFAULT_K), parse_min_score(), parse_flags()
    if eng.records.get_image(image_id) is None:
        raise ApiError(404, f"No image with id {image_id}.")
    # a file that failed to index: 409 as a search by its id says (it was a 404 here)
    service.require_indexed(eng, image_id, "has no similar images")
    hits = eng.similar(image_id, k=k, min_score=min_score, flags=flags)
    body: dict[str, Any] = {"id": image_id, "results": [service.hit_json(hit) for hit in hits]}
    # as a search by this id says (it said nothing)
    body.update(_stored_answer(eng.records.file_state(image_id), image_id))
    return jsonify(body)


def _stored_answer(state: str | None, image_id: int) -> dict[str, Any]:
    """What an answer from an image's stored vectors adds, its file ``state`` being
    ``"gone"``, ``"changed"`` or ``"unreadable"``: the flag and the note (what is wrong,
    what helps)."""
    if state == service.MODEL_UNAVAILABLE:
        return {"note": MODEL_UNAVAILABLE_NOTE.format(image_id=image_id)}
    if state not in STATE_FLAGS:
        return {}
    note = service.engine().records.stored_note(image_id, state)
    return {STATE_FLAGS[state]: True, "note": for_this_library(note)}


@bp.get("/images/<int:image_id>/thumbnail")
def thumbnail(image_id: int) -> Response:
    size = _thumbnail_size()
    text = request.args.get("t")
    version = request.args.get("v") or ""
    if text is None and "?t=" in version:  # `thumbnail_url?t=MS` of a versioned URL, as it
        text = version.split("?t=", 1)[1]  # was written before URLs had a version
    if text is not None:  # a video's frame at t ms (the moment a hit matched)
        at = whole_number(text)
        if at is None or at > MAX_T_MS:
            raise ApiError(
                400,
                f"t must be a time in milliseconds, a whole number from 0 to {MAX_T_MS}.",
                "bad_t",
            )
        jpeg, sha256 = service.video_frame_jpeg(image_id, at, size)
        return cache_for_version(Response(jpeg, mimetype="image/jpeg"), sha256)
    path, sha256 = service.thumbnail_path(image_id, size)
    response = send_file(path, mimetype="image/jpeg", conditional=True, etag=True)
    return cache_for_version(response, sha256)


def _download() -> bool:
    text = request.args.get("download")
    if text not in (None, "0", "1"):
        raise ApiError(400, f"'download' must be 0 or 1, got '{visible(text, 20)}'.")
    return text == "1"


def _ignore_unservable_range() -> None:
    """A ``Range`` header that is not one byte range (several ranges, garbage) is ignored and
    the whole file served, as HTTP allows, instead of 416."""
    header = request.environ.get("HTTP_RANGE")
    if header is None:
        return
    parsed = parse_range_header(header)
    if parsed is None or len(parsed.ranges) != 1:
        del request.environ["HTTP_RANGE"]


@bp.get("/images/<int:image_id>/file")
def image_file(image_id: int) -> Response:
    attachment = _download()
    found = service.library_file(service.engine(), image_id)
    path, fmt = found.path, found.format
    served = served_type(fmt, path)
    video = served.video
    if video:  # served with HTTP Range requests (conditional=True): players seek
        fmt = None
    if disk_change(path, found.size) == "changed":  # another size: not the file indexed
        raise ApiError(
            409,
            f"The file of {'video' if video else 'image'} {image_id} changed on disk since it "
            "was indexed; re-run the index.",
            "file_changed",
        )
    service.readable(path, image_id)  # permission denied: said so, not "no longer the JPEG"
    if fmt and image_format(path) != fmt:  # replaced since it was indexed: never mislabelled
        raise ApiError(
            409,
            f"The file of image {image_id} is no longer the {fmt} image that "
            "was indexed; re-run the index.",
            "file_changed",
        )
    if file_state_of(found) == "changed":  # same size, other bytes: the image page said
        raise ApiError(  # "its file changed" while this served them (a video: by its mtime)
            409,
            f"The file of image {image_id} holds other bytes than were indexed; "
            f"{update_hint(found)}.",
            "file_changed",
        )
    _ignore_unservable_range()
    response = send_file(
        path,
        mimetype=served.mimetype,
        conditional=True,
        etag=True,
        download_name=download_name(path.name),
        as_attachment=attachment or served.download_only,
    )
    return cache_for_version(response, found.sha256)


def download_name(name: str) -> str:
    """A file's name as its ``Content-Disposition`` gives it: each control or other
    unprintable character made ``_`` (a name with a newline, which a file system allows, was a
    500: HTTP headers cannot hold one)."""
    return "".join(c if c.isprintable() else "_" for c in name)


@bp.get("/stats")
def stats() -> Response:
    return jsonify(_jsonable(public_stats(service.engine().admin.stats())))


@bp.get("/labels")
def labels() -> Response:
    q = (request.args.get("q") or "").strip()
    if not q:
        raise ApiError(400, "Give a label to search for: /api/v1/labels?q=WORD.")
    k, page = parse_k(50), parse_page()
    engine = service.engine()
    hits = engine.search_labels(q, k=k, offset=(page - 1) * k)
    total = engine.records.count_labels(q)
    results = [service.hit_json(hit) for hit in hits]
    pages = _pages(total, k)
    body = {"q": q, "page": page, "total": total, "pages": pages, "results": results}
    # a plural ("ants", a folder's name) labels nothing: the singular that does, as the page
    # and `imgsearch labels` say it (the API said nothing)
    hint = None if total else singular_suggestion(q, lambda f: engine.records.count_labels(f) > 0)
    if hint is not None:
        body["hint"] = f"No image is labelled {q!r}; labels are singular: q={hint}."
        body["suggestion"] = hint
    return jsonify(body)


def _pages(total: int, per_page: int) -> int:
    """How many pages of ``per_page`` hold ``total`` results (one, empty, for none)."""
    return max(1, -(-total // per_page))


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())


def _thumbnail_size() -> int:
    text = request.args.get("size")
    if not text:
        return DEFAULT_SIZE
    size = whole_number(text)
    if size is None or size not in SIZES:
        raise ApiError(400, f"'size' must be one of {', '.join(map(str, SIZES))}.")
    return size


def _jsonable(value: Any) -> Any:
    """Stats may hold datetimes and paths: make them JSON text."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


from web import api_explore  # noqa: E402  (registers /clusters, /outliers, /map on bp)

__all__ = ["api_explore", "bp"]
