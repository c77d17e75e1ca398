"""Collections inside collections: every file is recorded once, in the innermost collection
that holds it.

`index DIR` then `index DIR/sub` (or the other way round) recorded the files of ``sub`` in
both collections: every search listed them twice and `dedup` reported each as a duplicate of
itself, so a script deleting the report's duplicates would have deleted the only copy. Now a
walk of a collection leaves out the folders that are collections of their own (known, or
indexed in the same run), and a new collection inside a known one that this run does not walk
takes that one's rows of its folder: the parent's walk of just that folder
(:attr:`indexer.scan.ScanReport.part`, no files) makes them vanish, and the nested
collection's files claim them as moves (same bytes: same row, same vector, nothing
re-embedded). A library made before has its doubles dropped by the parent's next walk.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from indexer.scan import ScanReport


def nest(
    known: Iterable[Path], scans: Sequence[tuple[Path, ScanReport]]
) -> list[tuple[Path, ScanReport]]:
    """``scans`` with each walk less the folders of collections nested in it, plus a walk of
    just its folder for each known collection not walked here that holds a walked one."""
    walked = [Path(root) for root, _report in scans]
    roots = set(walked) | {Path(r) for r in known}
    out = []
    for root, report in scans:
        inner = [
            r.relative_to(root).as_posix() for r in roots if r != root and r.is_relative_to(root)
        ]
        if inner:
            report.drop_nested(inner)
        out.append((root, report))
    for parent in sorted(roots - set(walked)):
        for root in walked:
            if root != parent and root.is_relative_to(parent):
                part = root.relative_to(parent).as_posix()
                out.append((parent, ScanReport(root=parent, part=part)))
    return out


def overlap_warnings(known: Iterable[Path], walked: Sequence[Path]) -> list[str]:
    """What a run of ``walked`` roots does with the collections nested in or around them."""
    roots = {Path(r) for r in known} | set(walked)
    warnings = []
    for root in walked:
        for other in sorted(roots - {root}):
            if root.is_relative_to(other):
                warnings.append(
                    f"{root} lies inside the collection {other}: its files are recorded in "
                    f"{root} (once: {other} leaves that folder to it)"
                )
            elif other.is_relative_to(root):
                warnings.append(
                    f"{root} holds the collection {other}: that folder's files stay in {other} "
                    "(recorded once)"
                )
    return warnings
