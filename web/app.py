"""The Flask application factory: one shared engine, two blueprints, strict headers."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, redirect, url_for
from threadpoolctl import threadpool_limits
from werkzeug.routing import IntegerConverter, Map

from search.index import set_threads
from search.library import ThumbnailCache
from search.query import MAX_IMAGE_ID
from search.settings import Settings
from web import api, errors, guard, limits, media_urls, present, views
from web.multipart import read_any_part_names
from web.params import MULTIPART_SLACK, InMemoryRequest
from web.state import EngineHolder

if TYPE_CHECKING:
    from search.query import SearchEngine

log = logging.getLogger(__name__)

# FAISS's OpenMP thread count is per calling thread. One query per request needs no team of
# threads: on a busy machine, a team waiting for its cores made a 10 k flat search 20x slower
# (40 ms instead of 2 ms, 2 cores). Request threads give the parallelism instead.
FAISS_THREADS_PER_REQUEST = 1
# ONNX Runtime's intra-op threads likewise: one query's model pass in two threads cost 30-45 %
# more CPU than in one (batch of 1: 4.4 vs 3.0 ms, of 3 turned views: 10.3-11.4 vs 7.9 ms,
# load 7, 2 cores) and was no faster on a busy machine; a served search took 35.1 -> 30.7 ms
# CPU with every view (bench/README.md, "Third round").
ONNX_THREADS_PER_REQUEST = 1
_thread_state = threading.local()
# Pages are revalidated on every load but not "no-store": a no-store page never enters the
# browser's back/forward cache, so Back from a result's page lost the search (the query image
# and its results: they live in the page, not in its URL). JSON stays out of every cache.
_CACHE_CONTROL = {"text/html": "private, no-cache", "application/json": "no-store"}


def serving_settings(settings: Settings) -> Settings:
    """``settings`` as a server runs its engine: the model in
    :data:`ONNX_THREADS_PER_REQUEST` intra-op thread(s) unless ``settings.threads`` names a
    count (0, the default, would use every core for each query)."""
    if settings.threads:
        return settings
    return replace(settings, threads=ONNX_THREADS_PER_REQUEST)


def one_blas_thread() -> None:
    """numpy's BLAS in one thread for the whole serving process. A query's products are
    small (a few hundred candidate rows through the 1024 x 128 whitening): two BLAS threads
    made each one wait for a second core on a busy machine (whitening 150 rows: p50 26-48 ms
    instead of 0.5 ms at load 13, 2 cores; ``bench/README.md``). Request threads give the
    parallelism instead, as for FAISS above."""
    threadpool_limits(limits=1, user_api="blas")


CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",  # the preview of a clip chosen for a search
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
MEDIA_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "img-src 'self'",
        "media-src 'self'",
        # a picture or clip opened on its own ("Open original"): the browser's own viewer
        # styles it inline (Chrome's centring and zoom); the pages' policy blocked that and
        # the picture sat at the top left. Nothing else may load, no script runs.
        "style-src 'unsafe-inline'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


class ImageIdConverter(IntegerConverter):
    """``<int:...>`` in routes: ids above what SQL stores match no route (404, not 500)."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_IMAGE_ID)
        super().__init__(url_map, *args, **kwargs)


def create_app(
    settings: Settings,
    engine: SearchEngine | None = None,
    *,
    trusted_hosts: list[str] | None = None,
    token: str | None = None,
    exposed: bool = False,
) -> Flask:
    """Build the web app for the library of ``settings``.

    ``engine`` (a ``search.query.engine.SearchEngine``) is shared by every request thread; without
    one the library is opened now, or (while there is none yet) on a later request.
    ``trusted_hosts`` limits the accepted ``Host`` headers (the server passes the loopback
    names when bound to loopback, which defeats DNS-rebinding pages). ``token``, when given,
    is required of every request (see :mod:`web.guard`); ``exposed`` (serving the network)
    also admits IP-literal hosts and hides absolute paths from clients.
    """
    one_blas_thread()
    settings = serving_settings(settings)
    app = Flask(__name__)
    app.request_class = InMemoryRequest
    read_any_part_names()  # a file name not in UTF-8 is a label, not a reason to drop the form
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + MULTIPART_SLACK,
        MAX_FORM_MEMORY_SIZE=1024 * 1024,  # per non-file field (and parser buffer)
        MAX_FORM_PARTS=1000,
        IMGSEARCH_MAX_UPLOAD_BYTES=settings.max_upload_bytes,
        JSON_SORT_KEYS=False,
        SEND_FILE_MAX_AGE_DEFAULT=3600,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.compact = True  # type: ignore[attr-defined]
    holder = EngineHolder(settings, engine)
    if engine is None and not holder.try_open():
        log.warning("no library at %s yet; serving 503 until one is indexed", settings.library)
    app.extensions["imgsearch"] = holder
    app.extensions["imgsearch.thumbnails"] = ThumbnailCache.of_library(
        settings.thumbnail_dir,
        read_only=settings.read_only or holder.read_only(),
        max_pixels=settings.max_image_pixels,
    )
    app.extensions["imgsearch.settings"] = settings
    app.url_map.converters["int"] = ImageIdConverter  # before the routes are added
    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)
    errors.register(app)
    guard.install(app, hosts=trusted_hosts, token=token, exposed=exposed)  # Host checked here
    limits.install(app, settings)
    present.register_filters(app)
    media_urls.register(app)  # the templates' thumb_url() and file_url()

    @app.get("/favicon.ico")
    def favicon() -> Response:
        """What a browser asks for on a page without a ``<link rel="icon">`` (the OpenAPI
        document the footer links to): the pages' icon, not a 404 in the console."""
        return redirect(url_for("static", filename="favicon.svg"), 301)

    @app.before_request
    def one_faiss_thread_per_request() -> None:
        if not getattr(_thread_state, "faiss_threads_set", False):
            set_threads(FAISS_THREADS_PER_REQUEST)
            _thread_state.faiss_threads_set = True

    @app.after_request
    def security_headers(response: Response) -> Response:
        if response.mimetype.startswith(("image/", "video/")):
            response.headers.setdefault("Content-Security-Policy", MEDIA_SECURITY_POLICY)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if response.mimetype in ("text/html", "application/json"):
            response.headers.setdefault("Cache-Control", _CACHE_CONTROL[response.mimetype])
        return response

    return app
