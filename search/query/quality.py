"""Filtering results by quality flags (too dark, overexposed, blurry, tiny, almost uniform;
:mod:`models.quality`): searches, ``similar`` and browsing take a :class:`QualityFilter`;
:class:`ShownHits` is what a search keeps of its scored candidates."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from models.quality import FLAGS, flag_bits, flag_names
from search.descriptor import ScoredHit
from search.query.errors import QueryError
from search.query.results import SCORE_DECIMALS, SearchHit
from search.store import StoredImage

ANY = "any"
"""``flag=any``: images with any flag at all."""
WIDEN = 4
"""A filtered search looks among the ``WIDEN * k + 40`` nearest images."""


def flag_name_list(values: str | Iterable[str] | None) -> list[str]:
    """Flag names from repeated and/or comma-separated values."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    return [part.strip() for value in values for part in str(value).split(",") if part.strip()]


def _bits(values: str | Iterable[str] | None, what: str) -> int:
    names = flag_name_list(values)
    if ANY in [n.lower() for n in names]:
        return sum(FLAGS.values())
    try:
        return flag_bits(names)
    except ValueError as error:
        raise QueryError(f"{what}: {error} (or {ANY!r})") from None


@dataclass(frozen=True)
class QualityFilter:
    """Keep images with at least one of ``include``'s flags and none of ``exclude``'s (bits);
    an image never measured (no flags stored) passes only an exclude-only filter."""

    include: int = 0
    exclude: int = 0

    @classmethod
    def parse(
        cls,
        include: str | Iterable[str] | None = None,
        exclude: str | Iterable[str] | None = None,
        names: tuple[str, str] = ("flag", "exclude_flag"),
    ) -> QualityFilter | None:
        """A filter from flag names (repeated or comma-separated; ``any``); None when empty.
        Raises QueryError naming an unknown flag, or a flag both asked for and excluded;
        ``names``: what the asker calls the two (the CLI: ``--flag``, ``--exclude-flag``)."""
        wanted = _bits(include, names[0])
        unwanted = _bits(exclude, names[1])
        if wanted & unwanted and wanted & ~unwanted == 0:
            raise QueryError(
                f"{names[0]} and {names[1]} leave nothing: {', '.join(flag_names(wanted))} "
                "both asked for and excluded"
            )
        return cls(wanted, unwanted) if wanted or unwanted else None

    def keeps(self, bits: int | None) -> bool:
        """Whether an image with these stored flag bits (None: not measured) passes."""
        if bits is None:
            return not self.include
        return (not self.include or bool(bits & self.include)) and not bits & self.exclude

    def candidates(self, k: int) -> int:
        """How many nearest images a filtered search of ``k`` results looks among."""
        return WIDEN * int(k) + 40

    def hits(self, hits: Sequence[SearchHit], k: int) -> list[SearchHit]:
        """The first ``k`` of ``hits`` that pass, ranked again from 1."""
        kept = [h for h in hits if self.keeps(h.quality_flags)][:k]
        return [replace(h, rank=n) for n, h in enumerate(kept, start=1)]

    def to_dict(self) -> dict[str, list[str]]:
        return {"flag": flag_names(self.include), "exclude_flag": flag_names(self.exclude)}


@dataclass
class ShownHits:
    """What a search returns of its scorer's ranked candidates: rows still stored (``read``
    by id), kept by ``flags``, the first ``k`` (a ``min_score`` is asked of their final scores:
    :func:`search.query.scored_hits.hits_from_scores`). :meth:`shown`
    is the scorer's callback (only those hits get their duplicate decisions asked of the key
    point witnesses); :meth:`select` returns them with the rows it read."""

    read: Callable[[list[int]], dict[int, StoredImage]]
    k: int
    flags: QualityFilter | None = None
    rows: dict[int, StoredImage] = field(default_factory=dict)
    kept: list[int] = field(default_factory=list)

    def shown(self, ids: list[int], ranks: list[float]) -> list[int]:
        self.rows.update(self.read(ids))
        self.kept = [i for i in ids if self._keeps(i)]
        self.kept = self.kept[: self.k]
        return self.kept

    def select(self, found: Sequence[ScoredHit]) -> list[tuple[ScoredHit, StoredImage]]:
        """The shown hits of ``found`` (ranks rounded for display) with their rows."""
        kept = set(self.kept)
        return [
            (replace(h, rank=_shown_rank(h.rank)), self.rows[h.id]) for h in found if h.id in kept
        ]

    def _keeps(self, image_id: int) -> bool:
        row = self.rows.get(image_id)
        return row is not None and not (self.flags and not self.flags.keeps(row.quality_flags))


def _shown_rank(rank: float) -> float:
    return round(min(1.0, rank), SCORE_DECIMALS)
