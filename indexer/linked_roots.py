"""Collections whose folder became a link: one folder is one collection.

A collection is recorded at its folder's real path (``store.ensure_collection`` resolves
it). When that folder moves (another disk) and a link is left in its place, the nightly run
walked the link, recorded a second collection at the new real path (its files as copies of
the old ones) and kept the old one, still reachable through the link: every file twice, each
search hit listed twice, `dedup` reporting every photo as a duplicate of itself. Now a run
first records such a collection at its real path (its rows keep their ids and vectors), or
folds it into the collection already recorded there: one row per file, nothing embedded
again, and the summary says so.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from indexer.excludes import quoted
from indexer.plan import checked_key
from search.library import Library
from search.store import ChangeSet, ImageMove


def relink(library: Library, roots: Sequence[Path]) -> list[str]:
    """Record each known collection whose folder now resolves to one of ``roots`` (this
    run's, which it holds) at that real path; returns what was done, as warnings."""
    store = library.store
    walked = {str(root) for root in roots}
    by_root = {str(c["root"]): int(str(c["id"])) for c in store.collections()}
    warnings = []
    for old, collection_id in list(by_root.items()):
        real = os.path.realpath(old)
        if real == old or real not in walked:
            continue
        target = by_root.get(real)
        del by_root[old]
        if target is None:
            store.removals.move_collection(collection_id, real)
            by_root[real] = collection_id
            warnings.append(
                f"{old} is a link to {real} now: its collection is recorded there (its images "
                "kept, nothing embedded again)"
            )
            continue
        patterns = _merged_excludes(library, collection_id, target)
        dropped = _fold(library, collection_id, target)
        kept = f"; its --exclude patterns kept: {quoted(patterns)}" if patterns else ""
        warnings.append(
            f"{old} is a link to {real} now, a collection of its own: merged into it, each "
            f"file recorded once ({dropped} were recorded in both; nothing embedded again{kept})"
        )
    return warnings


def _merged_excludes(library: Library, source: int, target: int) -> list[str]:
    """Give ``target`` the ``--exclude`` patterns ``source`` remembers that it lacks (one
    folder: what was left out through either path stays out); returns those moved over."""
    remembered = library.store.excludes.by_collection()
    theirs, ours = remembered.get(source, []), remembered.get(target, [])
    added = [p for p in dict.fromkeys(theirs) if p not in ours]
    if added:
        library.store.excludes.replace(target, [*ours, *added])
    return added


def _fold(library: Library, source: int, target: int) -> int:
    """Move collection ``source``'s rows into ``target`` (the same folder) and delete it; a
    file recorded in both keeps the row with a vector, else the older one. Returns how many
    files were recorded in both."""
    store = library.store
    theirs, ours = store.file_states(source), store.file_states(target)
    embedded = store.reads.embedded_in(source) | store.reads.embedded_in(target)
    moves, removals = [], []
    for rel, row in theirs.items():
        other = ours.get(rel)
        if other is not None:
            keep, drop = sorted((row, other), key=lambda s: (s.id not in embedded, s.id))
            removals.append(drop.id)
            if keep is other:
                continue
        moves.append(ImageMove(row.id, target, rel, row.file_size, row.mtime_ns))
    if moves or removals:  # removals first: they free the paths the moves take
        library.apply(ChangeSet(moves=moves, removals=removals))
    # the animation checks of both no longer hold: the next run checks the target again
    store.removals.fold_collection(source, target, [checked_key(source), checked_key(target)])
    return len(removals)
