"""A client that trickles a request in (a byte every few seconds) is not idle, so waitress's
idle timeout never closed it: a security audit held 601 MiB of the server's disk in ten such
uploads for as long as they trickled, and 1,010 connections trickling headers locked everyone
out. A request that has not arrived whole after a grace period must arrive at a minimum
average rate; else it is answered 408 and its connection closed. The body limit is the
upload limit (it was twice it)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
import requests

import web.server
from search.settings import Settings
from web.app import create_app
from web.server import BackgroundServer


def _answer(conn: socket.socket) -> bytes:
    answer = b""
    while data := conn.recv(65536):
        answer += data
    return answer


@pytest.mark.parametrize("stage", ["headers", "body"])
def test_a_request_trickled_in_is_answered_408_and_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    monkeypatch.setattr(web.server, "SLOW_AFTER_S", 0.5)
    monkeypatch.setattr(web.server, "MIN_BYTES_PER_S", 2000)
    settings = Settings(library=tmp_path / "library")
    with BackgroundServer(create_app(settings), settings, threads=4) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as conn:
            head = b"POST /api/v1/search HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            if stage == "body":
                head += b"Content-Type: multipart/form-data; boundary=b\r\n"
                head += b"Content-Length: 100000\r\n\r\n"
            conn.sendall(head)
            started = time.monotonic()
            answer = b""
            while time.monotonic() - started < 10:
                try:
                    conn.sendall(b"x")
                except OSError:  # closed by the server
                    break
                time.sleep(0.2)
                conn.setblocking(False)
                try:
                    answer += conn.recv(65536)
                except BlockingIOError:
                    pass
                finally:
                    conn.setblocking(True)
                if answer:
                    break
            answer += _answer(conn)
        head_out, _, body = answer.partition(b"\r\n\r\n")
        assert head_out.split(b"\r\n")[0].endswith(b" 408 Request Timeout"), answer[:300]
        assert json.loads(body)["error"]["code"] == "too_slow"
        assert time.monotonic() - started < 5
        # the server goes on answering others
        assert requests.get(f"{server.url}/api/v1/openapi.json", timeout=30).status_code == 200


def test_the_body_limit_is_the_upload_limit() -> None:
    settings = Settings()
    server = web.server.make_server(create_app(settings), settings, port=0, threads=2)
    try:
        limit = server.adj.max_request_body_size
    finally:
        server.close()
    assert settings.max_upload_bytes < limit <= settings.max_upload_bytes + 64 * 1024
