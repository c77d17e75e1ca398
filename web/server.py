"""The production server (waitress) for the app: in the foreground (``imgsearch serve``) or
in a background thread (tests, benchmarks)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Flask
from waitress import create_server

from models.decode_memory import return_freed_memory
from search.settings import Settings
from web.params import MULTIPART_SLACK

log = logging.getLogger(__name__)


def make_server(app: Flask, settings: Settings, host: str = "127.0.0.1", port: int = 8000,
                threads: int = 8) -> Any:  # fmt: skip
    """A bound (not yet running) waitress server for ``app``; ``port=0`` picks a free one."""
    return_freed_memory()  # big decodes' buffers go back to the system once freed
    return create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        ident="imgsearch",
        # waitress refuses absurd bodies itself; Flask answers ordinary oversize ones with 413
        max_request_body_size=2 * settings.max_upload_bytes + MULTIPART_SLACK,
        clear_untrusted_proxy_headers=True,
        channel_timeout=60,
    )


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

    def __init__(self, app: Flask, settings: Settings, *, port: int = 0, threads: int = 8):
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
        except ValueError:  # select() on a closed descriptor
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
