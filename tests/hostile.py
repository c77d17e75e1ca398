"""Hostile inputs made on the fly: small files that decode to huge images, and a process's
peak memory measured with psutil while something runs."""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from PIL import Image

GIB = 1024**3


BOMBS = ("grey16.png", "rgba.png", "palette.png", "float.tif")


def make_memory_bombs(folder: Path, side: int = 9400, names: tuple[str, ...] = BOMBS) -> list[Path]:
    """Small files (0.8-2.5 MB) that decode to ~9000x9000 images in wide or costly modes:
    16-bit greyscale PNG, RGBA PNG, palette PNG, 32-bit float TIFF (those of ``names``, in
    that order). The PNGs at zlib level 1: 3.5 s of CPU instead of 7.5 s at level 6, for
    files of 0.8-1.5 MB instead of 0.2-0.3 MB."""
    folder.mkdir(parents=True, exist_ok=True)
    grey = np.zeros((side, side), np.uint16)
    grey[::50, :] = 40000
    grey[:, ::70] = 1000
    out = [folder / name for name in names]
    for path in out:
        if path.name == "grey16.png":
            Image.fromarray(grey).save(path, compress_level=1)
        elif path.name == "rgba.png":
            rgba = np.zeros((side, side, 4), np.uint8)
            rgba[::40] = (200, 30, 30, 128)
            Image.fromarray(rgba, "RGBA").save(path, compress_level=1)
            del rgba
        elif path.name == "palette.png":
            grey8 = Image.fromarray((grey >> 8).astype(np.uint8), "L")
            grey8.convert("P").save(path, compress_level=1)
        else:
            Image.fromarray(grey.astype(np.float32) * 0.5, "F").save(
                path, compression="tiff_deflate"
            )
    return out


def slow_png(side: int = 5000) -> bytes:
    """A ``side`` x ``side`` PNG of gradients: small on the wire (under 1 MB at 5000 px), a
    fraction of a second or more to decode - what a burst of image queries is made of."""
    ramp = np.linspace(0, 255, side)
    pixels = np.stack(
        [np.add.outer(ramp, ramp) / 2, np.add.outer(ramp, -ramp) % 256, np.tile(ramp, (side, 1))],
        axis=-1,
    ).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def memory_bombs(tmp_path_factory: pytest.TempPathFactory, *names: str) -> list[Path]:
    """The memory bombs ``names`` (all four when none), made once per test run: in a folder
    that the xdist workers share (beside their own temp folders), under a file lock. They
    take ~7 s of CPU to make and are only read by the tests (copied where a test needs them
    elsewhere)."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = shared / "memory-bombs"
    folder.mkdir(exist_ok=True)
    with open(shared / "memory-bombs.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            missing = tuple(n for n in names or BOMBS if not (folder / n).is_file())
            if missing:
                made = make_memory_bombs(folder / f"making-{os.getpid()}", names=missing)
                for path in made:
                    path.rename(folder / path.name)
                (folder / f"making-{os.getpid()}").rmdir()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return [folder / name for name in names or BOMBS]


class PeakRss:
    """Samples a process's RSS (with its children) every ``interval`` s from a thread; kills
    it once it goes over ``kill_above`` bytes (a runaway must not take the machine down)."""

    def __init__(self, pid: int, interval: float = 0.01, kill_above: int | None = None) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.kill_above = kill_above
        self.peak = 0
        self.killed = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        total = self.process.memory_info().rss
        for child in self.process.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rss = self._rss()
            except psutil.Error:
                return
            self.peak = max(self.peak, rss)
            if self.kill_above is not None and rss > self.kill_above:
                self.killed = True
                self.process.kill()
                return
            time.sleep(self.interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    @property
    def peak_mib(self) -> float:
        return self.peak / (1024 * 1024)


def _jpeg(image: Image.Image, **options: object) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85, **options)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (a decompression bomb's header)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def make_hostile_corpus(folder: Path, photos: list[Path]) -> tuple[list[Path], dict[Path, str]]:
    """A folder of good files in odd forms and bad files of every kind the issue names.

    Returns (good files: each must be indexed and searchable; bad files -> the reason code
    the index run must record). Links and FIFOs are extra: a FIFO must neither hang nor be
    indexed, a link to a device is refused, a dangling link is skipped or recorded.
    """
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    good: list[Path] = []
    bad: dict[Path, str] = {}
    base = Image.open(photos[0]).convert("RGB")

    def put(name: str, data: bytes, reason: str | None = None) -> Path:
        path = folder / name
        path.write_bytes(data)
        (good.append(path) if reason is None else bad.__setitem__(path, reason))
        return path

    jpeg = photos[1].read_bytes()
    put("plain.jpg", photos[2].read_bytes())
    put("ünïcödé name with spaces.jpg", photos[3].read_bytes())
    put("-leading-dash.jpg", photos[4].read_bytes())
    put("new\nline.jpg", photos[5].read_bytes())
    put("png-named.jpg", _encode(base, "PNG"))  # wrong extension: content decides
    put("cmyk.jpg", _jpeg(base.convert("CMYK")))
    put(
        "grey16.png",
        _encode(Image.fromarray(np.asarray(base.convert("L"), dtype=np.uint16) * 257), "PNG"),
    )
    put("palette.png", _encode(base.convert("P"), "PNG", transparency=3))
    frames = [base.resize((160, 120)), base.resize((160, 120)).rotate(90)]
    put(
        "animated.gif",
        _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0),
    )
    put("rgba.png", _encode(base.convert("RGBA"), "PNG"))
    put(
        "bad-exif.jpg",
        jpeg[:2]
        + b"\xff\xe1\x00\x20Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08"
        + b"\xff" * 16
        + jpeg[2:],
    )  # a broken EXIF segment before a good image
    put("polyglot.gif", _encode(frames[0], "GIF") + b"<script>alert(1)</script>")
    put("html-after-jpeg.jpg", jpeg + b"<html><script>alert(1)</script></html>")
    put("truncated.jpg", jpeg[: len(jpeg) // 3], "truncated")
    put("zero-bytes.jpg", b"", "empty")
    put("text.jpg", b"just some text, not an image\n" * 20, "not_an_image")
    put("html.png", b"<!doctype html><html><body>hi</body></html>", "not_an_image")
    put("svg.png", b'<svg xmlns="http://www.w3.org/2000/svg"></svg>', "unsupported")
    put("pixel-bomb.png", png_header_only(30000, 30000), "too_many_pixels")
    put("corrupt.png", _encode(base, "PNG")[:60] + os.urandom(200), "truncated|corrupt")
    shutil.copyfile(photos[6], folder / "real-target.jpg")
    good.append(folder / "real-target.jpg")
    (folder / "device-link.jpg").symlink_to("/dev/zero")
    (folder / "dangling-link.jpg").symlink_to(folder / "nowhere.jpg")
    os.mkfifo(folder / "pipe.jpg")
    return good, bad


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()
