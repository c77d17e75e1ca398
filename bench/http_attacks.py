"""Hostile-traffic scenarios for ``bench/http.py`` (bounded, local: 127.0.0.1 only, every loop
stops by itself).

* **slow clients**: ``--slow`` connections (half trickling headers, half trickling a body)
  are held open while ordinary searches run; printed: their latency and errors.
* **8 hostile uploads**: small files that decode to ~9400x9400 images (16-bit greyscale,
  RGBA, palette, float TIFF) posted by 8 clients at once, ``--rounds`` times; printed: the
  answers by status, 5xx, and the server's peak RSS (psutil, every 10 ms).
* **a burst**: ``--burst`` searches of a 5000 x 5000 PNG (small on the wire, slow to decode)
  posted at once while a client reads the home page and the stats; printed: the answers by
  status, the slowest of each, and the slowest page (pages must not queue behind uploads).
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from tests.hostile import PeakRss, make_memory_bombs, slow_png

RSS_GOAL_MIB = 1536


def _post(port: int, body: bytes, content_type: str, timeout: float = 120) -> tuple[int, float]:
    return _request(port, "POST", "/api/v1/search", body, content_type, timeout)


def _request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    content_type: str | None = None,
    timeout: float = 120,
) -> tuple[int, float]:
    """(HTTP status, or 0 when the connection failed; milliseconds)."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": content_type} if content_type else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status, (time.perf_counter() - started) * 1000.0
    except OSError:
        return 0, (time.perf_counter() - started) * 1000.0
    finally:
        conn.close()


def _multipart(data: bytes, name: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="k"\r\n\r\n3\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; '
        f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    body += data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def slow_clients(
    port: int, body: tuple[bytes, str], slow: int = 300, requests: int = 30
) -> dict[str, float]:
    """Ordinary searches while ``slow`` connections trickle bytes (bounded: ``requests``)."""
    held: list[socket.socket] = []
    try:
        for n in range(slow):
            conn = socket.create_connection(("127.0.0.1", port), timeout=10)
            conn.sendall(
                b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
                if n % 2 == 0
                else b"POST /api/v1/search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                b"multipart/form-data; boundary=x\r\nContent-Length: 1000000\r\n\r\n"
            )
            held.append(conn)
        latencies, errors = [], 0
        for n in range(requests):
            for conn in held[n % 10 :: 10]:
                with contextlib.suppress(OSError):
                    conn.sendall(b"a")
            status, ms = _post(port, *body, timeout=15)
            latencies.append(ms)
            errors += status != 200
    finally:
        for conn in held:
            conn.close()
    lat = np.asarray(latencies)
    return {
        "slow": slow,
        "requests": requests,
        "errors": errors,
        "p50_ms": float(np.percentile(lat, 50)),
        "max_ms": float(lat.max()),
    }


def hostile_uploads(
    port: int, pid: int, clients: int = 8, rounds: int = 2, side: int = 9400
) -> dict[str, object]:
    """``clients`` memory-bomb uploads at once, ``rounds`` times; the server's peak RSS."""
    with tempfile.TemporaryDirectory(prefix="imgsearch-bombs-") as tmp:
        files = make_memory_bombs(Path(tmp), side)
        bodies = [_multipart(p.read_bytes(), p.name) for p in files]
    statuses: Counter[int] = Counter()
    started = time.perf_counter()
    with PeakRss(pid) as rss, ThreadPoolExecutor(clients) as pool:
        for _ in range(rounds):
            jobs = [bodies[i % len(bodies)] for i in range(clients)]
            for status, _ms in pool.map(lambda b: _post(port, *b), jobs):
                statuses[status] += 1
    return {
        "uploads": clients * rounds,
        "statuses": dict(sorted(statuses.items())),
        "5xx_other_than_busy": sum(n for s, n in statuses.items() if s >= 500 and s != 503),
        "refused_busy_503": statuses.get(503, 0),
        "wall_s": time.perf_counter() - started,
        "peak_rss_mib": rss.peak_mib,
    }


def burst(port: int, uploads: int = 60) -> dict[str, object]:
    """``uploads`` slow-to-decode searches at once while pages are read."""
    body = _multipart(slow_png(), "big.png")
    pages: list[tuple[int, float]] = []
    stop = threading.Event()

    def read_pages() -> None:
        while not stop.is_set():
            for path in ("/", "/api/v1/stats"):
                pages.append(_request(port, "GET", path))
            time.sleep(0.2)

    reader = threading.Thread(target=read_pages)
    with ThreadPoolExecutor(uploads) as pool:
        reader.start()
        answers = list(pool.map(lambda _: _post(port, *body), range(uploads)))
    stop.set()
    reader.join()
    slowest: dict[int, float] = {}
    for status, ms in answers:
        slowest[status] = max(ms, slowest.get(status, 0.0))
    return {
        "statuses": dict(sorted(Counter(s for s, _ in answers).items())),
        "slowest_ms": dict(sorted(slowest.items())),
        "pages": len(pages),
        "page_errors": sum(s != 200 for s, _ in pages),
        "slowest_page_ms": max((ms for _, ms in pages), default=0.0),
    }


def run(port: int, pid: int, photo: bytes, slow: int, rounds: int, uploads: int = 60) -> None:
    """Both scenarios against a running server; prints their figures."""
    body = _multipart(photo, "query.jpg")
    figures = slow_clients(port, body, slow=slow)
    print(
        f"slow clients: {figures['slow']} trickling connections held; "
        f"{figures['requests']} searches meanwhile: {figures['errors']} errors, "
        f"p50 {figures['p50_ms']:.0f} ms, max {figures['max_ms']:.0f} ms"
    )
    hostile = hostile_uploads(port, pid, rounds=rounds)
    verdict = "MET" if hostile["peak_rss_mib"] <= RSS_GOAL_MIB else "MISSED"  # type: ignore[operator]
    print(
        f"8 hostile uploads x {rounds}: statuses {hostile['statuses']} "
        f"(503 = busy, retry later), other 5xx {hostile['5xx_other_than_busy']}, "
        f"{hostile['wall_s']:.1f} s, server peak RSS {hostile['peak_rss_mib']:.0f} MiB "
        f"(goal <= {RSS_GOAL_MIB} MiB: {verdict})"
    )
    burst_figures = burst(port, uploads)
    slowest = ", ".join(f"{s}: {ms / 1000:.1f} s" for s, ms in burst_figures["slowest_ms"].items())  # type: ignore[attr-defined]
    print(
        f"a burst of {uploads} searches of a 5000 x 5000 PNG at once: statuses "
        f"{burst_figures['statuses']} (slowest {slowest}); {burst_figures['pages']} page reads "
        f"meanwhile, {burst_figures['page_errors']} errors, slowest "
        f"{burst_figures['slowest_page_ms']:.0f} ms"
    )
