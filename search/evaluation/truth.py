"""Ground-truth files for evaluation, normalised to one :class:`GroundTruth`.

Three JSON formats are read (see ``../shared/data/*/ground_truth.json``):

* ``groups`` (+ optional ``queries``, ``distractors``), e.g. UKBench: files of one group show one
  object; two files are relevant iff they share a group. ``queries`` is checked against groups.
* ``clusters`` (+ ``distractors``), e.g. near_duplicates and :mod:`search.evaluation.sets.copies`:
  each cluster is an original plus edited copies; any two files of one cluster are
  duplicates, nothing else is.
  The original is the member named like the cluster key (else the one without ``__``, else the
  first); the part of a copy's name after ``__`` names its edit.
* ``items`` (``path``, ``label``, optional ``split``), e.g. hymenoptera: relevant iff same label.

Every kind becomes "file -> group id": relevance is group membership, distractors have no group.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from itertools import combinations
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from search.evaluation.errors import TruthError

TRUTH_FILENAME = "ground_truth.json"
Kind = Literal["groups", "clusters", "labels"]


@dataclass(frozen=True)
class GroundTruth:
    """Relevance for one image set. File names are POSIX paths relative to ``root``."""

    name: str
    kind: Kind
    root: Path
    files: tuple[str, ...]
    groups: tuple[tuple[str, ...], ...]
    distractors: tuple[str, ...] = ()
    group_names: tuple[str, ...] = ()
    originals: Mapping[str, str] = field(default_factory=dict)  # clusters: copy -> original
    source: Path | None = None
    related: Mapping[str, int] = field(default_factory=dict)  # file -> same object/scene id
    _group_of: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        group_of: dict[str, int] = {}
        for gid, members in enumerate(self.groups):
            for name in members:
                if name in group_of:
                    raise TruthError(f"{self.name}: '{name}' is in more than one group")
                group_of[name] = gid
        if len(set(self.files)) != len(self.files):
            raise TruthError(f"{self.name}: a file is listed twice")
        if set(group_of) - set(self.files):
            raise TruthError(f"{self.name}: grouped files missing from the file list")
        object.__setattr__(self, "_group_of", group_of)

    @property
    def is_duplicate_set(self) -> bool:
        """True for copy / near-duplicate ground truth (pair metrics apply)."""
        return self.kind == "clusters"

    def group_of(self, name: str) -> int | None:
        """Group index of a file, or None for a distractor / unknown file."""
        return self._group_of.get(name)

    def is_relevant(self, query: str, other: str) -> bool:
        """Relevance (symmetric); a file is never relevant to itself."""
        g = self._group_of.get(query)
        return g is not None and query != other and self._group_of.get(other) == g

    def is_neutral(self, a: str, b: str) -> bool:
        """Different photos of one object or scene (``related``): neither a hit nor a miss
        when counting same-object neutral."""
        r = self.related.get(a)
        return r is not None and r == self.related.get(b) and not self.is_relevant(a, b)

    def relevant(self, query: str) -> frozenset[str]:
        """The files relevant to ``query`` (itself excluded)."""
        g = self._group_of.get(query)
        if g is None:
            return frozenset()
        return frozenset(self.groups[g]) - {query}

    @property
    def queries(self) -> tuple[str, ...]:
        """Files with at least one relevant file, in file order."""
        return tuple(f for f in self.files if len(self.relevant(f)) > 0)

    @property
    def copy_queries(self) -> tuple[str, ...]:
        """Clusters only: the copies (every member that is not its cluster's original)."""
        return tuple(f for f in self.files if f in self.originals)

    def duplicate_pairs(self) -> set[tuple[str, str]]:
        """All unordered duplicate pairs ``(a, b)`` with ``a < b`` (clusters only)."""
        if not self.is_duplicate_set:
            raise TruthError(f"{self.name}: '{self.kind}' ground truth has no duplicate pairs")
        return {tuple(sorted(p)) for g in self.groups for p in combinations(g, 2)}  # type: ignore[misc]

    def n_duplicate_pairs(self) -> int:
        return sum(len(g) * (len(g) - 1) // 2 for g in self.groups)

    def edit_of(self, name: str) -> str | None:
        """The edit named after ``__`` in a copy's file stem (clusters), else None."""
        stem = PurePosixPath(name).stem
        return stem.split("__", 1)[1] if "__" in stem else None

    def paths(self) -> list[Path]:
        return [self.root / f for f in self.files]

    def check_files(self) -> None:
        """Raise :class:`TruthError` naming the files that do not exist under ``root``."""
        missing = [f for f in self.files if not (self.root / f).is_file()]
        if missing:
            shown = ", ".join(missing[:5]) + (
                f" ... (+{len(missing) - 5})" if len(missing) > 5 else ""
            )
            raise TruthError(
                f"{self.name}: {len(missing)} of {len(self.files)} files named by the ground truth "
                f"are not in {self.root}: {shown}"
            )


def _clean_name(value: Any, where: str) -> str:
    """A safe relative POSIX file name (no absolute paths, no '..')."""
    if not isinstance(value, str) or not value.strip():
        raise TruthError(f"{where}: file names must be non-empty strings, got {value!r}")
    p = PurePosixPath(value.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts or p.parts[:1] == ("",):
        raise TruthError(f"{where}: file name {value!r} must be relative and inside the folder")
    return str(p)


def _names(values: Any, where: str) -> list[str]:
    if not isinstance(values, list):
        raise TruthError(f"{where}: expected a list of file names")
    return [_clean_name(v, where) for v in values]


def _ordered_unique(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def _from_groups(data: dict, name: str, root: Path) -> GroundTruth:
    groups_raw = data["groups"]
    if not isinstance(groups_raw, dict):
        raise TruthError(f"{name}: 'groups' must map group ids to file lists")
    group_names = [str(k) for k in groups_raw]
    groups = [tuple(_names(v, f"{name}: group {k}")) for k, v in groups_raw.items()]
    distractors = _names(data.get("distractors", []), f"{name}: distractors")
    # Single-member groups have nothing relevant: they are distractors too.
    kept = [(n, g) for n, g in zip(group_names, groups, strict=True) if len(g) > 1]
    files = _ordered_unique([f for g in groups for f in g] + distractors)
    truth = GroundTruth(
        name=name,
        kind="groups",
        root=root,
        files=files,
        groups=tuple(g for _, g in kept),
        group_names=tuple(n for n, _ in kept),
        distractors=tuple(f for f in files if all(f not in g for _, g in kept)),
    )
    for query, rel in (data.get("queries") or {}).items():
        q = _clean_name(query, f"{name}: queries")
        if set(_names(rel, f"{name}: queries[{query}]")) != truth.relevant(q):
            raise TruthError(f"{name}: queries[{query!r}] disagrees with the groups")
    return truth


def _original(key: str, members: list[str]) -> str:
    for m in members:
        if PurePosixPath(m).stem == key:
            return m
    plain = [m for m in members if "__" not in PurePosixPath(m).stem]
    return plain[0] if plain else members[0]


def _from_clusters(data: dict, name: str, root: Path) -> GroundTruth:
    clusters = data["clusters"]
    if not isinstance(clusters, dict):
        raise TruthError(f"{name}: 'clusters' must map cluster ids to file lists")
    groups, group_names, originals = [], [], {}
    for key, members_raw in clusters.items():
        members = _names(members_raw, f"{name}: cluster {key}")
        if len(members) < 2:
            raise TruthError(f"{name}: cluster {key!r} needs an original and at least one copy")
        original = _original(str(key), members)
        originals.update({m: original for m in members if m != original})
        groups.append(tuple(members))
        group_names.append(str(key))
    distractors = _names(data.get("distractors", []), f"{name}: distractors")
    files = _ordered_unique([f for g in groups for f in g] + distractors)
    related: dict[str, int] = {}
    for rid, members in enumerate(data.get("related", [])):
        for f in _names(members, f"{name}: related"):
            related[f] = rid
    for copy, original in originals.items():  # a copy shows what its original shows
        if original in related:
            related[copy] = related[original]
    return GroundTruth(
        name=name,
        kind="clusters",
        related=related,
        root=root,
        files=files,
        groups=tuple(groups),
        group_names=tuple(group_names),
        distractors=tuple(distractors),
        originals=originals,
    )


def _from_items(data: dict, name: str, root: Path, split: str | None) -> GroundTruth:
    items = data["items"]
    if not isinstance(items, list):
        raise TruthError(f"{name}: 'items' must be a list of {{path, label}} objects")
    by_label: dict[str, list[str]] = {}
    files = []
    for n, item in enumerate(items):
        if not isinstance(item, dict) or "path" not in item or "label" not in item:
            raise TruthError(f"{name}: items[{n}] needs 'path' and 'label'")
        if split is not None and item.get("split") != split:
            continue
        path = _clean_name(item["path"], f"{name}: items[{n}]")
        by_label.setdefault(str(item["label"]), []).append(path)
        files.append(path)
    if not files:
        splits = sorted({str(i["split"]) for i in items if isinstance(i, dict) and "split" in i})
        known = f" (its splits: {', '.join(splits)})" if splits else " (its items name no split)"
        raise TruthError(f"{name}: no items" + (f" in split {split!r}{known}" if split else ""))
    return GroundTruth(
        name=name,
        kind="labels",
        root=root,
        files=tuple(files),
        groups=tuple(tuple(v) for v in by_label.values()),
        group_names=tuple(by_label),
    )


def parse_truth(
    data: Any,
    *,
    root: Path,
    name: str = "ground truth",
    split: str | None = None,
    source: Path | None = None,
) -> GroundTruth:
    """Normalise an already-decoded ground-truth document."""
    if not isinstance(data, dict):
        raise TruthError(f"{name}: the ground truth must be a JSON object")
    name = str(data.get("name") or name)
    if "clusters" in data:
        truth = _from_clusters(data, name, root)
    elif "groups" in data:
        truth = _from_groups(data, name, root)
    elif "items" in data:
        truth = _from_items(data, name, root, split)
    else:
        raise TruthError(f"{name}: no 'groups', 'clusters' or 'items' - not a known ground truth")
    if split is not None and truth.kind != "labels":
        raise TruthError(f"{name}: split={split!r} only applies to labelled 'items' ground truth")
    if not truth.queries:
        raise TruthError(f"{name}: no file has a relevant match - nothing to evaluate")
    return replace(truth, source=source)


def load_truth(
    path: Path | str,
    *,
    root: Path | str | None = None,
    split: str | None = None,
    check: bool = True,
) -> GroundTruth:
    """Read a ground-truth JSON file (or a folder holding ``ground_truth.json``).

    File names are resolved against ``root``; by default the JSON's folder, or its ``images/``
    subfolder when that exists (the layout of ``../shared/data``). With ``check`` every file
    must exist under the root.
    """
    path = Path(path)
    if path.is_dir():
        path = path / TRUTH_FILENAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TruthError(f"ground truth not found: {path}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:  # a photo, a CSV...
        raise TruthError(
            f"cannot read ground truth {path}: not a JSON file; give the ground_truth.json "
            "of the set (imgsearch eval make-copies writes one)"
        ) from exc
    except OSError as exc:
        raise TruthError(f"cannot read ground truth {path}: {exc}") from exc
    if root is None:
        root = path.parent / "images" if (path.parent / "images").is_dir() else path.parent
    # the set's folder by name: a relative file's parent is '.', whose name is '' (messages
    # read "Error: : 'groups' must map ..." for `eval run DIR --truth truth.json`)
    name = path.absolute().parent.name or str(path)
    truth = parse_truth(data, root=Path(root), name=name, split=split, source=path)
    if check:
        truth.check_files()
    return truth
