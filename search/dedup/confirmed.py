"""What ``dedup --verify`` confirmed, in the groups: members' own scores, and the images no
group took attached to a group by a lower band of confirmed pairs.

A member whose pair the key points confirmed was grouped at its raised score; the report shows
its own (:func:`with_own_scores`, marked ``verified``).

``dedup --verify`` makes its duplicate graph from the pairs over the threshold and the grey
band's pairs (from ``VERIFY_Z``) that key points confirm, and groups it keeper first
(:mod:`search.dedup.groups`). Pairs confirmed lower down (a query's band, from
``GREY_BAND_Z``) were measured as edges of that graph too, and lost copies: a star grouping
with more edges lets a larger copy (a collage, a photo beside a texture, an enlarged crop) be
the keeper of some of a picture's copies while the others form a second group around another
copy (``bench/README.md``, "Pairs from z 2 attach what no group took"). Here they only add:
once the groups are made, the pairs of a grouped and a free image are checked
(:meth:`search.dedup.VerifiedNeighbours.attachable`), and the free image joins the group of its
best confirmed partner, as a member ``verified`` against that partner
(:attr:`DedupMember.via`), unless it would rank before the group's keeper by the keeper rules
(then it stays out: the report must not suggest deleting a better file). A group, its keeper
and its members are never changed otherwise, so no image leaves a group it was in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from search.dedup.groups_result import DedupMember, DedupResult
from search.dedup.keeper import DedupImage, distinct_exposures, keeper_key


def with_own_scores(result: DedupResult, raised: Mapping[tuple[int, int], float]) -> DedupResult:
    """``result`` with each member whose pair with its keeper is in ``raised`` (image ids,
    smaller first -> the pair's own score) given that score and marked ``verified``."""

    def member(keeper: int, m: DedupMember) -> DedupMember:
        own = raised.get((min(keeper, m.image.id), max(keeper, m.image.id)))
        return m if own is None else replace(m, score=own, verified=True)

    groups = tuple(
        replace(g, members=tuple(member(g.keeper.id, m) for m in g.members)) for g in result.groups
    )
    return replace(result, groups=groups)


def attach_free(
    result: DedupResult,
    pairs: Mapping[tuple[int, int], float],
    images: Mapping[int, DedupImage],
) -> DedupResult:
    """``result`` with each image in no group attached to the group of its best-scoring pair
    in ``pairs`` (image ids -> the pair's own score; confirmed by key points) that has the
    other image in a group (module doc); ``stats["attached"]`` counts them."""
    group_of: dict[int, int] = {}
    for n, group in enumerate(result.groups):
        for image in group.images:
            group_of[image.id] = n
    best: dict[int, tuple[float, int]] = {}  # free image -> (score, its partner in a group)
    for (a, b), score in pairs.items():
        for free, partner in ((a, b), (b, a)):
            if free in group_of or partner not in group_of or free not in images:
                continue
            if free not in best or (score, -partner) > (best[free][0], -best[free][1]):
                best[free] = (score, partner)
    joined: dict[int, list[DedupMember]] = {}
    for free, (score, partner) in sorted(best.items()):
        n = group_of[partner]
        keeper = result.groups[n].keeper
        if keeper_key(images[free], result.keeper_rules) < keeper_key(keeper, result.keeper_rules):
            continue  # it would be the better keeper
        if any(distinct_exposures(images[free], other) for other in (images[partner], keeper)):
            continue  # another shot, taken at another time
        member = DedupMember(images[free], score, False, verified=True, via=partner)
        joined.setdefault(n, []).append(member)
    if not joined:
        return replace(result, stats={**result.stats, "attached": 0})
    groups = list(result.groups)
    for n, members in joined.items():
        merged = [*groups[n].members, *members]
        merged.sort(key=lambda m: (not m.exact, -m.score, m.image.path, m.image.id))
        groups[n] = replace(groups[n], members=tuple(merged))
    groups.sort(key=lambda g: (-len(g.members), g.keeper.path, g.keeper.id))  # as grouped
    count = sum(len(m) for m in joined.values())
    stats = {
        **result.stats,
        "attached": count,
        "duplicates": int(result.stats.get("duplicates", 0)) + count,  # type: ignore[call-overload]
    }
    return replace(result, groups=tuple(groups), stats=stats)
