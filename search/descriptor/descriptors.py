"""How images are compared: views, frames, whitening, label fusion (options with defaults).

The library keeps the model's raw embedding per image (the truth) plus, for a photo found
inside a frame (screenshot, caption bars, padding), the photo's own embedding. A
:class:`Descriptor` turns those into what is searched and scored:

* **copy score** ``C(q, d)``: the best cosine between any *query view* (the query turned by
  quarter turns, and the framed photo turned the same ways; :mod:`models.views`) and any
  *stored row* of ``d`` (its whole-image vector, unless a frame dominates it, and its framed
  photo's vector), both mapped through the library's learned :class:`Whitening` when there is
  one. Symmetric pair score (dedup, pair metrics): ``max(C(a, b), C(b, a))``.
* **calibrated copy scores**, against the library's background (random pairs of stored rows):
  ``z = (C - median) / spread`` (robust: median, 1.4826 x MAD) decides what the gate and the
  expansion treat as a sure copy; ``duplicate_z = (C - mean) / sd`` is the user-facing one:
  one threshold (:data:`DUPLICATE_Z`) means the same in every library. Its P99 threshold is
  ~4.6 on both hard copy dev sets, whose negatives are unrelated photos; a real library also
  holds look-alikes (burst shots, many photos of one species): on all 509 shared photos
  (whitened, 128 dims) z 4.5 keeps pair precision 0.881, z 6.0 0.987 with pair recall 0.793
  (different photos of one UKBench object left out: they score like copies at any threshold).
* **duplicate-graph expansion** (``expand`` = K): a copy of a copy is a copy. For each of the
  query's K best matches ``k`` that is itself a sure copy (``z >= EXPAND_Z``), the stored
  images ``o`` that are sure copies of ``k`` score at least ``min(C(q, k), C(k, o))`` less
  ``CHAIN_STEP * (1 - C(q, o))`` (strictly below ``k`` itself, in the order of their own
  scores: no ties; never below the duplicate decision when the chain reaches it). Hard
  edits of a photo are found through the library's easier copies of it; look-alikes (far
  below ``EXPAND_Z``) are never chained; the query's own vector (the image itself,
  ``C >= SELF_SCORE``) is not followed: its copies are already the query's.
* **rank score**: ``(1 - w) * C + w * (g + (1 - g) * L)`` with ``L`` the similarity of the two
  images' top class labels (Bhattacharyya coefficient of the top-5 probabilities) and ``g`` a
  soft gate on ``z`` (~1 for copies): labels re-rank look-alikes (category search) without
  pulling a detected copy below a look-alike.

:class:`DescriptorConfig` names the options; ``DescriptorConfig.parse("plain")`` is the plain
embedding (one view, no frames, no whitening, no labels), the defaults are the measured best.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import numpy as np

from search.descriptor.errors import DescriptorError
from search.descriptor.expansion import chain_scores, hub_order
from search.descriptor.whitening import Whitening

DESCRIPTOR_VERSION = 1
ROTATION_SETS = {1: (0,), 2: (0, 180), 4: (0, 90, 180, 270)}
GATE_Z = 4.0  # robust z above which labels stop mattering (tuned: dev sets and hymenoptera)
GATE_WIDTH = 0.5
EXPAND_Z = 6.0  # robust z of a sure copy: only those are chained (hymenoptera unaffected)
WHITENED_DIMS = 128  # leading axes of the whitened space kept (measured: see README)
DUPLICATE_Z = 6.0  # duplicate_z threshold: 99 % pair precision with look-alikes (see above)
BACKGROUND_PAIRS = 20_000
MIN_CALIBRATION_IMAGES = 200  # smaller libraries use PLAIN_BACKGROUND (too few random pairs,
# and a small set of near-duplicates - near_duplicates: 45 files, 5 clusters - has no
# background to measure)
TOP_LABELS = 5


@dataclass(frozen=True)
class DescriptorConfig:
    """Options of the comparison; every one is measured in ``bench/quality.py``.

    ``rotations``: query views per image (1, 2 = half turn, 4 = quarter turns);
    ``frames``: find photos inside frames (index: an extra vector for framed images; query:
    the framed photo's views); ``whiten``: learned whitening (libraries >= MIN_IMAGES);
    ``labels``: weight of the class-label similarity in the rank score (0 = off);
    ``expand``: how many of the best matches are followed in the duplicate graph (0 = off);
    ``verify``: confirm duplicate candidates with local features (:mod:`search.descriptor.verify`);
    ``dims``: dimensions kept of the whitened space (its leading principal axes; 0 = all).
    """

    rotations: int = 4
    frames: bool = True
    whiten: bool = True
    labels: float = 0.5  # measured: see README (0.2 -> 0.5: hymenoptera precision@10 +0.011)
    expand: int = 3
    verify: bool = False
    dims: int = WHITENED_DIMS

    def __post_init__(self) -> None:
        if self.rotations not in ROTATION_SETS:
            raise DescriptorError(f"rotations must be one of {sorted(ROTATION_SETS)}")
        if not 0.0 <= self.labels < 1.0:
            raise DescriptorError("labels weight must be in [0, 1)")
        if not 0 <= self.expand <= 50:
            raise DescriptorError("expand must be in 0..50")
        if not (self.dims == 0 or 16 <= self.dims <= 4096):
            raise DescriptorError("dims must be 0 (all) or in 16..4096")

    @classmethod
    def plain(cls) -> DescriptorConfig:
        return cls(rotations=1, frames=False, whiten=False, labels=0.0, expand=0, verify=False)

    @property
    def angles(self) -> tuple[int, ...]:
        return ROTATION_SETS[self.rotations]

    @property
    def is_plain(self) -> bool:
        return self == DescriptorConfig.plain()

    @classmethod
    def parse(cls, text: str | None) -> DescriptorConfig:
        """``"default"``, ``"plain"``, or ``key=value`` pairs over a base, comma separated:
        ``"plain,frames=on"``, ``"whiten=off,labels=0"``, ``"rotations=1"``."""
        config = cls()
        for part in [p.strip() for p in (text or "default").split(",") if p.strip()]:
            if part in ("default", "best"):
                config = cls()
                continue
            if part == "plain":
                config = cls.plain()
                continue
            key, sep, value = part.partition("=")
            names = {f.name for f in fields(cls)}
            if not sep or key not in names:
                raise DescriptorError(
                    f"unknown descriptor option {part!r}: use default, plain or "
                    f"{'/'.join(sorted(names))}=VALUE"
                )
            config = replace(config, **{key: _value(key, value)})
        return config

    def describe(self) -> str:
        onoff = {True: "on", False: "off"}
        return (
            f"rotations={self.rotations},frames={onoff[self.frames]},"
            f"whiten={onoff[self.whiten]},labels={self.labels:g},expand={self.expand},"
            f"verify={onoff[self.verify]},dims={self.dims}"
        )

    @property
    def fingerprint(self) -> str:
        """What indexes built for this configuration are stamped with (with the whitening's)."""
        text = f"v{DESCRIPTOR_VERSION}:{self.describe()}"
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def _value(key: str, value: str) -> object:
    v = value.strip().lower()
    try:
        if key in ("rotations", "expand", "dims"):
            return int(v)
        if key == "labels":
            return float(v)
    except ValueError:
        raise DescriptorError(f"{key} needs a number, got {value!r}") from None
    if v in ("1", "on", "yes", "true"):
        return True
    if v in ("0", "off", "no", "false"):
        return False
    raise DescriptorError(f"{key} must be on or off, got {value!r}")


@dataclass(frozen=True)
class Calibration:
    """Background of copy scores in one library (random pairs of different images): robust
    centre/width (``median``, ``spread`` = 1.4826 x MAD) and ``mean``/``sd``."""

    median: float
    spread: float
    mean: float = 0.0
    sd: float = 1.0

    def z(self, scores: np.ndarray | float) -> np.ndarray:
        """Robust z (internal: the label gate and the expansion)."""
        return (np.asarray(scores, dtype=np.float64) - self.median) / self.spread

    def score(self, z: float) -> float:
        """The copy score at robust ``z`` (inverse of :meth:`z`)."""
        return float(self.median + z * self.spread)

    def duplicate_z(self, scores: np.ndarray | float) -> np.ndarray:
        """The user-facing calibrated score: standard deviations above the mean."""
        return (np.asarray(scores, dtype=np.float64) - self.mean) / self.sd

    def duplicate_threshold(self, z: float = DUPLICATE_Z) -> float:
        """The copy score at ``duplicate_z == z`` (default: the duplicate decision)."""
        return float(self.mean + z * self.sd)


# The plain space's background measured on the dev copy sets and hymenoptera (random pairs of
# different photos, frames on): median ~0.09, 1.4826 x MAD ~0.09, mean ~0.12, sd ~0.12.
PLAIN_BACKGROUND = Calibration(median=0.09, spread=0.09, mean=0.12, sd=0.12)


@dataclass
class StoredImage:
    """What a library holds for one image: raw vector, optional framed-photo vector, labels."""

    vector: np.ndarray
    frame: np.ndarray | None = None
    frame_dominant: bool = False
    labels: Sequence[tuple[str, float]] = ()


def label_vectors(
    labels: Sequence[Sequence[tuple[str, float]]], vocabulary: dict[str, int]
) -> np.ndarray:
    """Unit rows of sqrt(probability) over ``vocabulary`` from each image's top labels
    (new names are added to ``vocabulary``; images without labels give zero rows)."""
    for row in labels:
        for name, _ in row[:TOP_LABELS]:
            vocabulary.setdefault(name, len(vocabulary))
    out = np.zeros((len(labels), max(1, len(vocabulary))), np.float32)
    for i, row in enumerate(labels):
        for name, p in row[:TOP_LABELS]:
            out[i, vocabulary[name]] = np.sqrt(max(0.0, float(p)))
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-12)


class Descriptor:
    """A configuration plus what the library learned (whitening, calibration)."""

    def __init__(
        self,
        config: DescriptorConfig | None = None,
        whitening: Whitening | None = None,
        calibration: Calibration | None = None,
    ) -> None:
        self.config = config or DescriptorConfig()
        self.whitening = whitening if self.config.whiten else None
        dims = self.config.dims
        if self.whitening is not None and 0 < dims < self.whitening.dimension:
            w = self.whitening  # its rows are the principal axes, the strongest first
            self.whitening = Whitening(w.mean, w.projection[:dims], w.pairs, w.images)
        self.calibration = calibration

    @property
    def fingerprint(self) -> str:
        extra = self.whitening.fingerprint if self.whitening is not None else "none"
        return f"{self.config.fingerprint}-{extra}"

    # -- vectors ----------------------------------------------------------------------------

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        """Raw unit embeddings -> the searched space (whitened when learned), unit rows."""
        x = np.asarray(vectors, dtype=np.float32)
        if self.whitening is not None:
            return self.whitening.apply(x)
        norms = np.linalg.norm(x, axis=-1, keepdims=True)
        return (x / np.maximum(norms, 1e-12)).astype(np.float32)

    def stored_rows(self, images: Sequence[StoredImage]) -> tuple[np.ndarray, np.ndarray]:
        """``(rows [M, D'], owner [M])``: the searched vectors of each image (the whole image
        unless a frame dominates it, plus the framed photo when frames are on)."""
        rows, owner = [], []
        for i, img in enumerate(images):
            use_frame = self.config.frames and img.frame is not None
            if not (use_frame and img.frame_dominant):
                rows.append(img.vector)
                owner.append(i)
            if use_frame:
                rows.append(img.frame)
                owner.append(i)
        if not rows:
            return np.zeros((0, 1), np.float32), np.zeros(0, np.int64)
        return self.transform(np.stack(rows)), np.asarray(owner, np.int64)

    def query_rows(
        self, embeddings: np.ndarray, names: Sequence[str], frame_dominant: bool = False
    ) -> np.ndarray:
        """The searched query views [V, D'] of a :class:`models.views.ViewSet`'s embeddings:
        the configured rotations, frame views when frames are on, and only the frame's views
        when the frame dominates (a screenshot)."""
        keep = []
        for i, name in enumerate(names):
            kind, _, angle = name.partition("@")
            if int(angle or 0) not in self.config.angles:
                continue
            if kind == "frame" and not self.config.frames:
                continue
            if kind == "full" and frame_dominant and self.config.frames:
                continue
            keep.append(i)
        if not keep:
            keep = [0]
        return self.transform(np.asarray(embeddings)[keep])

    # -- scores -----------------------------------------------------------------------------

    def copy_scores(
        self, query: np.ndarray, rows: np.ndarray, owner: np.ndarray, count: int
    ) -> np.ndarray:
        """Best cosine of any query view with any row of each of ``count`` images (-inf for
        an image without rows)."""
        out = np.full(count, -np.inf, np.float32)
        if len(rows):
            best = (np.asarray(query, np.float32) @ rows.T).max(axis=0)
            np.maximum.at(out, owner, best)
        return out

    def gate(self, copy: np.ndarray) -> np.ndarray:
        """~1 for scores well above the background (copies), ~0 for the rest."""
        if self.calibration is None:
            return np.zeros_like(np.asarray(copy, np.float64))
        z = self.calibration.z(copy)
        return 1.0 / (1.0 + np.exp(-np.clip((z - GATE_Z) / GATE_WIDTH, -50, 50)))

    def rank_scores(self, copy: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
        """Ranking score from copy scores and label similarities (same shapes)."""
        w = self.config.labels
        c = np.asarray(copy, np.float64)
        if not w or labels is None:
            return c.astype(np.float32)
        g = self.gate(c)
        return ((1 - w) * c + w * (g + (1 - g) * np.asarray(labels, np.float64))).astype(np.float32)

    def expand(self, copy: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
        """Duplicate-graph expansion of copy scores ``copy`` [Q, N] (row: one query against
        the N stored images; the query itself, if stored, must be -inf) through the stored
        images' copy scores among themselves ``neighbours`` [N, N] (see the module doc)."""
        k = min(self.config.expand, copy.shape[1])
        if not k or self.calibration is None:
            return copy
        sure = self.calibration.score(EXPAND_Z)
        decision = self.calibration.duplicate_threshold()
        out = copy.copy()
        graph = np.where(neighbours >= sure, neighbours, -np.inf)
        for q in range(copy.shape[0]):
            ks = hub_order(copy[q], sure, k)
            if len(ks):
                chained = chain_scores(copy[q, ks][:, None], graph[ks], copy[q], decision)
                out[q] = np.maximum(out[q], chained.max(axis=0))
        return out

    def calibrate(
        self, images: Sequence[StoredImage], *, pairs: int = BACKGROUND_PAIRS, seed: int = 0
    ) -> Calibration:
        """Background of copy scores from random pairs of different stored images
        (:data:`PLAIN_BACKGROUND` for plain-space libraries under MIN_CALIBRATION_IMAGES)."""
        if len(images) < MIN_CALIBRATION_IMAGES and self.whitening is None:
            self.calibration = PLAIN_BACKGROUND
            return self.calibration
        rows, owner = self.stored_rows(images)
        if len(images) < 3:
            raise DescriptorError("need at least 3 images to measure the background")
        rng = np.random.default_rng([seed, 0xCA1])
        a = rng.integers(0, len(rows), pairs)
        b = rng.integers(0, len(rows), pairs)
        keep = owner[a] != owner[b]
        a, b = a[keep], b[keep]
        # In blocks: the rows of 20 000 pairs gathered at once are 2 x 80 MB (1024-d), fresh
        # pages every time; the per-pair sums are the same.
        scores = np.concatenate(
            [np.zeros(0, np.float32)]
            + [
                (rows[a[i : i + 1024]] * rows[b[i : i + 1024]]).sum(axis=1)
                for i in range(0, len(a), 1024)
            ]
        )
        median = float(np.median(scores))
        spread = max(1e-3, float(1.4826 * np.median(np.abs(scores - median))))
        sd = max(1e-3, float(scores.std()))
        self.calibration = Calibration(median, spread, float(scores.mean()), sd)
        return self.calibration
