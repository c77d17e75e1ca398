"""The ``--exclude`` patterns of a run's collections, remembered per collection in the store.

A run that gives ``--exclude`` makes those patterns the ones of every collection it walks
(``--no-exclude``: none), for this run and every later one; a run that gives neither applies
what each collection remembers: `index` without folders, `index FOLDER` and `reindex` all
leave out what was excluded before (the nightly run re-added an excluded private folder).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # `imgsearch stats` imports this module: no SQLAlchemy for it
    from search.store import LibraryStore


@dataclass(frozen=True)
class CollectionExcludes:
    """The patterns a run applies to one collection, and where they come from."""

    root: str
    patterns: list[str]  # applied by this run (and remembered for the next ones)
    remembered: bool  # from an earlier run (this run gave neither option)
    replaced: list[str] = field(default_factory=list)  # what this run's option replaced

    def to_json(self) -> dict[str, Any]:
        return {
            "collection": self.root,
            "patterns": self.patterns,
            "remembered": self.remembered,
            "replaced": self.replaced,
        }

    def to_text(self) -> str:
        """One line of the run's summary."""
        if self.remembered:
            return (
                f"excludes    {self.root}: {quoted(self.patterns)} (remembered; --exclude "
                "replaces them, --no-exclude drops them)"
            )
        if not self.patterns:
            return (
                f"excludes    {self.root}: none now (--no-exclude dropped "
                f"{quoted(self.replaced)}: those files are indexed again)"
            )
        instead = f"; they replace {quoted(self.replaced)}" if self.replaced else ""
        return (
            f"excludes    {self.root}: {quoted(self.patterns)} (remembered for later runs{instead})"
        )


def quoted(patterns: Sequence[str]) -> str:
    """Patterns as a shell would take them back: ``private/ '*.raw.jpg'``."""
    return " ".join(shlex.quote(p) for p in patterns)


def settle_excludes(
    store: LibraryStore, roots: Sequence[Path], given: Sequence[str] | None
) -> list[CollectionExcludes]:
    """The patterns of each root, in order: ``given`` (None: neither option was given) are
    recorded as the root's own, replacing what it had; else what it remembers applies."""
    remembered = store.excludes.by_root()
    known = {} if given is None else {str(c["root"]): int(c["id"]) for c in store.collections()}
    settled = []
    for root in roots:
        before = remembered.get(str(root), [])
        if given is None:
            settled.append(CollectionExcludes(str(root), before, remembered=True))
            continue
        patterns = list(given)
        if patterns or before:  # a new collection without patterns gets no row yet
            found = known.get(str(root))
            store.excludes.replace(
                store.ensure_collection(root) if found is None else found, patterns
            )
        replaced = before if before != patterns else []
        settled.append(CollectionExcludes(str(root), patterns, False, replaced))
    return settled


def unshared_warnings(
    known: Iterable[Path], walked: Sequence[Path], patterns: Mapping[str, Sequence[str]]
) -> list[str]:
    """Warnings for a collection without patterns nested in one with some (either of them
    walked by this run): a collection's patterns apply to its own files only, and a nested
    collection's files are its own (:mod:`indexer.nesting`)."""
    roots = sorted({Path(r) for r in known} | set(walked))
    warnings = []
    for outer in roots:
        excluded = patterns.get(str(outer))
        for inner in roots if excluded else ():
            nested = inner != outer and inner.is_relative_to(outer)
            if not nested or patterns.get(str(inner)) or not {outer, inner} & set(walked):
                continue
            warnings.append(
                f"{inner} is a collection of its own inside {outer}: the --exclude patterns "
                f"of {outer} ({quoted(excluded or ())}) do not apply to its files; `imgsearch "
                f"index {inner} --exclude PATTERN` gives it its own (relative to it)"
            )
    return warnings


def said(settled: Sequence[CollectionExcludes]) -> list[CollectionExcludes]:
    """Those worth saying in the summary: patterns applied, or patterns dropped."""
    return [s for s in settled if s.patterns or s.replaced]


__all__ = ["CollectionExcludes", "quoted", "said", "settle_excludes", "unshared_warnings"]
