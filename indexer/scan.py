"""Walking a collection safely: images and videos only, no hidden files, no loops, no library.

The walk never reads file contents; it only stats entries, so a re-run over an unchanged
collection costs one ``stat`` per file. Problems (unreadable folders, broken links, symlink
loops) become warnings and the walk goes on.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from indexer.exclude_patterns import Excludes
from indexer.progress import bar
from indexer.system_folders import system_folder
from models.errors import ImgsearchError
from models.files import file_mtime_ns
from models.video_names import is_video_name
from search.units import is_utf8_name

#: File name extensions that are tried as images (lower case). The decoder then goes by the
#: content, so a JPEG saved as ``.png`` is still read; a ``.txt`` file is never opened.
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".heif", ".avif"}
)


class CollectionError(ImgsearchError, ValueError):
    """A collection root cannot be indexed (missing, not a directory, unreadable)."""


class NotAFolderError(CollectionError):
    """A collection root given that is no folder at all: nothing there, or a file."""


@dataclass(frozen=True)
class FoundFile:
    """An image file found on disk: where it is and what ``stat`` says about it."""

    rel_path: str  # POSIX path relative to the collection root
    path: Path  # absolute path (not resolved: a linked file keeps its in-collection name)
    size: int
    mtime_ns: int


@dataclass
class ScanReport:
    """Everything one walk found, plus what it skipped and why."""

    root: Path
    files: list[FoundFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: rel paths of folders that could not be listed (and files that could not be stat'ed):
    #: their indexed files are kept, not removed.
    unreadable_dirs: list[str] = field(default_factory=list)
    skipped_hidden: int = 0
    skipped_other: int = 0  # files whose extension is not an image extension
    excluded: int = 0
    skipped_links: int = 0  # directory symlinks not followed, loops, broken links
    skipped_removed: int = 0  # files under paths `imgsearch remove` took out of the library
    #: folder links not followed (no --follow-symlinks): rel path -> path
    unfollowed: dict[str, str] = field(default_factory=dict)
    #: folders of other software (a NAS's thumbnails, a copy of a library): path, what it is
    skipped_system: list[tuple[str, str]] = field(default_factory=list)
    #: only this folder (a rel path) was walked, for a collection nested in this one: the
    #: collection's rows elsewhere are neither seen nor touched (:mod:`indexer.nesting`)
    part: str | None = None

    def drop(self, removed: Callable[[str], bool]) -> None:
        """Leave out the files whose rel path ``removed`` says was removed from the library."""
        kept = [found for found in self.files if not removed(found.rel_path)]
        self.skipped_removed += len(self.files) - len(kept)
        self.files = kept

    def drop_nested(self, tops: Sequence[str]) -> None:
        """Leave out the files at or below ``tops``: folders that are collections of their own."""
        self.files = [f for f in self.files if not any(_at_or_below(f.rel_path, t) for t in tops)]

    def walked(self, rel_path: str) -> bool:
        """False when ``rel_path`` lies outside the part of the collection this walk was of."""
        return self.part is None or _at_or_below(rel_path, self.part)

    def covers(self, rel_path: str) -> bool:
        """False when ``rel_path`` lies under a folder this walk could not read."""
        return not any(
            rel_path == d or rel_path.startswith(d + "/") or d == "" for d in self.unreadable_dirs
        )


def _at_or_below(rel_path: str, top: str) -> bool:
    return top == "" or rel_path == top or rel_path.startswith(top + "/")


def is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def is_hidden(name: str) -> bool:
    return name.startswith(".")


def _dir_key(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _unreadable(path: str, rel: str, report: ScanReport) -> None:
    """Warn of a folder that cannot be opened (its indexed files are kept, not removed)."""
    try:
        os.stat(path)
        why = "it changed while it was walked"
    except OSError as exc:
        why = exc.strerror or str(exc)
    report.warnings.append(f"{path}: cannot open folder ({why}); skipped")
    report.unreadable_dirs.append(rel)


def _keep_unless_gone(error: OSError, rel: str, report: ScanReport) -> None:
    """A file whose stat failed is kept as indexed (a permission, a failing disk), unless
    it is gone (ENOENT: a broken link, a file deleted while the walk ran)."""
    if error.errno not in (errno.ENOENT, errno.ENOTDIR):
        report.unreadable_dirs.append(rel)


def check_collection_root(root: str | os.PathLike[str]) -> Path:
    """``root`` as an absolute path; :class:`CollectionError` when it is missing, unreadable
    or not a directory (checked before an index run creates or opens anything)."""
    root = Path(root).absolute()
    try:
        st = root.stat()
    except FileNotFoundError:
        raise NotAFolderError(f"{root}: no such directory") from None
    except OSError as exc:
        raise CollectionError(f"{root}: cannot access: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise NotAFolderError(f"{root}: not a directory (index the folder that holds it)")
    return root


def _leads_inside(path: str, real_root: Path, report: ScanReport, folder: bool = False) -> bool:
    """True when the link ``path`` (to a file, or a ``folder``) resolves inside
    ``real_root``; else False, with a warning that says what to index instead."""
    target = Path(os.path.realpath(path))
    if target.is_relative_to(real_root):
        return True
    report.skipped_links += 1
    report.warnings.append(
        f"{path}: a link to {target}, outside the collection; skipped (files are shown and "
        f"searched from inside their collection only: index {target if folder else target.parent}"
        " itself)"
    )
    return False


def resolve_roots(paths: Iterable[Path]) -> list[Path]:
    """The collection roots of ``paths``: absolute, resolved, each once, in order."""
    seen: dict[Path, None] = {}
    for path in paths:
        seen.setdefault(Path(path).expanduser().resolve(), None)
    return list(seen)


def scan_roots(
    roots: Sequence[Path],
    *,
    excludes: Sequence[str] | Mapping[Path, Sequence[str]] = (),
    skip_dir: Path | None = None,
    follow_symlinks: bool = False,
    show: bool = False,
) -> list[tuple[Path, ScanReport]]:
    """Walk each collection root (:func:`scan_collection`) under one "scanning" bar;
    ``excludes``: the patterns of every root, or of each root (a root not in it: none)."""
    scans = []
    with bar(show, desc="scanning", unit=" files") as scanned:
        for root in roots:
            report = scan_collection(
                root,
                excludes=excludes.get(root, ()) if isinstance(excludes, Mapping) else excludes,
                skip_dirs=[skip_dir] if skip_dir is not None else [],
                follow_symlinks=follow_symlinks,
                on_file=lambda _f: scanned.update(1),
            )
            scans.append((root, report))
    return scans


def _walked_already(link: Path, visited: set[tuple[int, int]], report: ScanReport) -> bool:
    """Is the folder ``link`` leads to walked already (then warned of and counted)? Else it
    is marked walked now."""
    key = _dir_key(link)
    if key is None:
        return True
    if key not in visited:
        visited.add(key)
        return False
    report.skipped_links += 1
    target = Path(os.path.realpath(link))
    loop = Path(os.path.realpath(link.parent)).is_relative_to(target)
    why = "a symlink loop" if loop else f"its files are indexed under {target}"
    report.warnings.append(f"{link}: leads to a folder walked already ({why}); skipped")
    return True


def scan_collection(
    root: Path,
    *,
    excludes: Sequence[str] = (),
    skip_dirs: Iterable[Path] = (),
    follow_symlinks: bool = False,
    on_file: Callable[[FoundFile], None] | None = None,
) -> ScanReport:
    """Walk ``root`` and list its image files in a stable (sorted) order.

    Hidden entries (``.name``) are skipped, and so are directories in ``skip_dirs`` (the
    library itself) and anything an ``excludes`` pattern matches (:class:`Excludes`).
    Directory symlinks are not followed unless ``follow_symlinks``; then every real directory
    is entered at most once, so a link loop ends, and by its own path where it has one: links
    are entered after every real folder, so a folder reached both ways keeps its files' paths
    whether or not a run follows links. File symlinks are followed (a broken one is
    a warning). A link that leads outside ``root`` is skipped with a warning: its images could
    not be shown or searched by id (files are served from inside their collection only).
    ``on_file`` is called for each file found (progress display).
    """
    root = check_collection_root(root)
    st = root.stat()
    excluded = Excludes(excludes)
    report = ScanReport(root=root)
    skip = {key for key in (_dir_key(d) for d in skip_dirs) if key is not None}
    visited: set[tuple[int, int]] = {(st.st_dev, st.st_ino)}
    if (st.st_dev, st.st_ino) in skip:
        report.warnings.append(f"{root}: is the library directory itself; nothing to index")
        return report
    real_root = Path(os.path.realpath(root))
    stack: list[tuple[Path, str]] = [(root, "")]
    links: list[tuple[Path, str]] = []  # folder links, entered once no real folder is left
    while stack or links:
        if not stack:
            link, rel_link = links.pop(0)
            if _walked_already(link, visited, report):
                continue
            stack.append((link, rel_link))
        folder, rel_folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            report.warnings.append(f"{folder}: cannot list folder ({exc.strerror or exc}); skipped")
            report.unreadable_dirs.append(rel_folder)
            continue
        subdirs: list[tuple[Path, str]] = []
        for entry in entries:
            rel = f"{rel_folder}/{entry.name}" if rel_folder else entry.name
            if is_hidden(entry.name):
                report.skipped_hidden += 1
                continue
            if not is_utf8_name(entry.name):
                report.skipped_other += 1
                report.warnings.append(
                    f"{os.fsencode(entry.path)!r}: name is not valid UTF-8 (rename it); skipped"
                )
                continue
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError as exc:
                report.warnings.append(f"{entry.path}: cannot stat ({exc.strerror or exc})")
                _keep_unless_gone(exc, rel, report)
                continue
            if excluded and excluded.match(rel, is_dir=is_dir):
                report.excluded += 1
                continue
            if is_dir:
                if is_link and not follow_symlinks:
                    report.skipped_links += 1
                    report.unfollowed[rel] = entry.path
                    continue
                if is_link and not _leads_inside(entry.path, real_root, report, folder=True):
                    continue
                key = _dir_key(entry.path)
                if key is None:  # e.g. a path longer than the system allows
                    _unreadable(entry.path, rel, report)
                    continue
                if key in skip:
                    continue
                if (what := system_folder(entry.path, entry.name)) is not None:
                    report.skipped_system.append((entry.path, what))
                    continue
                if is_link:
                    links.append((Path(entry.path), rel))
                    continue
                if key in visited:  # a bind mount of a folder walked already
                    report.warnings.append(f"{entry.path}: a folder walked already; skipped")
                    continue
                visited.add(key)
                subdirs.append((Path(entry.path), rel))
                continue
            if not (is_image_name(entry.name) or is_video_name(entry.name)):
                report.skipped_other += 1
                continue
            try:
                fst = entry.stat(follow_symlinks=True)
            except OSError as exc:
                report.skipped_links += int(is_link)
                what = "broken link" if is_link else "cannot stat"
                report.warnings.append(f"{entry.path}: {what} ({exc.strerror or exc}); skipped")
                _keep_unless_gone(exc, rel, report)
                continue
            if not stat.S_ISREG(fst.st_mode):  # named as an image: said, never read
                report.skipped_other += 1
                report.warnings.append(
                    f"{entry.path}: not a regular file (a FIFO, a device or a socket); skipped"
                )
                continue
            if is_link and not _leads_inside(entry.path, real_root, report):
                continue
            found = FoundFile(rel, Path(entry.path), fst.st_size, file_mtime_ns(fst))
            report.files.append(found)
            if on_file is not None:
                on_file(found)
        stack.extend(reversed(subdirs))  # depth-first, in name order
    if not report.files and not report.warnings:  # a mistyped folder, or one not filled yet
        n, why = report.skipped_other, []
        if n:
            why.append(f"{n} file{'s' * (n != 1)} of other kinds")
        if report.excluded:
            why.append(f"{report.excluded} excluded by --exclude")
        found = f" ({', '.join(why)})" if why else ""
        report.warnings.append(f"{root}: no image or video files in it{found}; the right folder?")
    return report
