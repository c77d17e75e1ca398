"""Which image of a duplicate group to keep: the one the others were made from.

Rules (their order is :data:`KEEPER_RULES`, changed by ``imgsearch dedup --keeper-rules``) are
compared in turn; the first one on which two images differ decides:

- ``exif``: has an EXIF capture time (cameras write one; screenshots, editors and converters
  mostly drop it);
- ``frame``: not inside a frame (a screenshot, padding or caption bars around the photo, as the
  indexer found it: :attr:`DedupImage.frame`, or dedup: :mod:`search.dedup.padded`), nor a
  collage's cell (``dedup --verify`` found another image's picture in it:
  :attr:`DedupImage.collage`), nor a crop of another image's picture
  (:attr:`DedupImage.crop`): the framed or cropped file is made from the photo;
- ``format``: the format a camera or scanner writes (JPEG, HEIF, TIFF) before web re-encodes
  (WebP, AVIF) before lossless re-saves and the rest (PNG, GIF, BMP ...): a PNG of a photo is a
  re-save, and its larger file says nothing about being first;
- ``resolution``: most pixels of the photo itself (inside its frame, if any; an enlargement
  counts the pixels it was enlarged from: :mod:`search.dedup.upscaled`);
- ``oldest``: earliest EXIF capture time, then earliest file mtime (unknown times last): a copy
  is made after its original (a copy that kept the EXIF time ties, and the file dates decide);
- ``filesize``: largest file (the weakest hint: a re-encode at a higher quality is larger
  without being more original), for images tied on everything else.

Each rule reads only what the library stores about a file; none is tuned to a data set.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from search.dedup.errors import DedupError
from search.units import human_size

KEEPER_RULES = ("exif", "frame", "format", "resolution", "oldest", "filesize")
DEFAULT_KEEPER_RULES: tuple[str, ...] = KEEPER_RULES
# Formats by how original a photo in them can be: what cameras and scanners write, then web
# re-encodes, then everything else (lossless re-saves such as PNG, GIF, BMP; unknown).
CAMERA_FORMATS = frozenset({"JPEG", "MPO", "HEIF", "HEIC", "TIFF", "DNG"})
REENCODE_FORMATS = frozenset({"WEBP", "AVIF", "JPEG2000", "JXL"})
DEFAULT_KEEPER_RULES: tuple[str, ...] = KEEPER_RULES


@dataclass(frozen=True, slots=True)
class DedupImage:
    """What dedup needs to know about one image; ``sha256`` decides exact duplicates."""

    id: int
    path: str
    file_size: int
    width: int
    height: int
    sha256: str | None = None
    exif_datetime: datetime | None = None
    mtime: float | None = None
    format: str | None = None  # as decoded (PIL's name: JPEG, PNG, WEBP ...)
    #: the photo's box when it is framed: (width, height) as fractions of the image's
    frame: tuple[float, float] | None = None
    #: a collage holding another image's picture in one of its cells (``frame``: that cell)
    collage: bool = False
    #: a crop of another image's picture (dedup found its picture inside that one's:
    #: :mod:`search.dedup.cropped`)
    crop: bool = False
    #: an enlargement of another image (:mod:`search.dedup.upscaled`): the size its detail has
    detail: tuple[int, int] | None = None
    #: ... or maybe one: kept by its resolution, a weak decision (``resolution_unsure``)
    soft: bool = False

    @property
    def pixels(self) -> int:
        return max(0, self.width) * max(0, self.height)

    @property
    def content_size(self) -> tuple[int, int]:
        """Width and height of the photo itself: the whole image, or the photo in its frame."""
        if self.frame is None:
            return max(0, self.width), max(0, self.height)
        fw, fh = (min(1.0, max(0.0, f)) for f in self.frame)
        return round(max(0, self.width) * fw), round(max(0, self.height) * fh)

    @property
    def content_pixels(self) -> int:
        width, height = self.content_size
        return width * height

    @property
    def detail_pixels(self) -> int:
        """The photo's pixels, or those of the image it was enlarged from (:attr:`detail`)."""
        if self.detail is None:
            return self.content_pixels
        return min(self.content_pixels, max(0, self.detail[0]) * max(0, self.detail[1]))

    @property
    def format_rank(self) -> int:
        """0: a camera's format, 1: a web re-encode, 2: a lossless re-save or unknown."""
        name = (self.format or "").upper()
        return 0 if name in CAMERA_FORMATS else 1 if name in REENCODE_FORMATS else 2


def _naive_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def _rule_key(rule: str, img: DedupImage) -> tuple:
    if rule == "resolution":  # an enlargement after what it was enlarged from
        return (-img.detail_pixels, img.detail is not None)
    if rule == "frame":
        return (img.frame is not None or img.crop,)
    if rule == "format":
        return (img.format_rank,)
    if rule == "filesize":
        return (-max(0, img.file_size),)
    if rule == "exif":
        return (0 if img.exif_datetime is not None else 1,)
    exif = _second(img.exif_datetime)  # a copy without the fraction is no older
    mtime = img.mtime if img.mtime is not None and math.isfinite(img.mtime) else None
    return (
        exif is None,
        _naive_utc(exif) if exif is not None else datetime.min,
        mtime is None,
        mtime if mtime is not None else 0.0,
    )


def taken_apart(a: datetime | None, b: datetime | None) -> bool:
    """Two EXIF capture times, both known and unequal: two shots of a scene, never a copy
    and its photo - an edited copy keeps its photo's capture time or has none. Seconds apart
    from one tripod, two shots still score like copies. (``dedup`` and searches alike.)
    Within one second the fractions (SubSecTime) tell a burst's shots apart where both
    have one: an editor that kept the time may have dropped the fraction."""
    if a is None or b is None:
        return False
    if a.replace(microsecond=0) != b.replace(microsecond=0):
        return True
    return bool(a.microsecond and b.microsecond and a.microsecond != b.microsecond)


def capture_text(when: datetime, other: datetime | None = None) -> str:
    """A capture time as shown: to the second, with its fraction where ``other`` shares the
    second (two shots of one burst)."""
    text = f"{when:%Y-%m-%d %H:%M:%S}"
    if other is not None and when.microsecond and _second(when) == _second(other):
        text += f".{when.microsecond:06d}".rstrip("0")
    return text


def _second(when: datetime | None) -> datetime | None:
    """A capture time to the second (a copy's editor may have dropped the fraction)."""
    return None if when is None else when.replace(microsecond=0)


def distinct_exposures(a: DedupImage, b: DedupImage) -> bool:
    """Two pictures taken at different times (:func:`taken_apart`)."""
    return taken_apart(a.exif_datetime, b.exif_datetime)


def check_keeper_rules(rules: Sequence[str]) -> tuple[str, ...]:
    """Validate a rule order such as ``("exif", "resolution", "filesize")`` (any subset of
    :data:`KEEPER_RULES`; images tied on every rule given are ordered by path)."""
    if isinstance(rules, str):
        rules = [r.strip() for r in rules.split(",") if r.strip()]
    rules = tuple(rules)
    bad = [r for r in rules if r not in KEEPER_RULES]
    if bad or len(set(rules)) != len(rules):
        raise DedupError(f"keeper rules must be distinct names from {KEEPER_RULES}, got {rules}")
    return rules


def keeper_key(img: DedupImage, rules: Sequence[str] = DEFAULT_KEEPER_RULES) -> tuple:
    """Sort key: the best keeper sorts first; ties end on path, then id."""
    return (*(_rule_key(r, img) for r in rules), img.path, img.id)


def _when(img: DedupImage, precise: bool = False) -> str:
    if img.exif_datetime is not None:
        return f"taken {img.exif_datetime:%Y-%m-%d %H:%M:%S}"
    return _modified(img, precise)


def _modified(img: DedupImage, precise: bool = False) -> str:
    if img.mtime is not None and math.isfinite(img.mtime):
        stamp = datetime.fromtimestamp(img.mtime, tz=UTC)
        fraction = f".{stamp.microsecond // 1000:03d}" if precise else ""
        return f"modified {stamp:%Y-%m-%d %H:%M:%S}{fraction} UTC"
    return "no date"


def _times(when: Callable[..., str], keeper: DedupImage, other: DedupImage) -> str:
    """``when(keeper) vs when(other)``, to the millisecond where the seconds read alike (files
    written in one second: it said "modified 01:23:43 UTC vs modified 01:23:43 UTC")."""
    shown = when(keeper), when(other)
    if shown[0] == shown[1]:
        shown = when(keeper, True), when(other, True)
    return f"{shown[0]} vs {shown[1]}"


def _size(img: DedupImage) -> str:
    if img.frame is None:
        return f"{img.width}x{img.height}"
    width, height = img.content_size
    holder = "collage's cell" if img.collage else "frame"
    return f"{width}x{height} in a {img.width}x{img.height} {holder}"


_FORMAT_KINDS = ("a camera format", "a web re-encode", "a re-save")


def _explain(rule: str, keeper: DedupImage, other: DedupImage) -> str:
    if rule == "resolution" and other.detail is not None and keeper.detail is None:
        width, height = other.detail
        return (
            f"the photo the other was enlarged from (its {other.width}x{other.height} hold no "
            f"detail finer than {width}x{height})"
        )
    if rule == "resolution" and keeper.soft:
        return (
            f"highest resolution of the photo ({_size(keeper)} vs {_size(other)}), but it "
            "may be an enlargement of the other: little detail finer than the other's"
        )
    if rule == "resolution":
        return f"highest resolution of the photo ({_size(keeper)} vs {_size(other)})"
    if rule == "frame" and other.crop:
        return "the whole picture (the other is a crop of it, enlarged or not)"
    if rule == "frame" and other.collage:
        return f"not a collage's cell (the other holds this picture in a cell: {_size(other)})"
    if rule == "frame":
        return (
            f"not inside a frame (the other's photo is framed: screenshot, padding, caption "
            f"or blurred background; {_size(other)})"
        )
    if rule == "format":
        return (
            f"original format ({keeper.format or '?'}: {_FORMAT_KINDS[keeper.format_rank]}"
            f" vs {other.format or '?'}: {_FORMAT_KINDS[other.format_rank]})"
        )
    if rule == "filesize":
        return f"largest file ({human_size(keeper.file_size)} vs {human_size(other.file_size)})"
    if rule == "exif":
        return "has an EXIF capture time (the other has none)"
    if keeper.exif_datetime is not None and _second(keeper.exif_datetime) == _second(
        other.exif_datetime
    ):
        both = f"both taken {keeper.exif_datetime:%Y-%m-%d %H:%M:%S}"  # the file times decided
        return f"oldest file ({both}; {_times(_modified, keeper, other)})"
    return f"oldest ({_times(_when, keeper, other)})"


def choose_keeper(
    images: Sequence[DedupImage], rules: Sequence[str] = DEFAULT_KEEPER_RULES
) -> tuple[DedupImage, str]:
    """The best image by ``rules`` and why: the first rule on which it beats the runner-up."""
    rules = check_keeper_rules(rules)
    if not images:
        raise DedupError("choose_keeper needs at least one image")
    ranked = sorted(images, key=lambda im: keeper_key(im, rules))
    keeper = ranked[0]
    if len(ranked) == 1:
        return keeper, "only image"
    return keeper, kept_over(keeper, ranked[1], rules)


def kept_over(
    keeper: DedupImage, other: DedupImage, rules: Sequence[str] = DEFAULT_KEEPER_RULES
) -> str:
    """Why ``keeper`` comes before ``other``: the first rule on which they differ (and the
    rules they tied on before it)."""
    rules = check_keeper_rules(rules)
    i = _first_difference(keeper, other, rules)
    if i is None:
        return "all rules tie; first by path"
    tied = f" (tied on {', '.join(rules[:i])})" if i else ""
    return _explain(rules[i], keeper, other) + tied


def _first_difference(keeper: DedupImage, other: DedupImage, rules: Sequence[str]) -> int | None:
    """The index of the first of ``rules`` (checked) on which the two differ; None: none."""
    return next(
        (i for i, rule in enumerate(rules) if _rule_key(rule, keeper) != _rule_key(rule, other)),
        None,
    )


#: what :func:`decided_by` names that says little of which file is the original: file dates
#: (copying a folder renews them, in copy order), the larger file (a noisier, sharpened or
#: higher-quality re-encode is larger), the path
WEAK_DECISIONS = frozenset({"modified", "filesize", "path", "resolution_unsure"})


def decided_by(
    keeper: DedupImage, other: DedupImage, rules: Sequence[str] = DEFAULT_KEEPER_RULES
) -> str:
    """The rule that puts ``keeper`` before ``other`` - ``oldest`` named ``modified`` where
    the file dates decided (no EXIF time, or the same), ``path`` where every rule ties -
    so that a script can leave the :data:`WEAK_DECISIONS` to a person."""
    rules = check_keeper_rules(rules)
    i = _first_difference(keeper, other, rules)
    if i is None:
        return "path"
    if rules[i] == "oldest" and _second(keeper.exif_datetime) == _second(other.exif_datetime):
        return "modified"
    if rules[i] == "resolution" and keeper.soft:  # maybe an enlargement of the other
        return "resolution_unsure"
    return rules[i]
