"""Issue 15 item 3: slow clients must not block the server. 150 connections that trickle
their headers and 150 that trickle their bodies (bounded, local) are held open against a real
`imgsearch serve`; ordinary requests are still answered at once."""

from __future__ import annotations

import contextlib
import shutil
import socket
import time
from pathlib import Path

import pytest
import requests

from tests.served import run_cli, serve

pytestmark = pytest.mark.slow

SLOW_HEADERS = 150
SLOW_BODIES = 150


def _slow_connections(port: int) -> list[socket.socket]:
    held = []
    for n in range(SLOW_HEADERS + SLOW_BODIES):
        conn = socket.create_connection(("127.0.0.1", port), timeout=10)
        if n < SLOW_HEADERS:
            conn.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        else:
            conn.sendall(
                b"POST /api/v1/search HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: multipart/form-data; boundary=x\r\n"
                b"Content-Length: 1000000\r\n\r\n--x\r\n"
            )
        held.append(conn)
    return held


def test_slow_clients_do_not_block_other_requests(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for src in sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[:3]:
        shutil.copyfile(src, photos / src.name)
    made = run_cli(tmp_path / "lib", models_dir, "index", "--no-progress", str(photos))
    assert made.returncode == 0, made.stderr
    with serve(tmp_path / "lib", models_dir) as served:
        port = int(served.url.rsplit(":", 1)[1])
        held = _slow_connections(port)
        try:
            for _ in range(3):  # the slow ones trickle on; others are answered meanwhile
                for conn in held[::10]:
                    with contextlib.suppress(OSError):
                        conn.sendall(b"a")
                started = time.monotonic()
                answer = requests.get(f"{served.url}/api/v1/stats", timeout=10)
                assert answer.status_code == 200
                assert time.monotonic() - started < 5
                search = requests.post(
                    f"{served.url}/api/v1/search", data={"image_id": "1", "k": "2"}, timeout=10
                )
                assert search.status_code == 200
        finally:
            for conn in held:
                conn.close()
        assert "Traceback" not in served.output
