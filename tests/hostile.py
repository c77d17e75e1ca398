"""Hostile inputs made on the fly: small files that decode to huge images, and a process's
peak memory measured with psutil while something runs."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

import numpy as np
import psutil
from PIL import Image

GIB = 1024**3


def make_memory_bombs(folder: Path, side: int = 9400) -> list[Path]:
    """Four small files (0.2-2.5 MB) that decode to ~9000x9000 images in wide or costly
    modes: 16-bit greyscale PNG, RGBA PNG, palette PNG, 32-bit float TIFF."""
    folder.mkdir(parents=True, exist_ok=True)
    grey = np.zeros((side, side), np.uint16)
    grey[::50, :] = 40000
    grey[:, ::70] = 1000
    out = [folder / "grey16.png", folder / "rgba.png", folder / "palette.png",
           folder / "float.tif"]  # fmt: skip
    Image.fromarray(grey).save(out[0], compress_level=6)
    rgba = np.zeros((side, side, 4), np.uint8)
    rgba[::40] = (200, 30, 30, 128)
    Image.fromarray(rgba, "RGBA").save(out[1], compress_level=6)
    del rgba
    Image.fromarray((grey >> 8).astype(np.uint8), "L").convert("P").save(out[2], compress_level=6)
    Image.fromarray(grey.astype(np.float32) * 0.5, "F").save(out[3], compression="tiff_deflate")
    return out


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
