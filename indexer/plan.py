"""Diffing a walk against the store: what is unchanged, what needs work, what vanished.

Only ``stat`` facts are compared here (size and mtime in nanoseconds); nothing is read or
hashed (``--checksum`` hands every file to the pipeline, which hashes them). Files that need
work are hashed later, in the pipeline's worker threads, and that hash decides between a move
(a vanished file's bytes under a new name), a copy (bytes already embedded elsewhere) and a
real decode + embed.

One exception, once per collection: rows an older imgsearch indexed as still GIF / WebP / PNG
images (before animations were videos) have their headers read (``is_animation``, ~70 us
each); an animated one is re-indexed as a video (``WorkKind.ANIMATED``, its id kept). The
collection then records that it was checked (:func:`record_checked`, at the end of the run)
and later runs read nothing.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from indexer.scan import FoundFile, ScanReport
from models import fixed_by_installed, is_animation
from search.store import STATUS_FAILED, STATUS_OK, FileState, LibraryStore


class WorkKind(StrEnum):
    NEW = "new"  # no row at this path
    CHANGED = "changed"  # a row, but size or mtime differ
    REEMBED = "reembed"  # unchanged file, status ok, but no vector (after `reindex`)
    ANIMATED = "animated"  # unchanged, indexed as a still image, but an animation: a video


@dataclass(frozen=True)
class WorkItem:
    """A file that must be read: hashed, then moved, copied or decoded and embedded."""

    collection_id: int
    found: FoundFile
    kind: WorkKind
    existing: FileState | None = None
    had_vector: bool = False  # the existing row has a vector (so its bytes need no embed)


@dataclass
class Plan:
    """The diff of one run over all its collections."""

    work: list[WorkItem] = field(default_factory=list)
    unchanged: int = 0
    #: rows whose file is gone (or now excluded): moved if their bytes turn up, else removed.
    vanished: dict[int, FileState] = field(default_factory=dict)
    #: sha256 -> vanished row ids whose bytes may reappear elsewhere (ok with a vector, or failed)
    move_sources: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    #: sha256 -> id of an image whose vector stays valid this run (source of vector copies):
    #: found in the store on demand (:meth:`copy_source`), and the run's own new embeddings
    copy_sources: dict[str, int] = field(default_factory=dict)
    #: rows whose vector may change in this run: never copy sources
    busy: set[int] = field(default_factory=set)
    #: sha256 -> ids of images with a vector and these bytes, by id (None: the store had none)
    lookup: Callable[[str], list[int]] | None = None
    #: rows kept although not seen, because their folder could not be listed
    kept_unreadable: int = 0
    #: (folder link not followed, its collection's root) -> indexed rows vanishing under it
    behind_links: Counter[tuple[str, Path]] = field(default_factory=Counter)
    #: collections whose still GIF / WebP / PNG rows were checked for animations this run
    checked: list[int] = field(default_factory=list)

    def copy_source(self, sha256: str) -> int | None:
        """An image whose vector these bytes can reuse (the lowest id not busy), or None."""
        if sha256 not in self.copy_sources and self.lookup is not None:
            found = next((i for i in self.lookup(sha256) if i not in self.busy), None)
            if found is None:
                return None
            self.copy_sources[sha256] = found
        return self.copy_sources.get(sha256)

    def claim_move(self, sha256: str) -> int | None:
        """Take a vanished row with these bytes (each row is moved at most once)."""
        ids = self.move_sources.get(sha256)
        while ids:
            image_id = ids.pop(0)
            if image_id in self.vanished:
                del self.vanished[image_id]
                return image_id
        return None


def make_plan(
    store: LibraryStore, scans: list[tuple[int, ScanReport]], *, checksum: bool = False
) -> Plan:
    """Compare each collection's walk with its rows in the store (only the rows of the
    collections walked are read; copy sources elsewhere are looked up per file). With
    ``checksum`` a file of the same size and mtime is work too: the pipeline reads and hashes
    it, and re-embeds it only when its bytes changed (a file rewritten in place by a tool that
    keeps its date)."""
    plan = Plan(lookup=store.reads.embedded_with_sha256 if store.reads.any_vector() else None)
    busy = plan.busy
    fixed = fixed_by_installed()
    for collection_id, report in scans:
        states = store.file_states(collection_id)
        embedded = store.reads.embedded_in(collection_id)
        # a permission fixed since, or a decoder installed since (pillow-heif, PyAV)
        retry = store.reads.unreadable_in(collection_id, fixed)
        stills = _stills_to_check(store, collection_id, plan) if report.part is None else set()
        for found in report.files:
            state = states.pop(found.rel_path, None)
            if state is None:
                plan.work.append(WorkItem(collection_id, found, WorkKind.NEW))
                continue
            same = state.file_size == found.size and state.mtime_ns == found.mtime_ns
            settled = (state.status == STATUS_FAILED and state.id not in retry) or (
                state.status == STATUS_OK and state.id in embedded
            )
            animated = same and state.id in stills and is_animation(found.path)
            if same and settled and not animated and not checksum:
                plan.unchanged += 1
            else:
                kind = WorkKind.REEMBED if same and not settled else WorkKind.CHANGED
                kind = WorkKind.ANIMATED if animated else kind
                plan.work.append(WorkItem(collection_id, found, kind, state, state.id in embedded))
                busy.add(state.id)
        for state in states.values():  # in the store, not found on disk
            if not report.walked(state.rel_path):  # a part of the collection was walked
                continue
            if not report.covers(state.rel_path):
                plan.kept_unreadable += 1
                if state.id in stills and collection_id in plan.checked:
                    plan.checked.remove(collection_id)  # the next run that lists it checks
                continue
            plan.vanished[state.id] = state
            link = _under_link(state.rel_path, report.unfollowed)
            if link is not None:
                plan.behind_links[link, report.root] += 1
            movable = state.status == STATUS_FAILED or state.id in embedded
            if state.sha256 and movable:
                plan.move_sources[state.sha256].append(state.id)
    return plan


def _under_link(rel_path: str, links: dict[str, str]) -> str | None:
    """The path of the folder link (not followed) that ``rel_path`` lies under, or None."""
    if not links:
        return None
    parts = rel_path.split("/")
    return next(
        (links[p] for p in ("/".join(parts[:i]) for i in range(1, len(parts))) if p in links), None
    )


def behind_link_warnings(plan: Plan) -> list[str]:
    """What the run says of the indexed images it drops because their folder is now a link
    it does not follow (a folder moved to another disk and linked back)."""
    warnings = []
    for (path, root), count in plan.behind_links.items():
        target = Path(os.path.realpath(path))
        inside = target.is_relative_to(os.path.realpath(root))
        fix = (
            "give --follow-symlinks to follow it"
            if inside
            else f"index it as a collection of its own (`imgsearch index {target}`)"
        )
        warnings.append(
            f"{path}: a link to a folder ({target}), not followed: its {count} indexed images "
            f"are removed from the library; {fix}"
        )
    return warnings


def checked_key(collection_id: int) -> str:
    """The meta key that records the collection's still images were checked for animations."""
    return f"animations_checked:{collection_id}"


def _stills_to_check(store: LibraryStore, collection_id: int, plan: Plan) -> set[int]:
    """The collection's rows indexed as still GIF / WebP / PNG images, when no run checked
    them for animations yet (then ``plan.checked`` names the collection)."""
    if store.get_meta(checked_key(collection_id)) is not None:
        return set()
    plan.checked.append(collection_id)
    return store.reads.animation_candidates(collection_id)


def record_checked(store: LibraryStore, plan: Plan) -> None:
    """Remember that ``plan``'s collections were checked (once their conversions are written:
    a run killed before checks them again)."""
    for collection_id in plan.checked:
        store.set_meta(checked_key(collection_id), "1")
