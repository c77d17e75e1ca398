"""Requests in flight: image queries (multipart parsing, decoding, embedding) run a few at a
time, so the server's memory is bounded whatever the uploads hold; the others wait a little,
then get 503 "busy" with ``Retry-After``.
"""

from __future__ import annotations

import threading

from flask import Flask, Response, g, request

from search.settings import Settings
from web.errors import ApiError

#: the endpoints that decode an image (an upload or a library file) and run the model
IMAGE_QUERY_ENDPOINTS = frozenset(
    {"api.search", "api.lookup", "views.search_submit", "views.lookup_submit"}
)
RETRY_AFTER_S = 2


def install(app: Flask, settings: Settings) -> None:
    """Bound the image queries in flight to ``settings.max_queries_in_flight``."""
    slots = threading.BoundedSemaphore(max(1, settings.max_queries_in_flight))
    wait_s = max(0.0, settings.query_wait_s)

    @app.before_request
    def take_a_query_slot() -> None:
        if request.method != "POST" or request.endpoint not in IMAGE_QUERY_ENDPOINTS:
            return
        if not slots.acquire(timeout=wait_s):
            raise ApiError(
                503,
                "The server is busy with other image queries; try again in a moment.",
                "busy",
            )
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
