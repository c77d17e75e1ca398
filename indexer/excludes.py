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

from models import ImgsearchError

if TYPE_CHECKING:  # `imgsearch stats` imports this module: no SQLAlchemy for it
    from indexer.scan import ScanReport
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


def planned_excludes(
    store: LibraryStore, roots: Sequence[Path], given: Sequence[str] | None
) -> list[CollectionExcludes]:
    """The patterns of each root, in order: ``given`` (None: neither option was given) become
    the root's own, replacing what it had (:func:`record_excludes` keeps them); else what it
    remembers applies."""
    remembered = store.excludes.by_root()
    settled = []
    for root in roots:
        before = remembered.get(str(root), [])
        if given is None:
            settled.append(CollectionExcludes(str(root), before, remembered=True))
            continue
        patterns = list(given)
        replaced = before if before != patterns else []
        settled.append(CollectionExcludes(str(root), patterns, False, replaced))
    return settled


def record_excludes(store: LibraryStore, settled: Sequence[CollectionExcludes]) -> None:
    """Remember the patterns a run gave (a new collection without patterns gets no row yet)."""
    known = {str(c["root"]): int(c["id"]) for c in store.collections()}
    for s in settled:
        if s.remembered or not (s.patterns or s.replaced):
            continue
        found = known.get(s.root)
        store.excludes.replace(
            store.ensure_collection(Path(s.root)) if found is None else found, s.patterns
        )


def refuse_excluding_all(
    settled: Sequence[CollectionExcludes],
    scans: Sequence[tuple[Path, ScanReport]],
    collections: Iterable[Mapping[str, Any]],
) -> None:
    """Refuse (:class:`ExcludesEverything`) patterns this run gives that leave out every file
    of a collection the library has images of (``scans``: each root's walk; ``collections``:
    the store's, with their image counts), before anything changes: ``--exclude '*'``
    removed all of them with exit 0, where `remove` asks for ``--yes``."""
    images = {str(c["root"]): int(c["images"]) for c in collections}
    walked = {str(root): report for root, report in scans}
    for s in settled:
        report = walked.get(s.root)
        had = images.get(s.root, 0)
        if s.remembered or not s.patterns or not had or report is None:
            continue
        if not report.files and report.excluded:
            raise ExcludesEverything(
                f"--exclude {quoted(s.patterns)} leaves out every file of {s.root}: its "
                f"{had} images would be removed. Give a narrower pattern, or `imgsearch remove "
                f"{shlex.quote(s.root)} --yes` to drop the collection; nothing was changed"
            )


class ExcludesEverything(ImgsearchError, ValueError):
    """A run's ``--exclude`` would take every image of a collection out of the library."""


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


__all__ = [
    "CollectionExcludes",
    "ExcludesEverything",
    "planned_excludes",
    "quoted",
    "record_excludes",
    "refuse_excluding_all",
    "said",
    "unshared_warnings",
]
