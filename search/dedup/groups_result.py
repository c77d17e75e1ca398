"""What :func:`search.dedup.find_duplicates` returns: groups of a keeper and its members."""

from __future__ import annotations

from dataclasses import dataclass, field

from search.dedup.keeper import DedupImage

__all__ = ["DedupGroup", "DedupMember", "DedupResult"]


@dataclass(frozen=True, slots=True)
class DedupMember:
    """A duplicate of its group's keeper: cosine ``score`` to it (to member ``via`` when set:
    :mod:`search.dedup.confirmed`), ``exact`` if same sha256 (or, once a library's report
    decoded them, same pixels: :func:`search.query.library_dedup.same_pixels`), ``verified``
    if local features confirmed it below the threshold (``dedup --verify``)."""

    image: DedupImage
    score: float
    exact: bool
    verified: bool = False
    via: int | None = None


@dataclass(frozen=True, slots=True)
class DedupGroup:
    keeper: DedupImage
    reason: str
    members: tuple[DedupMember, ...]  # the duplicates, keeper not included

    @property
    def images(self) -> tuple[DedupImage, ...]:
        return (self.keeper, *(m.image for m in self.members))


@dataclass(frozen=True)
class DedupResult:
    threshold: float | None  # None: exact copies only (``near=False``)
    groups: tuple[DedupGroup, ...]
    keeper_rules: tuple[str, ...]
    linkage: str
    stats: dict[str, object] = field(default_factory=dict)

    @property
    def duplicate_count(self) -> int:
        return sum(len(g.members) for g in self.groups)
