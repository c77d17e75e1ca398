"""The descriptor's options (:class:`DescriptorConfig`: parsed from ``--descriptor``, recorded
per library, fingerprinted) and the constants they default to."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields, replace

from search.descriptor.errors import DescriptorError

DESCRIPTOR_VERSION = 1
ROTATION_SETS = {1: (0,), 2: (0, 180), 4: (0, 90, 180, 270)}
GATE_Z = 4.0  # robust z above which labels stop mattering, plain space (tuned: dev, hymenoptera)
GATE_Z_WHITENED = 8.0  # ... in a whitened space, where look-alikes of one class sit at z 4-8
# (with the copy tier, whitened hymenoptera precision@10 0.861 at 4 -> 0.916 at 8; small dev
# library recall@1 1.000 either way; 10 / 12 cost it 0.008 / 0.021)
GATE_WIDTH = 0.5
TIER_MARGIN = 0.0  # copy tier reaches this many spreads below the best unsure candidate
# (measured: 0.5 / 1 / 2 cost hymenoptera precision@10 0.916 -> 0.894 / 0.861 / 0.852)
TURNED_VIEW_DISCOUNT = 0.05  # a turned query view's cosine counts this share less (tuned: dev)
TURNED_WEAK_MARGIN = 0.05  # ... and below the sure-copy score this much less again (ignoring
# such matches lost a rotated view of one UKBench object: N-S 4.000 -> 3.982; 0.02-0.05 kept
# 4.000, 0.1 lost it too; the turned-view look-alikes it removes: bench/README.md); such a
# match is also capped just under the query's best upright one (Descriptor.view_scores)
REGION_COSINE = 0.79  # plain cosine a query tile's match needs to count: a copy inside the
# tile (tuned on holdout photos-30: collage tiles vs their photo 0.80-0.92, p50 0.88; the best
# tile match of other photos at most 0.77 outside sepia + noise, where whole views err too)
REGION_SCORE = 0.75  # ... and the cosine in the library's space (whitened: collage tiles vs
# their photo 0.81-0.97 on photos-30; quarters of other generated scenes that pass the plain
# cosine on scenes-50 0.57-0.62)
REGION_CHECKED = 10  # a query's best tile matches whose plain cosine is read and checked
REGION_NOMINATED = 1  # tile matches at a sure copy's z not raised by the two cosines: the
# best sent to the key points (a collage's picture, plain cosine 0.72-0.78 for the collages
# photos-50 / photos-120 missed)
CELL_NOMINATED = 3  # a collage cell's best matches at any z (raised ones too), sent to the key
# points of the cell that matched each (a 3x3 grid's photo: plain cosine 0.62-0.86 to its
# original in a photos-50 library, under a sure copy's z; bench/README.md, "Collages")
VERIFY_Z = 3.0  # duplicate_z from which a candidate is worth a geometric check (dedup --verify;
# a query's grey band is checked from GREY_BAND_Z, below)
VERIFIED_Z = 8.0  # robust z a geometrically confirmed copy scores at least (where look-alikes
# of one class end in a whitened space: GATE_Z_WHITENED), never below the duplicate decision
# nor, in a whitened space, below duplicate_z WITNESS_Z (Calibration.confirmed_z)
VERIFY_CHECKED = 6  # grey-band check: a query's best grey-band candidates checked (files read)
LOOKUP_CHECKED = 12  # a reverse lookup's grey-band check: every query's, however settled, and its
# best this many (bench/README.md, "A reverse lookup checks every query's grey band")
GREY_BAND_Z = 2.0  # duplicate_z from which a query's grey band is checked by key points (a
# search's and a lookup's; dedup --verify's pairs from VERIFY_Z, and from here only to attach
# images no group took: search.dedup.confirmed): chosen on a hold-out scenes set of another
# seed than the reported ones (bench/README.md, "The grey band from z 2")
VERIFY_BUDGET_S = 1.0  # ... and no new check started after this long (a busy machine)
EXPAND_Z = 6.0  # robust z of a sure copy: only those are chained (hymenoptera unaffected)
WHITENED_DIMS = 128  # leading axes of the whitened space kept (measured: see README)
DUPLICATE_Z = 6.0  # duplicate_z threshold: 99 % pair precision with look-alikes (see above)
WITNESS_Z = 8.0  # duplicate_z below which a query's lesser copy must be a copy of a better one
# (search.descriptor.witness; whitened look-alikes of one class reach z 6-8.5: bench/README)
LOCAL_WITNESS_Z = 10.0  # duplicate_z below which a query's lesser copy must match it by key
# points (``local``: look-alike pairs the library itself scores reach z 9.6; bench/README)
WITNESS_BETTER = 3  # better copies a lesser copy's key points are matched with besides the
# query's: those its stored image is most like, one of each picture (the witness's 12 pairs;
# tuned on hold-out photos-50 against its base: true flags +96 / +98 / +98 and wrong flags
# -3 / -3 / +5 with 2 / 3 / every one: bench/README.md "The witness's pairs")
VOUCH_Z = 4.0  # duplicate_z at which two of a query's copies must each hold a hit (their stored
# rows) for its key points to be asked whether it is a copy of theirs (search.descriptor.vouched;
# chosen on hold-out photos-50: duplicate recall 0.954 / 0.949 / 0.931 at z 3 / 4 / 5, no wrong
# flag gained at any; bench.http's 300 uploads asked 8 / 4 / 2 times, 2 / 0 / 0 refuted)
TURNED_DOUBT_Z = 4.0  # duplicate_z from which a settled query's other candidate is in doubt:
# ``upright_first`` embeds its turned views too (search.descriptor.settled; dev copy set, each
# direction: 67 / 306 / 2,314 copy flags of 15,381 lost from z 4 / 5 / without the band;
# bench.http's uploads answered from their upright views: 179 of 300 at z 4, 58 at z 3)
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
    ``verify``: confirm duplicate candidates with local features (:mod:`search.descriptor.verify`;
    queries: the best grey-band candidates of a query left without a sure copy, as ``local``
    does; the offline evaluation: every file's best candidate pairs);
    ``dims``: dimensions kept of the whitened space (its leading principal axes; 0 = all);
    ``regions``: a query whose views leave no sure copy also looks with its 2x2 tiles, and a
    tile's match counts where it holds a copy (``REGION_COSINE``; query side only);
    ``local``: key-point evidence in queries (query side only): a query's copies below its
    best one (under ``LOCAL_WITNESS_Z``) keep the copy decision only when their key points
    match the query's (:mod:`search.descriptor.witness`), and a query left without a sure copy
    has its grey-band candidates checked (:attr:`checks_grey_band`);
    ``unblock``: a pixelated query (a grid of flat blocks: :mod:`models.mosaic`) is also
    searched with its blocks smoothed out (query side only);
    ``crops``: each image's five crops are embedded at index time too (five more model
    inputs an image, :mod:`models.crops`), and a query left without a sure copy has the
    stored images whose crops match it best checked by key points (off by default: the
    indexing cost; :mod:`search.query.library_crops`).
    """

    rotations: int = 4
    frames: bool = True
    whiten: bool = True
    labels: float = 0.5  # measured: see README (0.2 -> 0.5: hymenoptera precision@10 +0.011)
    expand: int = 3
    verify: bool = False
    dims: int = WHITENED_DIMS
    regions: bool = True
    local: bool = True
    unblock: bool = True
    crops: bool = False

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
        return cls(
            rotations=1,
            frames=False,
            whiten=False,
            labels=0.0,
            expand=0,
            verify=False,
            regions=False,
            local=False,
            unblock=False,
        )

    @property
    def checks_grey_band(self) -> bool:
        """Whether a query left without a sure copy has its best grey-band candidates checked
        by key points (:mod:`search.query.local_check`): with ``local`` (the default) or
        ``verify``. Measured at every library size (bench/README.md, "The grey-band check at
        every library size"): no edit kind lower, duplicate recall up on every set."""
        return self.verify or self.local

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

    def options(self) -> dict[str, str]:
        """Every option's value as ``--descriptor`` spells it, ``crops`` too when off."""
        onoff = {True: "on", False: "off"}
        stored = dict(part.split("=") for part in self._stored_text().split(","))
        return stored | {
            "regions": onoff[self.regions],
            "local": onoff[self.local],
            "unblock": onoff[self.unblock],
            "crops": onoff[self.crops],
        }

    def describe(self) -> str:
        """:meth:`options` as text (``crops`` named only when on: libraries described before
        it existed read the same)."""
        shown = {k: v for k, v in self.options().items() if k != "crops" or v == "on"}
        return ",".join(f"{k}={v}" for k, v in shown.items())

    def _stored_text(self) -> str:
        onoff = {True: "on", False: "off"}
        return (
            f"rotations={self.rotations},frames={onoff[self.frames]},"
            f"whiten={onoff[self.whiten]},labels={self.labels:g},expand={self.expand},"
            f"verify={onoff[self.verify]},dims={self.dims}"
        )

    @property
    def fingerprint(self) -> str:
        """What indexes built for this configuration are stamped with (with the whitening's;
        ``regions``, ``local`` and ``unblock`` only change queries, ``crops`` what is stored
        beside the vectors: not part of it)."""
        text = f"v{DESCRIPTOR_VERSION}:{self._stored_text()}"
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
