"""How a library compares images: its descriptor, what it learned, and the indexes over it.

The store keeps each image's raw model vector (and the framed photo's vector, when a frame
was found) - the truth. What is *searched* is those vectors mapped through the library's
:class:`search.descriptor.descriptors.Descriptor` (the learned whitening, when there is one):

* the **main index** holds one row per image: the whole image, or the framed photo when the
  frame dominates the canvas (a screenshot) - so it keeps one id per image and the cache
  stamp's ``count`` is still the number of stored vectors;
* the **frame index** (in memory, rebuilt from SQLite: framed photos are few) holds the framed
  photos of the other framed images;
* the **calibration** (background of copy scores from random pairs of stored images) turns a
  copy score into ``duplicate_z``; it is measured on a sample and kept in ``descriptor_state``.

The index cache is stamped with :func:`index_fingerprint`, so a cache built with another
whitening or frame setting is stale and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from search.descriptor import (
    DESCRIPTOR_VERSION,
    DUPLICATE_Z,
    MIN_IMAGES,
    PLAIN_BACKGROUND,
    Calibration,
    Descriptor,
    DescriptorConfig,
    DescriptorError,
    RowCache,
    Whitening,
    WhiteningError,
    shrink_for,
)
from search.descriptor import StoredImage as StoredVectors
from search.index import NearestNeighbourIndex, VectorIndex
from search.library.model_path import DESCRIPTOR_META_KEY
from search.store import DescriptorRows, FrameVector, LibraryStore, ModelStamp

log = logging.getLogger(__name__)

WHITENING_KEY = "whitening"
CALIBRATION_KEY = "calibration"
CALIBRATION_SAMPLE = 5000  # stored images whose random pairs measure the background


def library_config(store: LibraryStore, override: str | None = None) -> DescriptorConfig:
    """The library's descriptor options: recorded ones, else ``override``, else defaults."""
    recorded = store.get_meta(DESCRIPTOR_META_KEY)
    config = DescriptorConfig.parse(recorded or override or "default")
    newer = [
        key for key in ("regions", "local", "unblock") if recorded and f"{key}=" not in recorded
    ]
    if newer:  # recorded before these query options: plain stays plain
        plain = replace(config, **dict.fromkeys(newer, False))
        config = plain if plain.is_plain else config
    return config


def load_descriptor(store: LibraryStore, config: DescriptorConfig) -> Descriptor:
    """``config`` with the library's stored whitening (when whitening is on and learned)."""
    whitening = None
    if config.whiten:
        state = store.descriptors.get_state(WHITENING_KEY)
        if state is not None:
            try:
                whitening = Whitening.from_bytes(state[1])
            except WhiteningError as error:
                log.warning("ignoring the stored whitening: %s", error)
    return Descriptor(config, whitening)


def index_fingerprint(descriptor: Descriptor) -> str:
    """What the searched vectors depend on: frame rows and the whitening."""
    white = descriptor.whitening.fingerprint if descriptor.whitening is not None else "none"
    frames = "on" if descriptor.config.frames else "off"
    return f"d{DESCRIPTOR_VERSION}:frames={frames}:white={white}"


def to_stored(rows: DescriptorRows) -> StoredVectors:
    """The descriptor's view of one image's stored vectors."""
    frame = rows.frame
    return StoredVectors(
        rows.vector,
        None if frame is None else frame.vector,
        bool(frame is not None and frame.dominant),
        rows.labels,
        rows.uniform,
    )


@dataclass(frozen=True)
class StoredFrames:
    """The library's framed photos, read once: those that replace their image's row in the
    main index (the frame dominates) and the others, searched as a second row."""

    dominant: dict[int, np.ndarray]
    extra_ids: np.ndarray
    extra_vectors: np.ndarray  # raw model vectors, one row per id of ``extra_ids``

    @classmethod
    def read(cls, store: LibraryStore, descriptor: Descriptor) -> StoredFrames:
        """Every framed photo when the descriptor uses frames, else none."""
        dominant: dict[int, np.ndarray] = {}
        ids: list[np.ndarray] = []
        vectors: list[np.ndarray] = []
        if descriptor.config.frames:
            for chunk_ids, chunk_vectors, chunk_dominant in store.descriptors.frames():
                dominant.update(
                    zip(
                        chunk_ids[chunk_dominant].tolist(),
                        chunk_vectors[chunk_dominant],
                        strict=True,
                    )
                )
                ids.append(chunk_ids[~chunk_dominant])
                vectors.append(chunk_vectors[~chunk_dominant])
        if not ids:
            return cls(dominant, np.zeros(0, np.int64), np.zeros((0, 1), np.float32))
        return cls(dominant, np.concatenate(ids), np.concatenate(vectors))

    def extra_rows(
        self, descriptor: Descriptor, keep: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, searched rows)`` of the second-row photos (of the images ``keep``)."""
        take = np.ones(len(self.extra_ids), bool) if keep is None else np.isin(self.extra_ids, keep)
        if not take.any():
            width = searched_dimension(descriptor, self.extra_vectors.shape[1])
            return np.zeros(0, np.int64), np.zeros((0, width), np.float32)
        return self.extra_ids[take], descriptor.transform(self.extra_vectors[take])


def searched_dimension(descriptor: Descriptor, model_dimension: int) -> int:
    """Dimensions of the searched vectors: the whitened space's, else the model's."""
    white = descriptor.whitening
    return white.dimension if white is not None else model_dimension


def primary_vectors(
    descriptor: Descriptor,
    vectors: np.ndarray,
    dominant_frames: Mapping[int, np.ndarray],
    ids: np.ndarray,
) -> np.ndarray:
    """The main index's rows: each image's vector, or its framed photo's when the frame
    dominates (frames on), mapped through the descriptor."""
    x = np.array(vectors, dtype=np.float32, copy=True)
    if descriptor.config.frames and dominant_frames:
        framed = np.fromiter(dominant_frames, dtype=np.int64, count=len(dominant_frames))
        for row in np.flatnonzero(np.isin(ids, framed)).tolist():
            x[row] = dominant_frames[int(ids[row])]
    if len(x):
        return descriptor.transform(x)
    return np.zeros((0, searched_dimension(descriptor, x.shape[1])), np.float32)


def build_frame_index(frames: StoredFrames, descriptor: Descriptor, dimension: int) -> VectorIndex:
    """Exact index of the framed photos that do not replace their image's row."""
    ids, rows = frames.extra_rows(descriptor)
    if not len(ids):
        return VectorIndex.empty(dimension, "flat")
    return VectorIndex.build(ids, rows, "flat")


def _by_vector(image: StoredVectors) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(image.vector).tobytes(), digest_size=16).digest()


def calibrate(
    store: LibraryStore, descriptor: Descriptor, fingerprint: str, *, reuse: bool = True
) -> Calibration:
    """The background of copy scores: the stored one when it was measured for
    ``fingerprint`` (and ``reuse``), else measured on a sample and stored."""
    key = f"{fingerprint}:n={_size_class(store.vector_count())}"
    if reuse:
        state = store.descriptors.get_state(CALIBRATION_KEY)
        if state is not None and state[0] == key:
            try:
                values = json.loads(state[1])
                descriptor.calibration = Calibration(**values)
                return descriptor.calibration
            except (ValueError, TypeError) as error:
                log.warning("measuring the calibration again: %s", error)
    sample = store.descriptors.sample_ids(CALIBRATION_SAMPLE)
    rows = store.descriptors.rows(sample, labels=False)
    # random pairs of images in the order of their vectors, not of their ids: byte-identical
    # copies are written in another order by worker processes than by threads, and the
    # pairs drawn by position were others (a dedup threshold of 0.683 against 0.653)
    images = sorted((to_stored(rows[i]) for i in sample if i in rows), key=_by_vector)
    try:
        calibration = descriptor.calibrate(images)
    except DescriptorError:  # fewer than 3 images: the plain-space prior
        calibration = descriptor.calibration = PLAIN_BACKGROUND
    data = {
        "median": calibration.median,
        "spread": calibration.spread,
        "mean": calibration.mean,
        "sd": calibration.sd,
        "capped": calibration.capped,
    }
    # a read-only library keeps it in memory
    store.descriptors.set_state(CALIBRATION_KEY, key, json.dumps(data).encode(), optional=True)
    return calibration


TURNED_ROWS_BUDGET = 8 << 20  # bytes of turned views kept: ~4 k whitened images, ~600 plain


def _size_class(count: int) -> int:
    """Libraries are re-calibrated when their size crosses a power of two."""
    return int(count).bit_length()


@dataclass(frozen=True)
class Searchable:
    """One consistent state to query: main index, frame index, descriptor, generation."""

    index: NearestNeighbourIndex
    frames: NearestNeighbourIndex
    descriptor: Descriptor
    generation: int
    fingerprint: str
    #: the model whose vectors these indexes hold (queries must be embedded with it)
    model: ModelStamp | None = None
    #: the stored images' searched rows and labels, kept between queries of this state
    rows: RowCache = field(default_factory=RowCache, compare=False, repr=False)
    #: stored images' turned views, embedded from their files (search.query.stored_turns)
    turns: RowCache = field(
        default_factory=lambda: RowCache(TURNED_ROWS_BUDGET), compare=False, repr=False
    )

    def neighbours(self, rows: np.ndarray, k: int, skip: np.ndarray | None = None) -> np.ndarray:
        """Nearest image ids of each searched row [R, D'] over both indexes (-1 pads);
        ``skip``: ids never returned (-1 in their place), each index asked deeper so that
        they take none of the ``k`` places of the others."""
        q = np.asarray(rows, dtype=np.float32).reshape(len(rows), -1)
        found = [_nearest(index, q, k, skip) for index in (self.index, self.frames) if index.ntotal]
        if not found:
            return np.full((len(q), 1), -1, np.int64)
        return np.concatenate(found, axis=1)

    def add(self, vectors: Mapping[int, np.ndarray], frames: Mapping[int, FrameVector]) -> None:
        """Add freshly stored images (``frames``: their framed photos, when framed)."""
        if not vectors:
            return
        ids = np.fromiter(vectors, dtype=np.int64, count=len(vectors))
        dominant = {i: f.vector for i, f in frames.items() if f.dominant}
        x = primary_vectors(self.descriptor, np.stack(list(vectors.values())), dominant, ids)
        self.index.add(ids, x)
        if self.descriptor.config.frames:
            extra = [(i, f.vector) for i, f in frames.items() if not f.dominant]
            if extra:
                self.frames.add(
                    np.array([i for i, _ in extra], np.int64),
                    self.descriptor.transform(np.stack([v for _, v in extra])),
                )

    def remove(self, ids: Iterable[int]) -> None:
        stale = np.asarray(list(ids), dtype=np.int64)
        if len(stale):
            self.index.remove(stale)
            self.frames.remove(stale)


def _nearest(
    index: NearestNeighbourIndex, q: np.ndarray, k: int, skip: np.ndarray | None
) -> np.ndarray:
    """``k`` nearest ids of each row of ``q`` in ``index`` other than ``skip``'s (-1 in their
    place): asked ``k`` deep, then once more as deep as the skipped ids need."""
    ids = index.search(q, min(k, index.ntotal))[1]
    if skip is None or not len(skip):
        return ids
    skipped = np.isin(ids, skip)
    if skipped.any() and ids.shape[1] < index.ntotal:
        ids = index.search(q, min(k + len(skip), index.ntotal))[1]
        skipped = np.isin(ids, skip)
    return np.where(skipped, -1, ids)


def describe(live: Searchable, store: LibraryStore) -> dict[str, object]:
    """What ``imgsearch stats`` and the library page show of the descriptor."""
    descriptor = live.descriptor
    whitening = descriptor.whitening
    cal = descriptor.calibration
    return {
        "options": descriptor.config.describe(),
        "fingerprint": live.fingerprint,
        "framed_images": store.descriptors.frame_count(),
        "cropped_images": store.descriptors.crop_count(),
        "whitening": None
        if whitening is None
        else {
            "images": whitening.images,
            "pairs": whitening.pairs,
            "dimension": whitening.dimension,
            "fingerprint": whitening.fingerprint,
            "shrink": round(shrink_for(whitening.images), 3),
        },
        "whitening_from": MIN_IMAGES,
        # a query in doubt has its best candidates checked by key points
        "key_point_check": descriptor.config.checks_grey_band,
        "calibration": None
        if cal is None
        else {
            "mean": round(cal.mean, 4),
            "sd": round(cal.sd, 4),
            "duplicate_z": DUPLICATE_Z,
            "duplicate_threshold": round(cal.duplicate_threshold(), 4),
            "background": "prior"
            if cal == PLAIN_BACKGROUND
            else "measured, its sd the prior's"
            if cal.capped
            else "measured",
        },
    }
