"""Quality flags and grey-level layouts for images indexed before they existed (revisions
0005q, 0006l): decoded again once and measured like the indexer's own decode step, without
the model.

New and changed files get both in the pipeline's decode step; this pass only serves rows
where either is NULL (older libraries, and byte copies of such rows). A file that changed
since it was indexed is left to the next run's pipeline; one that cannot be read stays
unmeasured (it is tried again next time).
"""

from __future__ import annotations

import io
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from indexer.progress import bar
from models import (
    MAX_FILE_BYTES,
    ImgsearchError,
    OnnxModel,
    file_mtime_ns,
    image_layout,
    open_image_file,
    read_limited,
)
from models.quality import measure_quality
from search.store import LibraryStore, UnmeasuredImage

log = logging.getLogger(__name__)

PAGE = 256


def _measure(
    model: OnnxModel, row: UnmeasuredImage, max_pixels: int | None
) -> tuple[int, int, int, tuple[float, ...], bytes] | None:
    """``(id, mtime_ns, flags, measures, layout)`` of one stored image, or None (changed,
    unreadable)."""
    path = Path(row.root) / Path(*row.rel_path.split("/"))
    try:
        with open_image_file(path, MAX_FILE_BYTES) as handle:
            st = os.fstat(handle.fileno())
            if st.st_size != row.file_size or file_mtime_ns(st) != row.mtime_ns:
                return None
            data = read_limited(handle, str(path), MAX_FILE_BYTES)
        kwargs = {} if max_pixels is None else {"max_pixels": max_pixels}
        decoded = model.load(io.BytesIO(data), **kwargs)
    except (OSError, ImgsearchError) as error:
        log.info("quality of %s not measured: %s", path, error)
        return None
    quality = measure_quality(model.preprocess(decoded), decoded.width, decoded.height)
    return row.id, row.mtime_ns, quality.flags, quality.values, image_layout(decoded.image)


def measure_unmeasured(
    store: LibraryStore,
    model: OnnxModel,
    workers: int = 2,
    max_pixels: int | None = None,
    *,
    show: bool = False,
) -> tuple[int, float]:
    """Measure every indexed still image without flags (a progress bar when ``show`` and
    there are some); ``(how many, seconds)``."""
    older = store.quality.unmeasured_count()
    if not older:  # the usual case: nothing to do, no time to report
        return 0, 0.0
    start = time.monotonic()
    done, after = 0, 0
    with (
        bar(show, desc="measuring quality", total=older) as shown,
        ThreadPoolExecutor(max(1, workers), thread_name_prefix="imgsearch-quality") as pool,
    ):
        while True:
            page = store.quality.unmeasured(after, PAGE)
            if not page:
                break
            after = page[-1].id
            found = [r for r in pool.map(lambda r: _measure(model, r, max_pixels), page) if r]
            done += store.quality.set_measures(found)
            shown.update(len(page))
    return done, time.monotonic() - start
