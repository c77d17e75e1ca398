"""Progress bars of an index run on stderr (tqdm), shown only on a terminal: count, rate, ETA."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tqdm import tqdm


class Hidden:
    """What a bar that is not shown does: count (tqdm is not even imported)."""

    def __init__(self, total: int | None = None, **_kw: Any) -> None:
        self.total, self.n = total, 0

    def update(self, n: int = 1) -> None:
        self.n += n

    def close(self) -> None:
        pass

    def __enter__(self) -> Hidden:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def bar(show: bool, **kw: Any) -> tqdm | Hidden:
    """A tqdm bar on stderr: count, rate and ETA (hidden when ``show`` is False)."""
    if not show:
        return Hidden(**kw)
    from tqdm import tqdm

    try:  # a terminal that reports no width (some ptys) would get an empty bar
        sized = os.get_terminal_size(sys.stderr.fileno()).columns > 0
    except (OSError, ValueError):
        sized = False
    width = {"dynamic_ncols": True} if sized else {"ncols": 100}
    return tqdm(file=sys.stderr, smoothing=0.05, mininterval=0.25, **width, **kw)


class LazyBar:
    """A :func:`bar` that appears on the first ``update(done, total)`` (not at all when the
    work it would show is not done)."""

    def __init__(self, show: bool, **kw: Any) -> None:
        self.show, self.kw, self.bar = show, kw, None

    def update(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = bar(self.show, total=total, **self.kw)
        self.bar.total = total
        self.bar.update(done - self.bar.n)
        if done >= total:  # its rate and time are the sample's, not what follows
            self.bar.close()

    def __enter__(self) -> LazyBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()


def process_age() -> float:
    """Seconds since this process started (Linux ``/proc``; -1.0 where unknown)."""
    try:
        stat = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - int(stat[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return -1.0


def run_cpu() -> float:
    """CPU seconds of this process and of its children that ended (an index run's worker
    processes: :mod:`indexer.processes`), user and system."""
    import resource
    import time

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime
