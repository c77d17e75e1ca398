"""Keepers whose files still exist: the keeper rules read only what the library stores, so a
group's best image can be one whose file was deleted or moved since indexing. A report that
keeps it suggests deleting the copies that are now the picture's only files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from search.dedup.groups_result import DedupGroup, DedupMember, DedupResult
from search.dedup.keeper import DedupImage, keeper_key
from search.dedup.report_files import file_missing


def gone_keeper_reason(path: str) -> str:
    """A group's reason once its keeper by the rules is gone (image and video groups)."""
    return f"the best file by the rules ({path}) is gone since indexing"


def keep_present(result: DedupResult, missing: Callable[[str], bool] = file_missing) -> DedupResult:
    """``result`` with each group whose keeper's file is ``missing`` kept by its best member
    (by the keeper rules) whose file is there; the gone keeper becomes a member. A group
    whose files are all gone is left as it is. Only keepers' files are asked about."""
    groups, moved = [], 0
    for group in result.groups:
        if not missing(group.keeper.path):
            groups.append(group)
            continue
        present = sorted(
            (m for m in group.members if not missing(m.image.path)),
            key=lambda m: keeper_key(m.image, result.keeper_rules),
        )
        if not present:
            groups.append(group)
            continue
        new = present[0]
        gone = DedupMember(group.keeper, new.score, new.exact, new.verified)
        members = [m for m in group.members if m is not new] + [gone]
        members.sort(key=lambda m: (not m.exact, -m.score, m.image.path, m.image.id))
        groups.append(DedupGroup(new.image, gone_keeper_reason(group.keeper.path), tuple(members)))
        moved += 1
    if not moved:
        return result
    stats = {**result.stats, "keepers_gone": moved}
    return replace(result, groups=tuple(groups), stats=stats)


def changed_keeper_reason(path: str) -> str:
    """A group's reason once its keeper by the rules holds other bytes than it was indexed with."""
    return f"the best file by the rules ({path}) has changed since indexing"


def leave_out_changed(result: DedupResult, changed: Callable[[DedupImage], bool]) -> DedupResult:
    """``result`` without the images whose files ``changed`` since indexing (other bytes
    there now: a report must not list a file for deletion for what it held before); a group
    whose keeper changed is kept by its best member left, one left with no member is dropped.
    ``stats["changed_since_index"]`` counts the files left out."""
    groups, left_out = [], 0
    for group in result.groups:
        keeper_changed = changed(group.keeper)
        members = [m for m in group.members if not changed(m.image)]
        left_out += keeper_changed + len(group.members) - len(members)
        if not keeper_changed:
            if members:
                groups.append(replace(group, members=tuple(members)))
            continue
        if len(members) < 2:
            continue  # one file left: no duplicate
        members.sort(key=lambda m: keeper_key(m.image, result.keeper_rules))
        new, rest = members[0], members[1:]
        rest.sort(key=lambda m: (not m.exact, -m.score, m.image.path, m.image.id))
        groups.append(DedupGroup(new.image, changed_keeper_reason(group.keeper.path), tuple(rest)))
    if not left_out:
        return result
    stats = {**result.stats, "changed_since_index": left_out}
    return replace(result, groups=tuple(groups), stats=stats)
