"""Teach a library its whitening at the end of an index run (self-supervised, from its photos).

A library of at least :data:`search.whitening.MIN_IMAGES` images, with whitening on in its
descriptor, learns a whitening from edits of a seeded sample of its own photos
(:func:`search.whitening.learn_from_images`) when it has none yet, or when it has doubled in
size since the last one. The library then rebuilds its index in the whitened space.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models import ImageError, OnnxModel
from search.library import Library
from search.whitening import (
    DEFAULT_SAMPLE,
    MIN_IMAGES,
    WhiteningError,
    learn_from_images,
    sample_indices,
)

log = logging.getLogger(__name__)

BACKGROUND_SAMPLE = 50_000  # library vectors that give the mean and the principal axes
RELEARN_GROWTH = 2.0  # learn again when the library has grown this many times


@dataclass(frozen=True)
class WhiteningRun:
    """What :func:`update_whitening` did: ``action`` learned / kept / skipped, and why."""

    action: str
    reason: str
    images: int = 0
    pairs: int = 0
    seconds: float = 0.0

    def to_text(self) -> str:
        if self.action == "learned":
            return (f"learned the whitening from {self.pairs} edits of {self.images} photos "
                    f"in {self.seconds:.1f} s ({self.reason})")  # fmt: skip
        return f"whitening {self.action}: {self.reason}"


def whitening_due(library: Library) -> str | None:
    """Why the library should learn its whitening now, or None."""
    if not library.descriptor_config().whiten:
        return None
    count = library.store.vector_count()
    if count < MIN_IMAGES:
        return None
    current = library.whitening()
    if current is None:
        return f"{count} images, none learned yet"
    if count >= RELEARN_GROWTH * max(1, current.images):
        return f"library grew from {current.images} to {count} images"
    return None


def update_whitening(library: Library, model: OnnxModel, *, seed: int = 0,
                     progress: Callable[[str], None] | None = None) -> WhiteningRun:
    """Learn and store the whitening when :func:`whitening_due` says so."""
    reason = whitening_due(library)
    if reason is None:
        state = "kept" if library.whitening() is not None else "skipped"
        why = "whitening is off" if not library.descriptor_config().whiten else (
            "learned for this library size" if state == "kept"
            else f"fewer than {MIN_IMAGES} images")
        return WhiteningRun(state, why)
    started = time.monotonic()
    store = library.store
    all_ids = store.sample_vector_ids(BACKGROUND_SAMPLE, seed)
    background = np.stack([r.vector for r in store.descriptor_rows(all_ids, labels=False)
                           .values()])  # fmt: skip
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
        whitening = learn_from_images(images, model.embed_images, background, seed=seed)
    except WhiteningError as error:
        return WhiteningRun("skipped", str(error))
    library.set_whitening(whitening)
    return WhiteningRun("learned", reason, len(images), whitening.pairs,
                        time.monotonic() - started)


def _paths(library: Library, ids: list[int]) -> list[Path]:
    rows = library.store.images(ids)
    return [Path(rows[i].collection.root) / rows[i].rel_path for i in ids if i in rows]
