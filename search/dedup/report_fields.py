"""What every dedup report format says of a group's members: rounded scores, ISO times, and
why the keeper is kept over each member (:mod:`search.dedup.report`,
:mod:`search.dedup.report_html`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import PurePath

from search.dedup.groups_result import DedupGroup, DedupMember
from search.dedup.keeper import decided_by, keeper_key, kept_over


def iso_time(value: datetime | None) -> str | None:
    """ISO 8601 text, or None."""
    return value.isoformat() if value is not None else None


def report_score(value: float) -> float:
    """A score as reports print it: at most 1, four decimals."""
    return round(min(1.0, float(value)), 4)


def name_of(group: DedupGroup, image_id: int | None) -> str | None:
    """The file name of ``group``'s image ``image_id`` (None for None)."""
    found = (PurePath(i.path).name for i in group.images if i.id == image_id)
    return None if image_id is None else next(found, str(image_id))


def member_decision(group: DedupGroup, member: DedupMember, rules: Sequence[str]) -> str:
    """The rule that keeps ``group``'s keeper over ``member`` (:func:`decided_by`); ``gone``
    for the best file by the rules, gone since indexing."""
    if keeper_key(member.image, rules) < keeper_key(group.keeper, rules):
        return "gone"
    return decided_by(group.keeper, member.image, rules)


def member_reason(group: DedupGroup, member: DedupMember, rules: Sequence[str]) -> str:
    """Why ``group``'s keeper is kept over ``member``: the first keeper rule they differ on;
    for the best file by the rules, gone since indexing, the group's reason (which says so)."""
    if keeper_key(member.image, rules) < keeper_key(group.keeper, rules):
        return group.reason
    return kept_over(group.keeper, member.image, rules)
