"""Requests in flight: image queries (multipart parsing, decoding, embedding) run a few at a
time, so the server's memory is bounded whatever the uploads hold; a few more wait, then get
503 "busy" with ``Retry-After``.

Two bounds keep a burst of queries from stalling everything else. The wait counts from when
the request had arrived whole (the server stamps it, :data:`ARRIVED_KEY`), so time spent
queued for a request thread is part of it. And at most ``IMGSEARCH_QUERIES_WAITING`` (the
server's request threads less the running queries less :data:`THREADS_KEPT_FOR_PAGES`) wait
for a slot: any more are told "busy" at once, so that pages, thumbnails and the JSON reads
always find a free thread instead of queueing behind uploads. The GETs that run such a
query (a library image's similar images, its page) take a slot as the POSTs do.
"""

from __future__ import annotations

import threading
import time

from flask import Flask, Response, current_app, g, request

from search.settings import Settings
from web.errors import ApiError

#: the endpoints that decode an image (an upload or a library file) and run the model
IMAGE_QUERY_ENDPOINTS = frozenset(
    {"api.search", "api.lookup", "views.search_submit", "views.lookup_submit"}
)
#: the GETs that run such a query too: a library image's similar images (the API, and its
#: page's neighbours), asked with its file and views as a search is
IMAGE_QUERY_GETS = frozenset({"api.similar", "views.image_page"})
RETRY_AFTER_S = 2
#: WSGI environ key: ``time.monotonic()`` when the request had arrived whole (web.server)
ARRIVED_KEY = "imgsearch.arrived"
#: request threads image queries never take, waiting or running (pages stay responsive)
THREADS_KEPT_FOR_PAGES = 2
#: app.config key: how many image queries may wait for a slot (unset: no bound but the time)
WAITING_CONFIG = "IMGSEARCH_QUERIES_WAITING"


def queries_waiting(settings: Settings, request_threads: int) -> int:
    """How many image queries may wait for a slot when the server has ``request_threads``."""
    running = max(1, settings.max_queries_in_flight)
    return max(0, request_threads - running - THREADS_KEPT_FOR_PAGES)


def is_image_query() -> bool:
    """Does this request run an image query (its file decoded, the model run)?"""
    if request.method == "POST":
        return request.endpoint in IMAGE_QUERY_ENDPOINTS
    return request.method in ("GET", "HEAD") and request.endpoint in IMAGE_QUERY_GETS


def _busy() -> ApiError:
    return ApiError(
        503, "The server is busy with other image queries; try again in a moment.", "busy"
    )


def install(app: Flask, settings: Settings) -> None:
    """Bound the image queries in flight to ``settings.max_queries_in_flight``."""
    slots = threading.BoundedSemaphore(max(1, settings.max_queries_in_flight))
    wait_s = max(0.0, settings.query_wait_s)
    lock = threading.Lock()
    waiting = 0

    @app.before_request
    def take_a_query_slot() -> None:
        nonlocal waiting
        if not is_image_query():
            return
        if not slots.acquire(blocking=False):
            arrived = request.environ.get(ARRIVED_KEY)
            left = wait_s - (time.monotonic() - arrived if arrived is not None else 0.0)
            bound = current_app.config.get(WAITING_CONFIG)
            with lock:
                if left <= 0 or (bound is not None and waiting >= bound):
                    raise _busy()
                waiting += 1
            try:
                taken = slots.acquire(timeout=left)
            finally:
                with lock:
                    waiting -= 1
            if not taken:
                raise _busy()
        g.imgsearch_query_slot = True

    @app.teardown_request
    def give_the_slot_back(_error: BaseException | None) -> None:
        if g.pop("imgsearch_query_slot", False):
            slots.release()

    @app.after_request
    def retry_after(response: Response) -> Response:
        if response.status_code == 503:
            response.headers.setdefault("Retry-After", str(RETRY_AFTER_S))
        return response
