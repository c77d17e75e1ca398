"""The HTML pages: search (upload / paste / drop, region of interest) and reverse lookup
("find copies"), image, library, browse (the explore pages: views_explore; labels:
views_labels; the live camera page: views_live).

Pages work without JavaScript (plain form posts); ``static/search.js`` (an ES module with
``search-photo.js``, ``search-region.js`` and ``search-submit.js``) adds the preview, the
region drawing, drag and drop, paste, and in-place results (it asks ``POST /search`` or
``POST /lookup`` for the results fragment only, with the header ``X-Requested-With: fetch``).
"""

from __future__ import annotations

import logging
import time
from pathlib import PurePath
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from search.query import UNREADABLE_FIX, flag_name_list
from search.store import LibraryNotFoundError, ReindexingError
from web import query_source, service
from web.errors import (
    EMPTY_LIBRARY_DETAIL,
    EMPTY_LIBRARY_TITLE,
    NO_LIBRARY_MESSAGE,
    ApiError,
    ErrorInfo,
    describe,
    from_error,
    page_error,
)
from web.fields import refuse_unknown_args
from web.guard import public_stats
from web.params import (
    BROWSE_PER_PAGE,
    CALIBRATED,
    DEFAULT_K,
    DEFAULT_OTHERS,
    FIXED,
    MAX_K,
    MAX_OTHERS,
    parse_flags,
    parse_image_id,
    parse_page,
    read_lookup,
    read_query,
)
from web.present import match_groups
from web.text import visible

log = logging.getLogger(__name__)

bp = Blueprint("views", __name__)

SIMILAR_ON_IMAGE_PAGE = 12
NOTICE_TTL_S = 10.0
MIN_THRESHOLD = 0.05  # the lookup slider's lowest copy score (whitened libraries: ~0.3-0.4)
# The search page's modes: (value, title, form action endpoint). Without JavaScript the form
# posts to the action of the mode the page was rendered in, and each view hands a request
# for the other mode (the radio button's ``mode`` field) over to the other view.
MODES: list[tuple[str, str, str]] = [
    ("similar", "Similar images", "views.search_submit"),
    ("lookup", "Find copies", "views.lookup_submit"),
]
MODE_NAMES = [value for value, _title, _endpoint in MODES]


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
        eng = service.engine()
        stats = eng.admin.stats()
        if not stats.get("vectors"):  # the vectors a re-index dropped: no empty library
            service.check_serving(eng)
    except LibraryNotFoundError:
        return ErrorInfo(503, "no_library", NO_LIBRARY_MESSAGE)
    except Exception as error:  # shown on the page; the page itself still renders
        info = describe(error)
        if info.code == "internal_error":  # a fault: its traceback; else what it is, in a line
            log.exception("library unavailable")
        elif info.status >= 500:
            log.warning("library unavailable: %s: %s", info.code, error)
        return info
    if not stats.get("vectors"):
        return ErrorInfo(503, "empty_library", f"{EMPTY_LIBRARY_TITLE}: {EMPTY_LIBRARY_DETAIL}")
    return None


def _form_defaults(mode: str = "similar") -> dict[str, Any]:
    """The form's values: the lookup starts with the library's default decision (calibrated
    unless a threshold is configured), its copy score as the slider's starting value."""
    decision = service.default_decision()
    return {
        "mode": mode,
        "k": DEFAULT_K,
        "min_score": 0.0,
        "roi": "",
        "exclude_flag": "",
        "max_k": MAX_K,
        "decision": decision,
        "threshold_mode": CALIBRATED,
        "threshold": decision.threshold,
        "min_threshold": MIN_THRESHOLD,
        "others": DEFAULT_OTHERS,
        "max_others": MAX_OTHERS,
    }


def _posted_mode(default: str) -> str:
    mode = request.form.get("mode")
    return mode if mode in MODE_NAMES else default


def _page(status: int = 200, **context: Any) -> Any:
    """The search page (its form, the query image, maybe results) with ``status``."""
    context.setdefault("title", "Search")
    context.setdefault("notice", None)
    mode = context["form"]["mode"]
    action = url_for(next(endpoint for value, _t, endpoint in MODES if value == mode))
    max_bytes = current_app.config["IMGSEARCH_MAX_UPLOAD_BYTES"]
    return render_template(
        "search.html", modes=MODES, max_upload_bytes=max_bytes, form_action=action, **context
    ), status


@bp.get("/")
def search_page() -> Any:
    """The search page; ``?from=ID`` preloads a library image (to draw a region on, or to
    find copies of), ``?mode=lookup`` opens it in reverse-lookup mode. Any other parameter,
    or one given twice, is a 400 page naming it, as the other pages' (``?k=5`` was ignored)."""
    source, error, notice, status = None, None, _notice(), 200
    try:
        refuse_unknown_args(("from", "mode"))
    except ApiError as exc:
        error, status = page_error(exc), exc.status
    from_text = request.args.get("from")
    if from_text and notice is None and status == 200:  # no library: the notice says so, once
        try:
            source = query_source.query_image(parse_image_id(from_text), from_text)
        except Exception as exc:  # the page says why, with the API's status for that image
            error = from_error(page_error(exc), from_text)
            status = error.status
    mode = request.args.get("mode")
    if status == 200 and mode is not None and mode not in MODE_NAMES:  # was "similar" in silence
        names = ", ".join(MODE_NAMES)
        error = page_error(ApiError(400, f"'mode' must be one of {names}, got '{visible(mode)}'."))
        status = 400
    form = _form_defaults(mode if mode in MODE_NAMES else "similar")
    return _page(status, notice=notice, source=source, error=error, form=form)


@bp.get("/search")
@bp.get("/lookup")
def search_address() -> Any:
    """The address a search's results were posted to, opened again (a bookmark, a reload of
    a form sent without scripts, a typed link): the search page in that mode, not a 405;
    a library image named in it (``id``, ``image_id`` or ``from``) is loaded as the query."""
    mode = "lookup" if request.path.endswith("/lookup") else None
    named = next((request.args[k] for k in ("from", "image_id", "id") if request.args.get(k)), None)
    start = {"from": named} if named else {}
    return redirect(url_for("views.search_page", mode=mode, **start), 303)


@bp.post("/search")
def search_submit() -> Any:
    """Run a search from the form; the full page, or only the results for script requests."""
    if _posted_mode("similar") != "similar":
        return lookup_submit()
    hits: list[Any] = []
    took_ms = 0.0
    error: ErrorInfo | None = None
    query = None
    try:
        query = read_query(default_k=DEFAULT_K, strict=False)
        stored = service.stored_search(query)  # a deleted or changed file's id: as the API
        hits, took_ms = stored[:2] if stored is not None else service.run_search(query)
    except Exception as exc:
        error = page_error(exc)
        stored = None
    status = error.status if error else 200
    context = {"hits": hits, "took_ms": took_ms, "error": error, "query": query}
    context["from_stored"] = stored[2] if stored is not None else None  # "gone" / "changed"
    clip = query is not None and not error and service.only_itself(hits, query)
    context["clip"] = service.clip_note(query) if clip else None
    notice = _notice() if not hits and error is None else None  # nothing to find: not "lower..."
    context["empty_library"] = notice is not None and notice.code == "empty_library"
    if request.headers.get("X-Requested-With") == "fetch":
        return render_template("_results.html", **context), status
    form = _form_defaults()
    if query is not None:
        form.update(
            k=query.k,
            min_score=query.min_score or 0.0,
            roi=query.roi.text() if query.roi else "",
            exclude_flag=request.form.get("exclude_flag", ""),
        )
    return _page(
        status,
        title="Search results",
        source=_source(query, error),
        form=form,
        searched=True,
        **context,
    )


@bp.post("/lookup")
def lookup_submit() -> Any:
    """Reverse lookup from the form: exact copies, near-duplicates, then the nearest others,
    in three labelled sections (the full page, or the results only for script requests)."""
    if _posted_mode("lookup") != "lookup":
        return search_submit()
    result = None
    took_ms = 0.0
    error: ErrorInfo | None = None
    query = None
    try:
        query = read_lookup(strict=False)  # the form also sends the search-only fields
        result, took_ms = service.run_lookup(query)
    except Exception as exc:
        error = page_error(exc)
    status = error.status if error else 200
    context = {
        "result": result,
        "groups": match_groups(result, of_library=query is not None and query.image_id is not None),
        "took_ms": took_ms,
        "error": error,
        "query": query,
    }
    if request.headers.get("X-Requested-With") == "fetch":
        return render_template("_lookup_results.html", **context), status
    form = _form_defaults("lookup")
    if query is not None:
        form.update(others=query.others)
        if query.threshold is not None:
            form.update(threshold=query.threshold, threshold_mode=FIXED)
    return _page(
        status,
        title="Lookup results",
        source=_source(query, error),
        form=form,
        searched=True,
        results_template="_lookup_results.html",
        **context,
    )


def _source(query: Any, error: ErrorInfo | None) -> Any:
    """The library image a query was made with (shown again in the form), or None."""
    if query is None or query.image_id is None or error is not None:
        return None
    return service.engine().records.get_image(query.image_id)


@bp.get("/images/<int:image_id>")
def image_page(image_id: int) -> Any:
    refuse_unknown_args(())  # ?foo=1 is a 400 page, as Browse's (it was ignored)
    eng = service.engine()
    info = eng.records.get_image(image_id)
    if info is None:
        raise ApiError(404, f"No image with id {image_id}.")
    similar: list[Any] = []
    held = None  # why its similar images are not shown: a re-index (hours on a large library)
    if getattr(info, "has_vector", True) and info.status == "ok":
        try:
            similar = eng.similar(image_id, k=SIMILAR_ON_IMAGE_PAGE)
        except ReindexingError as exc:  # the page was a 503: its file, labels, stats are there
            held = describe(exc).message
    return render_template(
        "image.html",
        title=PurePath(info.rel_path).name,
        info=info,
        similar=similar,
        file_problem=(problem := eng.records.file_problem(info)),
        update_command=eng.records.update_command(info) if problem else None,
        unreadable_fix=UNREADABLE_FIX,  # when no run of the index helps
        not_indexed=info.status != "ok",  # a failed file: no picture, vector or labels
        similar_held=held,
    )


@bp.get("/library")
def library_page() -> Any:
    refuse_unknown_args(())  # ?x=1 is a 400 page, as on the other pages (it was ignored)
    try:
        eng = service.engine()
    except LibraryNotFoundError:
        info = ErrorInfo(503, "no_library", NO_LIBRARY_MESSAGE)
        return render_template("library.html", title="Library", stats=None, notice=info), 503
    stats = public_stats(eng.admin.stats())
    failed = eng.admin.failed(200) if stats.get("failed") else []
    notice = None if stats.get("vectors") else _library_notice()  # re-indexing, or empty
    shown = notice if notice is not None and notice.code == "reindexing" else None
    return render_template(
        "library.html", title="Library", stats=stats, failed=failed, notice=shown
    )


@bp.get("/browse")
def browse_page() -> Any:
    """The whole library, newest file first, a page of cards at a time (``page``), filtered
    by quality flags (``flag``, ``exclude_flag``)."""
    hits: list[Any] = []
    total, page = 0, 1
    notice, error = _notice(), None
    shown = {  # as asked ("any" stays "any"), for the form and the pager's links
        name: flag_name_list(request.args.getlist(name)) for name in ("flag", "exclude_flag")
    }
    if notice is None:
        try:
            refuse_unknown_args(("page", "flag", "exclude_flag"))
            page = parse_page()
            start, flags = (page - 1) * BROWSE_PER_PAGE, parse_flags()
            hits, total = service.engine().browse(start, BROWSE_PER_PAGE, flags)
        except Exception as exc:
            error = page_error(exc)
    pages = -(-total // BROWSE_PER_PAGE)  # 0 when nothing matches: no pager ("Page 2 of 1")
    return render_page(
        "browse.html",
        "Browse",
        error,
        flag=shown["flag"],
        exclude_flag=shown["exclude_flag"],
        filters={name: ",".join(v) for name, v in shown.items() if v},
        hits=hits,
        total=total,
        page=page,
        pages=pages,
        notice=notice,
    )


def render_page(template: str, title: str, error: ErrorInfo | None, **context: Any) -> Any:
    """A page and its status: the error's, else 404 for a page past the last of a paged
    list (``page`` > ``pages`` >= 1: it says so and links the first and last pages), else
    200 (a notice is a page like any other)."""
    page, pages = context.get("page", 1), context.get("pages", 0)
    past_end = error is None and pages >= 1 and page > pages
    status = error.status if error else 404 if past_end else 200
    return render_template(template, title=title, error=error, **context), status


from web import views_explore, views_labels, views_live  # noqa: E402  (register /clusters, /outliers, /map, /labels, /live on bp)

__all__ = ["bp", "views_explore", "views_labels", "views_live"]
