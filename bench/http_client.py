"""The server and its clients for ``bench/http.py``: ``imgsearch serve`` in a subprocess, one
keep-alive connection per client, sequential and concurrent runs of timed searches."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


# -- the CLI and the server ------------------------------------------------------------------


def cli(library: Path, models: Path, *args: str, background: bool = False):  # type: ignore[no-untyped-def]
    command = [
        sys.executable,
        "-u",
        "-c",
        "from cli.main import main; main()",
        "--library",
        str(library),
        "--model-path",
        str(models),
        *args,
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if background:
        return subprocess.Popen(
            command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"imgsearch {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


class Server:
    """``imgsearch serve --port 0`` in a subprocess (stopped by its own process id)."""

    def __init__(self, library: Path, models: Path, threads: int) -> None:
        self.process = cli(
            library, models, "serve", "--port", "0", "--threads", str(threads), background=True
        )
        deadline, lines = time.monotonic() + 180, []
        self.port = 0
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line and self.process.poll() is not None:
                break
            lines.append(line)
            match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
            if match:
                self.port = int(match.group(1))
                break
        if not self.port:
            self.stop()
            raise SystemExit("server did not start:\n" + "".join(lines))
        threading.Thread(target=self._drain, daemon=True).start()

    def cpu_seconds(self) -> float:
        """CPU seconds the server process has used so far (all threads; nan off Linux)."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _drain(self) -> None:
        for _line in self.process.stdout:  # keep the pipe from filling up
            pass

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# -- requests ----------------------------------------------------------------------------------


def multipart(photo: bytes, name: str, k: int = 10) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="k"\r\n\r\n{k}\r\n'.encode(),
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{name}"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode(),
        photo,
        f"\r\n--{boundary}--\r\n".encode(),
    ]
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Client:
    """One keep-alive connection to 127.0.0.1; every request timed, every failure counted."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def search(self, body: bytes, content_type: str) -> tuple[float, bool]:
        started = time.perf_counter()
        try:
            self.conn.request(
                "POST", "/api/v1/search", body=body, headers={"Content-Type": content_type}
            )
            response = self.conn.getresponse()
            data = response.read()
            ok = response.status == 200 and len(json.loads(data)["results"]) > 0
        except (OSError, http.client.HTTPException, ValueError, KeyError):
            ok = False
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        return (time.perf_counter() - started) * 1000.0, ok


Bodies = list[tuple[bytes, str]]
Timing = tuple[np.ndarray, int, float]


def run_sequential(
    port: int, bodies: Bodies, n: int, until: subprocess.Popen | None = None
) -> Timing:
    client, lat, errors = Client(port), [], 0
    started = time.perf_counter()
    for i in range(n):
        if until is not None and until.poll() is not None:
            break
        ms, ok = client.search(*bodies[i % len(bodies)])
        lat.append(ms)
        errors += not ok
    return np.asarray(lat), errors, time.perf_counter() - started


def run_concurrent(
    port: int, bodies: Bodies, n: int, clients: int, until: subprocess.Popen | None = None
) -> Timing:
    lat: list[float] = []
    errors = [0]
    lock = threading.Lock()
    counter = iter(range(n))

    def worker() -> None:
        client = Client(port)
        while True:
            with lock:
                i = next(counter, None)
            if i is None or (until is not None and until.poll() is not None):
                return
            ms, ok = client.search(*bodies[i % len(bodies)])
            with lock:
                lat.append(ms)
                errors[0] += not ok

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return np.asarray(lat), errors[0], time.perf_counter() - started
