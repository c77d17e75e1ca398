"""Teach a library its whitening at the end of an index run (self-supervised, from its photos).

A library of at least :data:`search.whitening.MIN_IMAGES` images, with whitening on in its
descriptor, learns a whitening from edits of a seeded sample of its own photos (the pairs of
:func:`search.whitening.training_pairs`, made in two threads) when it has none yet, or when
it has grown :data:`RELEARN_GROWTH` times since the last one (up to :data:`RELEARN_UNTIL`
images: the sample is 1000 photos however large the library). The library then rebuilds its
index in the whitened space.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models import ImageError, OnnxModel
from search.library import Library
from search.whitening import (
    DEFAULT_EDITS_PER_IMAGE,
    DEFAULT_SAMPLE,
    MIN_IMAGES,
    WhiteningError,
    learn_whitening,
    sample_indices,
    training_pairs,
)

log = logging.getLogger(__name__)

BACKGROUND_SAMPLE = 50_000  # library vectors that give the mean and the principal axes
RELEARN_GROWTH = 4.0  # learn again when the library has grown this many times
RELEARN_UNTIL = 64_000  # ... as long as the last one was learned from fewer images than this
EDITS_PER_IMAGE = DEFAULT_EDITS_PER_IMAGE
THREADS = 2  # the sample is edited and embedded in this many threads (ONNX releases the GIL)


@dataclass(frozen=True)
class WhiteningRun:
    """What :func:`update_whitening` did: ``action`` learned / kept / skipped, and why."""

    action: str
    reason: str
    images: int = 0
    pairs: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # of this process, all threads

    def to_text(self) -> str:
        if self.action == "learned":
            return (f"learned the whitening from {self.pairs} edits of {self.images} photos "
                    f"in {self.seconds:.1f} s ({self.reason})")  # fmt: skip
        return f"whitening {self.action}: {self.reason}"


def whitening_due(library: Library) -> tuple[str, str]:
    """``(action, why)``: ``learn`` now, or leave the whitening as it is (``kept`` when the
    library has one, ``skipped`` when not)."""
    current = library.whitening()
    idle = "kept" if current is not None else "skipped"
    if not library.descriptor_config().whiten:
        return idle, "whitening is off"
    count = library.store.vector_count()
    if count < MIN_IMAGES:
        return idle, f"fewer than {MIN_IMAGES} images"
    if current is None:
        return "learn", f"{count} images, none learned yet"
    if count >= RELEARN_GROWTH * max(1, current.images) and current.images < RELEARN_UNTIL:
        return "learn", f"library grew from {current.images} to {count} images"
    return "kept", "learned for this library size"


def update_whitening(library: Library, model: OnnxModel, *, seed: int = 0,
                     progress: Callable[[str], None] | None = None) -> WhiteningRun:
    """Learn and store the whitening when :func:`whitening_due` says so."""
    action, reason = whitening_due(library)
    if action != "learn":
        return WhiteningRun(action, reason)
    started, cpu = time.monotonic(), time.process_time()
    store = library.store
    all_ids = store.sample_vector_ids(BACKGROUND_SAMPLE, seed)
    background = np.stack([r.vector for r in store.descriptor_rows(all_ids, labels=False)
                           .values()])  # fmt: skip
    if len(background) < MIN_IMAGES:  # images removed since the count
        return WhiteningRun("skipped", f"fewer than {MIN_IMAGES} images")
    chosen = [all_ids[i] for i in sample_indices(len(all_ids), DEFAULT_SAMPLE, seed)]
    if progress:
        progress(f"learning the whitening from edits of {len(chosen)} photos ({reason})")
    images = []
    for path in _paths(library, chosen):
        try:
            images.append(model.load(path).image.convert("RGB"))
        except (ImageError, OSError) as error:  # changed or gone since it was indexed
            log.info("whitening sample: skipping %s: %s", path, error)
    try:
        whitening = learn_whitening(*_pairs(images, model, seed), background)
    except WhiteningError as error:
        return WhiteningRun("skipped", str(error))
    library.set_whitening(whitening)
    return WhiteningRun("learned", reason, len(images), whitening.pairs,
                        time.monotonic() - started, time.process_time() - cpu)


def _pairs(images: list, model: OnnxModel, seed: int) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[type-arg]
    """(photo, edit) embedding pairs of ``images``, made in :data:`THREADS` threads."""
    parts = [images[n::THREADS] for n in range(THREADS)]

    def make(n: int) -> tuple[np.ndarray, np.ndarray]:
        return training_pairs(parts[n], model.embed_images, edits_per_image=EDITS_PER_IMAGE,
                              seed=seed * THREADS + n)  # fmt: skip

    with ThreadPoolExecutor(THREADS, thread_name_prefix="imgsearch-whiten") as pool:
        made = [m for m in pool.map(make, range(THREADS)) if len(m[0])]
    if not made:
        raise WhiteningError("no photo of the sample could be read")
    return np.concatenate([m[0] for m in made]), np.concatenate([m[1] for m in made])


def _paths(library: Library, ids: list[int]) -> list[Path]:
    rows = library.store.images(ids)
    return [Path(rows[i].collection.root) / rows[i].rel_path for i in ids if i in rows]
