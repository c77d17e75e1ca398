"""The production server (waitress) for the app: in the foreground (``imgsearch serve``) or
in a background thread (tests, benchmarks)."""

from __future__ import annotations

import html
import json
import logging
import resource
import threading
import time
from typing import Any

from flask import Flask
from waitress import create_server
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.task import ErrorTask, WSGITask
from waitress.utilities import Error

from models import return_freed_memory
from search.settings import Settings
from web.limits import ARRIVED_KEY, WAITING_CONFIG, queries_waiting
from web.params import MULTIPART_SLACK
from web.text import human_size

log = logging.getLogger(__name__)

CONNECTION_LIMIT = 1000  # open connections (waitress's default, 100, is 100 slow clients)
CHANNEL_TIMEOUT_S = 20  # a connection idle this long is closed
CLEANUP_INTERVAL_S = 5  # how often idle connections are looked for
#: a request that has not arrived whole after this long must average MIN_BYTES_PER_S
SLOW_AFTER_S = 10.0
MIN_BYTES_PER_S = 16 * 1024  # 32 MiB in ~35 min; a link of 0.13 Mbit/s


def make_server(
    app: Flask, settings: Settings, host: str = "127.0.0.1", port: int = 8000, threads: int = 16
) -> Any:
    """A bound (not yet running) waitress server for ``app``; ``port=0`` picks a free one."""
    return_freed_memory()  # big decodes' buffers go back to the system once freed
    app.config[WAITING_CONFIG] = queries_waiting(settings, threads)
    holder = app.extensions.get("imgsearch")
    if holder is not None:  # an idle server picks up a new index by itself (web.state)
        holder.poll()
    _allow_connections(CONNECTION_LIMIT + 64)
    server = create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        ident="imgsearch",
        # waitress refuses absurd bodies itself; Flask answers ordinary oversize ones with 413
        max_request_body_size=settings.max_upload_bytes + MULTIPART_SLACK,
        clear_untrusted_proxy_headers=True,
        # Slow clients: many open connections are cheap (waitress polls: no 1024-socket limit),
        # idle ones are closed after CHANNEL_TIMEOUT_S, checked every few seconds. A client
        # that trickles bytes forever is not idle: put a reverse proxy in front (README).
        connection_limit=CONNECTION_LIMIT,
        channel_timeout=CHANNEL_TIMEOUT_S,
        cleanup_interval=CLEANUP_INTERVAL_S,
        asyncore_use_poll=True,
        backlog=1024,
    )
    for listener in [server, *getattr(server, "map", {}).values()]:
        if hasattr(listener, "channel_class"):
            listener.channel_class = JsonErrorChannel
    return server


#: the page's forms post here: their errors are pages (the API's, and any other, JSON)
PAGE_FORMS = ("/search", "/lookup")


class JsonErrorTask(ErrorTask):
    """waitress's own error answers (a chunked body over the limit, a bad request line...)
    in the API's JSON shape instead of plain text."""

    def execute(self) -> None:
        error = self.request.error
        code = {
            413: "too_large",
            400: "bad_request",
            408: "too_slow",
            431: "headers_too_large",
        }.get(error.code, "error")
        message = f"{error.reason}: {error.body}".rstrip(": ")
        if error.code == 413:  # the limit as the app says it (the page said no figure)
            body_limit = int(self.channel.server.adj.max_request_body_size) - MULTIPART_SLACK
            message = f"Upload too large: the limit is {human_size(body_limit)}."
        if getattr(self.request, "path", None) not in PAGE_FORMS:  # the API's, or unknown yet
            payload = {"error": {"status": error.code, "code": code, "message": message}}
            body, kind = json.dumps(payload, separators=(",", ":")), "application/json"
        else:  # a page's form (/search, /lookup): a page, as the app's own errors there
            body, kind = _error_page(error.code, error.reason, code, message), "text/html"
        self.status = f"{error.code} {error.reason}"
        self.response_headers.extend(
            [("Content-Type", f"{kind}; charset=utf-8"), ("X-Content-Type-Options", "nosniff")]
        )
        self.set_close_on_finish()
        self.content_length = len(body.encode())
        self.write(body.encode())


def _error_page(status: int, reason: str, code: str, message: str) -> str:
    """A minimal page for an error waitress answers before the app sees the request."""
    text = html.escape(message)
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{status} '
        f"{html.escape(reason)} - imgsearch</title>"
        '<link rel="stylesheet" href="/static/app.css"></head><body><main><h1>'
        f"{status} "
        f'{html.escape(reason)}</h1><p class="alert" data-code="{code}">{text}</p>'
        '<p><a href="/">Back to the search page</a></p></main></body></html>'
    )


class RequestTimeout(Error):
    code = 408
    reason = "Request Timeout"


class StampedParser(HTTPRequestParser):
    """waitress's request parser, noting when the request had arrived whole: the app counts
    an image query's wait for a slot from then (queued for a request thread included).

    A request that trickles in (headers or body under :data:`MIN_BYTES_PER_S` on average
    once :data:`SLOW_AFTER_S` have passed) is answered 408 and its connection closed: it
    held a request slot and up to the body limit of disk for as long as it kept sending a
    byte now and then (a connection is idle only when it sends nothing)."""

    arrived: float | None = None
    started: float | None = None
    seen: int = 0

    def received(self, data: bytes) -> int:
        now = time.monotonic()
        if self.started is None:
            self.started = now
        consumed = super().received(data)
        self.seen += consumed
        if self.completed and self.arrived is None:
            self.arrived = now
        elapsed = now - self.started
        if not self.completed and elapsed > SLOW_AFTER_S and self.seen < MIN_BYTES_PER_S * elapsed:
            if self.body_rcv is None:  # still in the headers: as waitress does for too long ones
                self.parse_header(b"GET / HTTP/1.0\r\n")
            self.error = RequestTimeout(
                f"the request arrived at {self.seen / elapsed:.0f} bytes/s, under the "
                f"{MIN_BYTES_PER_S} bytes/s the server waits for"
            )
            self.completed = True
        return consumed


class StampedTask(WSGITask):
    """Puts the parser's stamp in the WSGI environ (:data:`web.limits.ARRIVED_KEY`)."""

    def get_environment(self) -> dict[str, Any]:
        environ = super().get_environment()
        arrived = getattr(self.request, "arrived", None)
        environ.setdefault(ARRIVED_KEY, time.monotonic() if arrived is None else arrived)
        return environ


class JsonErrorChannel(HTTPChannel):
    error_task_class = JsonErrorTask
    parser_class = StampedParser
    task_class = StampedTask


def _allow_connections(count: int) -> None:
    """Raise the open-file limit (soft, up to the hard one) so ``count`` sockets fit."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = count + 256
        if soft != resource.RLIM_INFINITY and soft < wanted:
            top = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (top, hard))
    except (ValueError, OSError) as error:  # keep the limit we have
        log.warning("cannot raise the open-file limit: %s", error)


def warm_up(app: Flask) -> None:
    """Load the model and the vector index now, so the first search is as fast as the rest."""
    engine = app.extensions["imgsearch"].engine
    if engine is None:
        return
    try:
        engine.analyzer  # noqa: B018 - loads the ONNX model
        engine.library.index()
    except Exception as error:  # the server still starts; requests will report the problem
        log.warning("could not load the model or index at start-up: %s", error)


class BackgroundServer:
    """Serve ``app`` on 127.0.0.1 from a daemon thread; a context manager that stops it."""

    def __init__(self, app: Flask, settings: Settings, *, port: int = 0, threads: int = 16):
        self.app = app
        self.server = make_server(app, settings, "127.0.0.1", port, threads)
        self.port = int(self.server.effective_port)
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._run, name="imgsearch-http", daemon=True)

    def _run(self) -> None:
        try:
            self.server.run()
        except OSError:  # the socket was closed under the loop by stop()
            pass
        except ValueError:  # polling a closed descriptor
            pass

    def start(self) -> BackgroundServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.close()
        self._thread.join(timeout=10)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
