"""The walk: image files only, hidden and excluded entries skipped, loops and the library
directory never entered, unreadable folders reported. No model, no decoding."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pytest

from indexer.exclude_patterns import ExcludeError, matches_exclude
from indexer.plan import WorkKind, make_plan
from indexer.scan import CollectionError, scan_collection
from indexer.summary import IndexSummary
from search.store import STATUS_FAILED, ChangeSet, ImageUpsert, ModelStamp, Store


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    for rel in ("a.jpg", "B.JPEG", "c.png", "sub/d.webp", "sub/deeper/e.heic", "f.tiff"):
        touch(root / rel)
    touch(root / "notes.txt")
    touch(root / "raw.cr2")
    touch(root / ".hidden.jpg")
    touch(root / ".thumbs" / "t.jpg")
    touch(root / "sub" / ".cache" / "x.png")
    return root


def rels(report) -> list[str]:  # type: ignore[no-untyped-def]
    return [f.rel_path for f in report.files]


def test_walk_lists_images_by_extension_in_stable_order(tree: Path) -> None:
    report = scan_collection(tree)
    assert rels(report) == [
        "B.JPEG",
        "a.jpg",
        "c.png",
        "f.tiff",
        "sub/d.webp",
        "sub/deeper/e.heic",
    ]
    assert report.skipped_other == 2  # notes.txt, raw.cr2
    assert report.skipped_hidden == 3  # .hidden.jpg, .thumbs/, sub/.cache/
    found = report.files[1]
    assert found.path == tree / "a.jpg" and found.size == 1
    assert found.mtime_ns == (tree / "a.jpg").stat().st_mtime_ns


def test_exclude_globs_match_rel_paths_and_names(tree: Path) -> None:
    assert rels(scan_collection(tree, excludes=["sub"])) == ["B.JPEG", "a.jpg", "c.png", "f.tiff"]
    report = scan_collection(tree, excludes=["sub/deeper/*", "*.png"])
    assert rels(report) == ["B.JPEG", "a.jpg", "f.tiff", "sub/d.webp"]
    assert report.excluded == 2  # c.png, the folder sub/deeper
    assert matches_exclude("tmp", ["./tmp/"], is_dir=True)  # the walk prunes all below it


@pytest.mark.parametrize(
    ("pattern", "excluded", "kept"),
    [
        # every tmp folder, at any depth (the top included), however it is spelled
        ("*/tmp/*", ["tmp/x.jpg", "2020/tmp/x.jpg", "a/b/tmp/c/x.jpg"], ["tmpx/x.jpg", "x.jpg"]),
        ("tmp/", ["tmp/x.jpg", "2020/tmp/x.jpg"], ["tmp.jpg", "a/tmpx/x.jpg"]),
        ("**/tmp/**", ["tmp/x.jpg", "a/b/tmp/c/x.jpg"], ["tmpx/x.jpg"]),
        ("tmp", ["tmp/x.jpg", "a/tmp/x.jpg", "a/tmp"], ["tmpx/x.jpg"]),
        # anchored at the collection root when there is a slash inside
        ("2020/tmp/", ["2020/tmp/x.jpg"], ["tmp/x.jpg", "b/2020/tmp/x.jpg"]),
        ("./raw", ["raw/x.jpg", "raw"], ["a/raw/x.jpg"]),
        # names at any depth; * stops at a slash
        ("*.raw.jpg", ["x.raw.jpg", "a/b/x.raw.jpg"], ["x.jpg"]),
        ("2020/*.png", ["2020/x.png"], ["2020/sub/x.png", "x.png"]),
    ],
)
def test_exclude_patterns_work_like_gitignore(
    tmp_path: Path, pattern: str, excluded: list[str], kept: list[str]
) -> None:
    for rel in excluded + kept:
        touch(tmp_path / rel) if rel.endswith(".jpg") or rel.endswith(".png") else (
            touch(tmp_path / rel / "in.jpg")
        )
    found = set(rels(scan_collection(tmp_path, excludes=[pattern])))
    for rel in excluded:
        assert not any(f == rel or f.startswith(rel + "/") for f in found), (pattern, rel)
    for rel in kept:
        assert any(f == rel or f.startswith(rel + "/") for f in found), (pattern, rel)


def test_a_bad_exclude_pattern_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(ExcludeError, match="gitignore"):
        scan_collection(tmp_path, excludes=["!"])


def test_symlink_loops_end_and_dir_links_are_not_followed_by_default(tree: Path) -> None:
    os.symlink(tree, tree / "sub" / "loop")  # sub/loop -> the root
    os.symlink(tree / "sub", tree / "sub" / "deeper" / "up")  # a second loop, deeper
    os.symlink(tree / "a.jpg", tree / "alias.jpg")  # a file link: indexed under its own name
    os.symlink(tree / "missing.jpg", tree / "broken.jpg")
    plain = scan_collection(tree)
    assert "alias.jpg" in rels(plain) and "broken.jpg" not in rels(plain)
    assert not any(r.startswith("sub/loop") for r in rels(plain))
    assert plain.skipped_links == 3
    assert any("broken link" in w for w in plain.warnings)
    followed = scan_collection(tree, follow_symlinks=True)
    assert sorted(rels(followed)) == sorted(rels(plain))  # every real folder walked once
    assert sum("symlink loop" in w for w in followed.warnings) == 2


def test_a_folder_reached_by_a_link_and_its_own_path_keeps_its_own(tmp_path: Path) -> None:
    """``inside -> real`` beside ``real``: following links walked ``inside`` first (name
    order), called ``real`` "a symlink loop", and each run that alternated the option moved
    the photos between the two paths. The real path wins, either way."""
    touch(tmp_path / "real" / "p.jpg")
    os.symlink(tmp_path / "real", tmp_path / "inside")
    plain = scan_collection(tmp_path)
    followed = scan_collection(tmp_path, follow_symlinks=True)
    assert rels(plain) == rels(followed) == ["real/p.jpg"]
    (warning,) = followed.warnings
    assert "inside: leads to a folder walked already (its files are indexed under" in warning
    assert "loop" not in warning
    # a folder only a link reaches (a hidden one is not walked by its own path) is walked by it
    touch(tmp_path / ".kept" / "q.jpg")
    os.symlink(tmp_path / ".kept", tmp_path / "real" / "zz")
    assert rels(scan_collection(tmp_path)) == ["real/p.jpg"]
    assert rels(scan_collection(tmp_path, follow_symlinks=True)) == ["real/p.jpg", "real/zz/q.jpg"]


def test_library_directory_inside_the_collection_is_skipped(tree: Path) -> None:
    library = tree / "imgsearch-library"
    touch(library / "thumbnails" / "1.jpg")
    os.symlink(library, tree / "lib-link")
    report = scan_collection(tree, skip_dirs=[library], follow_symlinks=True)
    assert not any("thumbnails" in r for r in rels(report))
    assert rels(scan_collection(library, skip_dirs=[library])) == []


def test_unreadable_folder_is_a_warning_and_its_rows_are_kept(tree: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    real_scandir = os.scandir
    blocked = str(tree / "sub")

    def scandir(path):  # type: ignore[no-untyped-def]
        if str(path) == blocked:  # chmod 000 would not stop root, so fail the listing here
            raise PermissionError(13, "Permission denied", blocked)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    report = scan_collection(tree)
    assert rels(report) == ["B.JPEG", "a.jpg", "c.png", "f.tiff"]
    assert report.unreadable_dirs == ["sub"]
    assert any("Permission denied" in w for w in report.warnings)
    assert not report.covers("sub/d.webp") and report.covers("a.jpg")


def test_undecodable_names_are_skipped_with_a_warning(tree: Path) -> None:
    os.close(os.open(os.fsencode(tree) + b"/caf\xe9.jpg", os.O_CREAT | os.O_WRONLY))
    report = scan_collection(tree)
    assert "B.JPEG" in rels(report) and len(report.files) == 6
    assert any("not valid UTF-8" in w for w in report.warnings)


def test_bad_roots_are_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(CollectionError, match="no such directory"):
        scan_collection(tmp_path / "nope")
    with pytest.raises(CollectionError, match="not a directory"):
        scan_collection(touch(tmp_path / "one.jpg"))


def test_plan_compares_size_and_mtime_only(tree: Path, tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'db.sqlite3'}", create=True)
    store.bind_model(ModelStamp("m", "ab" * 32, 2))
    cid = store.ensure_collection(tree)
    report = scan_collection(tree)
    by_rel = {f.rel_path: f for f in report.files}

    def row(rel: str, **kw: object) -> ImageUpsert:
        f = by_rel.get(rel)
        base = {
            "file_size": f.size if f else 5,
            "mtime_ns": f.mtime_ns if f else 5,
            "sha256": f"sha-{rel}",
            "vector": [1.0, 0.0],
        }
        base.update(kw)
        if base["vector"] is not None:
            import numpy as np

            base["vector"] = np.asarray(base["vector"], np.float32)
        return ImageUpsert(collection_id=cid, rel_path=rel, **base)  # type: ignore[arg-type]

    store.apply(
        ChangeSet(
            upserts=[
                row("a.jpg"),  # unchanged
                row("B.JPEG", mtime_ns=1),  # changed
                row("c.png", vector=None),  # ok but no vector: re-embed
                row(
                    "f.tiff", status=STATUS_FAILED, error="x", vector=None
                ),  # failed, same stat: skip
                row("gone.jpg"),  # vanished, movable
                row("gone-failed.jpg", status=STATUS_FAILED, vector=None),  # vanished, movable
                row("sub/d.webp", file_size=99),  # changed
            ]
        )
    )
    plan = make_plan(store, [(cid, report)])
    kinds = {w.found.rel_path: w.kind for w in plan.work}
    assert kinds == {
        "B.JPEG": WorkKind.CHANGED,
        "c.png": WorkKind.REEMBED,
        "sub/d.webp": WorkKind.CHANGED,
        "sub/deeper/e.heic": WorkKind.NEW,
    }
    assert plan.unchanged == 2
    assert {s.rel_path for s in plan.vanished.values()} == {"gone.jpg", "gone-failed.jpg"}
    assert set(plan.move_sources) == {"sha-gone.jpg", "sha-gone-failed.jpg"}
    # rows whose vector may change this run are never copy sources
    sources = {
        f"sha-{rel}": plan.copy_source(f"sha-{rel}")
        for rel in ("a.jpg", "B.JPEG", "c.png", "f.tiff", "gone.jpg", "sub/d.webp", "new.jpg")
    }
    assert {sha for sha, found in sources.items() if found is not None} == {
        "sha-a.jpg",
        "sha-gone.jpg",
    }
    moved = plan.claim_move("sha-gone.jpg")
    assert moved is not None and plan.claim_move("sha-gone.jpg") is None
    assert moved not in plan.vanished
    store.close()


def test_a_folder_without_images_is_warned_of(tmp_path: Path) -> None:
    """`index DIR` of a mistyped or empty folder (or one whose every file --exclude drops)
    said only "0 files processed": the walk now warns that it found no image or video, and
    says what it found instead."""
    empty = tmp_path / "empty"
    empty.mkdir()
    (warning,) = scan_collection(empty).warnings
    assert warning == f"{empty}: no image or video files in it; the right folder?"
    touch(tmp_path / "docs" / "notes.txt")
    (warning,) = scan_collection(tmp_path / "docs").warnings
    assert "(1 file of other kinds)" in warning
    touch(tmp_path / "raw" / "a.jpg")
    (warning,) = scan_collection(tmp_path / "raw", excludes=["*.jpg"]).warnings
    assert "(1 excluded by --exclude)" in warning
    assert scan_collection(tmp_path / "raw").warnings == []


def test_a_folder_too_deep_to_open_is_a_warning_and_its_rows_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "photos"
    touch(root / "top.jpg")
    monkeypatch.chdir(root)
    for _ in range(25):  # a path of over 5,000 bytes: longer than the system lets one open
        os.mkdir("d" * 200)
        os.chdir("d" * 200)
    Path("deep.jpg").write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    report = scan_collection(root)
    assert rels(report) == ["top.jpg"]
    deepest_opened = "/".join(["d" * 200] * len(report.unreadable_dirs[0].split("/")))
    assert report.unreadable_dirs == [deepest_opened]
    assert any("cannot open folder (File name too long); skipped" in w for w in report.warnings)
    assert not report.covers(deepest_opened + "/" + "d" * 200 + "/deep.jpg")


def test_folders_of_other_software_are_skipped_unless_given_as_collections(
    tmp_path: Path,
) -> None:
    root = tmp_path / "share"
    touch(root / "a.jpg")
    touch(root / "@eaDir" / "a.jpg" / "SYNOPHOTO_THUMB_XL.jpg")  # a Synology NAS's thumbnails
    touch(root / "trip" / "#recycle" / "deleted.jpg")
    touch(root / "trip" / "b.jpg")
    touch(root / "backup" / "old-library" / "imgsearch.sqlite3")  # a copy of a library
    touch(root / "backup" / "old-library" / "thumbnails" / "0000" / "1-320.jpg")
    report = scan_collection(root)
    assert rels(report) == ["a.jpg", "trip/b.jpg"]
    assert [(Path(p).relative_to(root).as_posix(), what) for p, what in report.skipped_system] == [
        ("@eaDir", "a Synology NAS's thumbnails"),
        ("backup/old-library", "an imgsearch library (it holds imgsearch.sqlite3)"),
        ("trip/#recycle", "a Synology NAS's recycle bin"),
    ]
    assert report.unreadable_dirs == []  # rows indexed from them by an older version go
    assert rels(scan_collection(root / "@eaDir")) == ["a.jpg/SYNOPHOTO_THUMB_XL.jpg"]
    summary = IndexSummary(skipped_system=report.skipped_system).to_text()
    assert "3 folders of other software skipped: " in summary
    assert "@eaDir (a Synology NAS's thumbnails) and 2 more" in summary
    assert "give it as a collection: `imgsearch index PATH`" in summary


class _EntryWithoutStat:
    """A directory entry whose stat fails as in a folder with the read bit but not the
    execute bit (chmod 644: names listed, nothing inside reachable)."""

    def __init__(self, entry: os.DirEntry[str]) -> None:
        self._entry, self.name, self.path = entry, entry.name, entry.path

    def is_symlink(self) -> bool:
        return self._entry.is_symlink()

    def is_dir(self, *, follow_symlinks: bool = True) -> bool:
        return self._entry.is_dir(follow_symlinks=follow_symlinks)

    def stat(self, *, follow_symlinks: bool = True) -> os.stat_result:
        raise PermissionError(13, "Permission denied", self.path)


def test_files_that_cannot_be_stat_ed_are_kept_and_broken_links_are_not(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An audit: `chmod 644 album` (listable, not enterable) made `index` warn "cannot stat"
    for its 4 photos and then remove their rows and vectors as if deleted."""
    os.symlink(tree / "gone.jpg", tree / "sub" / "broken.jpg")
    real_scandir = os.scandir
    blocked = str(tree / "sub" / "deeper")

    @contextmanager
    def scandir(path):  # type: ignore[no-untyped-def]
        with real_scandir(path) as entries:
            yield [_EntryWithoutStat(e) if str(path) == blocked else e for e in entries]

    monkeypatch.setattr(os, "scandir", scandir)
    report = scan_collection(tree)
    assert "sub/deeper/e.heic" not in rels(report)
    assert any("e.heic: cannot stat (Permission denied)" in w for w in report.warnings)
    assert not report.covers("sub/deeper/e.heic")  # kept as indexed
    assert any("broken.jpg: broken link" in w for w in report.warnings)
    assert report.covers("sub/broken.jpg")  # gone: its row goes


def test_a_fifo_named_as_an_image_is_said_and_never_read(tree: Path) -> None:
    """A FIFO called photo.jpg was passed over without a word (an audit): it is a warning
    now, as a broken link is; it is never opened (a read would wait for a writer)."""
    os.mkfifo(tree / "fifo.jpg")
    report = scan_collection(tree)
    assert "fifo.jpg" not in rels(report)
    assert any(w.startswith(f"{tree / 'fifo.jpg'}: not a regular file") for w in report.warnings), (
        report.warnings
    )
