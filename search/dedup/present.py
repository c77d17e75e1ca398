"""Keepers whose files still exist: the keeper rules read only what the library stores, so a
group's best image can be one whose file was deleted or moved since indexing. A report that
keeps it suggests deleting the copies that are now the picture's only files."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace

from search.dedup.groups_result import DedupGroup, DedupMember, DedupResult
from search.dedup.keeper import DedupImage, keeper_key, kept_over
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


def leave_out_moved(
    result: DedupResult, missing: Callable[[str], bool] = file_missing
) -> DedupResult:
    """``result`` without the members whose file is ``missing`` while their bytes (sha256) are
    a file of their group that is there: the row of a file moved or renamed since indexing
    (a renamed collection folder stays indexed under its old path until ``imgsearch remove``,
    or until it is back), not a copy - a report that listed each moved photo as a duplicate
    of itself counted a whole folder. A group left with no member is dropped;
    ``stats["moved_left_out"]`` counts them. Run after :func:`keep_present` (a keeper there)."""
    groups, left_out = [], 0
    for group in result.groups:
        gone = [missing(m.image.path) if m.exact else False for m in group.members]
        if not any(gone):
            groups.append(group)
            continue
        here = {m.image.sha256 for m, g in zip(group.members, gone, strict=True) if not g}
        if not missing(group.keeper.path):
            here.add(group.keeper.sha256)
        here.discard(None)
        members = tuple(
            m
            for m, g in zip(group.members, gone, strict=True)
            if not (g and m.image.sha256 in here)
        )
        left_out += len(group.members) - len(members)
        if not members:
            continue
        reason = group.reason
        for m in group.members:  # the gone keeper :func:`keep_present` named: here, moved
            named = m not in members and reason == gone_keeper_reason(m.image.path)
            if named and m.image.sha256 == group.keeper.sha256:
                reason = (  # moved here, or a byte twin deleted: either way the same bytes
                    f"the same bytes as the best file by the rules ({m.image.path}), gone since "
                    "indexing"
                )
        groups.append(replace(group, members=members, reason=reason))
    if not left_out:
        return result
    stats = {**result.stats, "moved_left_out": left_out}
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


def file_identity(path: str) -> tuple[int, int] | None:
    """The file ``path`` leads to (device, inode; a link followed), or None when gone."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def one_entry_per_file(
    result: DedupResult, identity: Callable[[str], tuple[int, int] | None] = file_identity
) -> DedupResult:
    """``result`` with each file listed once: a symbolic link (or a hard link) to a file of
    its group is that file, not a copy of it - deleting the "duplicate" would delete the
    photo the link shows. Of the entries of one file, one that is not a link stays (the
    keeper where it is one); where a link was the keeper, the file itself takes its place.
    The others are left out, counted in ``stats["links_left_out"]``. Only the keeper and
    exact members are asked about (a link has its file's bytes)."""
    groups, left_out = [], 0
    for group in result.groups:
        if not any(m.exact for m in group.members):
            groups.append(group)
            continue
        keeper_key_ = identity(group.keeper.path)
        keys = [identity(m.image.path) if m.exact else None for m in group.members]
        known = [k for k in (keeper_key_, *keys) if k is not None]
        if len(set(known)) == len(known):  # no two entries are one file
            groups.append(group)
            continue
        keeper, reason = group.keeper, group.reason
        if os.path.islink(keeper.path):  # the file itself replaces a link to it as keeper
            real = next(
                (
                    m.image
                    for m, k in zip(group.members, keys, strict=True)
                    if k == keeper_key_ and not os.path.islink(m.image.path)
                ),
                None,
            )
            if real is not None:
                keeper, reason = real, f"{group.keeper.path} is a link to it"
        seen, kept = {keeper_key_}, set()
        links_last = sorted(
            range(len(keys)), key=lambda i: os.path.islink(group.members[i].image.path)
        )
        for i in links_last:  # of two entries of one file, the one that is not a link stays
            if group.members[i].image is keeper or (keys[i] is not None and keys[i] in seen):
                left_out += group.members[i].image is not keeper
                continue
            seen.add(keys[i])
            kept.add(i)
        members = [m for i, m in enumerate(group.members) if i in kept]
        left_out += keeper is not group.keeper  # the link that was the keeper
        if members and keeper is not group.keeper:  # why it beats the copy next to it
            reason = f"{kept_over(keeper, members[0].image, result.keeper_rules)}; {reason}"
        if members:
            groups.append(DedupGroup(keeper, reason, tuple(members)))
    if not left_out:
        return result
    duplicates = sum(len(group.members) for group in groups)
    stats = {**result.stats, "links_left_out": left_out, "groups": len(groups)}
    return replace(result, groups=tuple(groups), stats=stats | {"duplicates": duplicates})
