"""The HTML pages: search (upload / paste / drop, region of interest), image, library, labels.

Pages work without JavaScript (plain form posts); ``static/search.js`` adds the preview, the
region drawing, drag and drop, paste, and in-place results (it asks ``POST /search`` for the
results fragment only, with the header ``X-Requested-With: fetch``).
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import PurePath
from typing import Any

from flask import Blueprint, Flask, current_app, render_template, request

from search.errors import LibraryNotFoundError
from web import service
from web.errors import NO_LIBRARY_MESSAGE, ApiError, ErrorInfo, describe
from web.params import DEFAULT_K, MAX_K, parse_image_id, read_query

log = logging.getLogger(__name__)

bp = Blueprint("views", __name__)

SIMILAR_ON_IMAGE_PAGE = 12
NOTICE_TTL_S = 10.0
LABEL_RESULTS = 60
# The search page's modes: (value, title, form action endpoint). Reverse lookup (issue 5)
# adds ("lookup", "Find copies", "views.lookup_submit") and its view beside search_submit.
MODES: list[tuple[str, str, str]] = [("similar", "Similar images", "views.search_submit")]


def _notice() -> ErrorInfo | None:
    """Why searching cannot work right now (no library, empty library), or None.

    Library statistics take ~0.2 s at 100 k images, so a "fine" answer is kept a few seconds.
    """
    cached = current_app.extensions.get("imgsearch.notice_ok_until", 0.0)
    if time.monotonic() < cached:
        return None
    notice = _library_notice()
    if notice is None:
        current_app.extensions["imgsearch.notice_ok_until"] = time.monotonic() + NOTICE_TTL_S
    return notice


def _library_notice() -> ErrorInfo | None:
    try:
        stats = service.engine().stats()
    except LibraryNotFoundError:
        return ErrorInfo(503, "no_library", NO_LIBRARY_MESSAGE)
    except Exception as error:  # shown on the page; the page itself still renders
        info = describe(error)
        if info.status >= 500:
            log.exception("library unavailable")
        return info
    if not stats.get("vectors"):
        return ErrorInfo(
            503,
            "empty_library",
            "The library is empty: no image has been indexed yet. Run `imgsearch index PATH` "
            "on a folder of photos.",
        )
    return None


def _failure(error: Exception) -> ErrorInfo:
    info = describe(error)
    if info.code == "internal_error":
        log.exception("error on %s %s", request.method, request.path)
    return info


def _form_defaults() -> dict[str, Any]:
    return {"k": DEFAULT_K, "min_score": 0.0, "roi": "", "max_k": MAX_K}


@bp.get("/")
def search_page() -> Any:
    """The search page; ``?from=ID`` preloads a library image to draw a region on."""
    source, error = None, None
    from_text = request.args.get("from")
    if from_text:
        try:
            image_id = parse_image_id(from_text)
            source = service.engine().get_image(image_id) if image_id else None
            if source is None:
                raise ApiError(404, f"No image with id {from_text[:20]}.")
        except Exception as exc:
            error = _failure(exc)
    return render_template(
        "search.html",
        title="Search",
        notice=_notice(),
        source=source,
        error=error,
        form=_form_defaults(),
        modes=MODES,
        max_upload_bytes=current_app.config["IMGSEARCH_MAX_UPLOAD_BYTES"],
    )


@bp.post("/search")
def search_submit() -> Any:
    """Run a search from the form; the full page, or only the results for script requests."""
    hits: list[Any] = []
    took_ms = 0.0
    error: ErrorInfo | None = None
    query = None
    try:
        query = read_query(default_k=DEFAULT_K)
        hits, took_ms = service.run_search(query)
    except Exception as exc:
        error = _failure(exc)
    status = error.status if error else 200
    context = {"hits": hits, "took_ms": took_ms, "error": error, "query": query}
    if request.headers.get("X-Requested-With") == "fetch":
        return render_template("_results.html", **context), status
    source = None
    if query is not None and query.image_id is not None and error is None:
        source = service.engine().get_image(query.image_id)
    form = _form_defaults()
    if query is not None:
        form.update(
            k=query.k,
            min_score=query.min_score or 0.0,
            roi=",".join(f"{v:.4g}" for v in query.roi.as_tuple()) if query.roi else "",
        )
    return (
        render_template(
            "search.html", title="Search results", notice=None, source=source, form=form,
            modes=MODES, searched=True,
            max_upload_bytes=current_app.config["IMGSEARCH_MAX_UPLOAD_BYTES"], **context,
        ),
        status,
    )  # fmt: skip


@bp.get("/images/<int:image_id>")
def image_page(image_id: int) -> Any:
    eng = service.engine()
    info = eng.get_image(image_id)
    if info is None:
        raise ApiError(404, f"No image with id {image_id}.")
    similar: list[Any] = []
    if getattr(info, "has_vector", True) and info.status == "ok":
        similar = eng.similar(image_id, k=SIMILAR_ON_IMAGE_PAGE)
    return render_template(
        "image.html", title=PurePath(info.rel_path).name, info=info, similar=similar
    )


@bp.get("/library")
def library_page() -> Any:
    try:
        eng = service.engine()
    except LibraryNotFoundError:
        info = ErrorInfo(503, "no_library", NO_LIBRARY_MESSAGE)
        return render_template("library.html", title="Library", stats=None, notice=info), 503
    stats = eng.stats()
    failed = eng.failed(200) if stats.get("failed") else []
    return render_template("library.html", title="Library", stats=stats, failed=failed, notice=None)


@bp.get("/labels")
def labels_page() -> Any:
    q = " ".join((request.args.get("q") or "").split())[:100]
    hits: list[Any] = []
    error = None
    if q:
        try:
            hits = service.engine().search_labels(q, k=LABEL_RESULTS)
        except Exception as exc:
            error = _failure(exc)
    return (
        render_template("labels.html", title=f"Label “{q}”" if q else "Labels", q=q, hits=hits,
                        error=error, limit=LABEL_RESULTS),
        error.status if error else 200,
    )  # fmt: skip


# -- template helpers -------------------------------------------------------------------------


def percent(score: float | None) -> str:
    if score is None or not math.isfinite(score):
        return "–"
    value = max(min(float(score), 1.0), -1.0) * 100
    return f"{value:.1f}%" if value < 99.95 else "100%"


def filesize(n: int | None) -> str:
    if n is None:
        return "–"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def basename(path: str | None) -> str:
    return PurePath(path).name if path else ""


def label_text(name: str) -> str:
    return name.replace("_", " ")


def register_filters(app: Flask) -> None:
    app.add_template_filter(percent)
    app.add_template_filter(filesize)
    app.add_template_filter(basename)
    app.add_template_filter(label_text)
    app.jinja_env.globals["modes"] = MODES
