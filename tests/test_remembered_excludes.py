"""`--exclude` is remembered per collection and applied by every later run.

It was forgotten: `imgsearch index Pictures --exclude private/` left the folder out once, and
the nightly `imgsearch index` README recommends (no arguments), `index Pictures` and
`reindex` (which had no --exclude at all) put it back into search and the web UI. The
patterns are now stored with the collection (schema revision 0008e), replaced by a run that
gives --exclude, dropped by --no-exclude, said in the run's summary and in `stats`."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from search.store import Store, make_engine, migrate
from tests.cli_process import run_cli
from tests.indexer_helpers import copy_photos, photo_paths


def _pictures(tmp_path: Path, data_dir: Path) -> tuple[list[str], list[str]]:
    """Pictures/ with two photos, Pictures/private/ with two more: their names."""
    photos = photo_paths(data_dir, 4)
    public = copy_photos(photos[:2], tmp_path / "Pictures")
    private = copy_photos(photos[2:], tmp_path / "Pictures" / "private")
    return [p.name for p in public], [p.name for p in private]


def _indexed(tmp_path: Path) -> list[str]:
    """The library's image paths, relative to the test's folder."""
    with sqlite3.connect(tmp_path / "imgsearch-library" / "imgsearch.sqlite3") as db:
        rows = db.execute(
            "SELECT c.root, i.rel_path FROM images i JOIN collections c ON c.id = i.collection_id"
        ).fetchall()
    return sorted(str(Path(root, rel).relative_to(tmp_path)) for root, rel in rows)


def _json(args: list[str], cwd: Path) -> dict:  # type: ignore[type-arg]
    done = run_cli(args, cwd)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_an_excluded_folder_stays_out_of_later_runs_until_the_excludes_change(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """The auditor's session: `index` without a path, `index Pictures` without --exclude and
    `reindex` all leave private/ out; `stats` and each summary say which patterns apply;
    --exclude replaces them and --no-exclude drops them."""
    public, private = _pictures(tmp_path, data_dir)
    index = ["--model-path", str(models_dir), "index", "--json", "--no-progress"]
    root = str(tmp_path / "Pictures")
    kept = sorted(f"Pictures/{name}" for name in public)
    first = _json([*index, "Pictures", "--exclude", "private/"], tmp_path)
    assert first["added"] == 2 and _indexed(tmp_path) == kept

    applied = [{"collection": root, "patterns": ["private/"], "remembered": True, "replaced": []}]
    for args in ([], ["Pictures"]):  # the nightly run, and the folder named again
        again = _json([*index, *args], tmp_path)
        assert (again["added"], again["unchanged"]) == (0, 2), again
        assert _indexed(tmp_path) == kept
        assert again["excludes"] == applied
    assert first["excludes"] == [
        {"collection": root, "patterns": ["private/"], "remembered": False, "replaced": []}
    ]
    text = run_cli([*index[:3], "--no-progress"], tmp_path)
    assert f"excludes    {root}: private/ (remembered;" in text.stdout, text.stdout

    reindexed = _json(["reindex", "--json", "--no-progress"], tmp_path)
    assert (reindexed["added"], reindexed["updated"]) == (0, 2), reindexed
    assert reindexed["excludes"] == applied and _indexed(tmp_path) == kept

    stats = _json(["stats", "--json"], tmp_path)
    assert [c["excludes"] for c in stats["collections"]] == [["private/"]]
    shown = run_cli(["stats"], tmp_path).stdout
    assert f"collection  {root}: 2 images, excluding private/ (remembered" in shown, shown

    # --exclude replaces the remembered patterns: private/ comes back but for one file
    swapped = _json([*index, "--exclude", f"private/{private[0]}"], tmp_path)
    assert swapped["excludes"] == [
        {
            "collection": root,
            "patterns": [f"private/{private[0]}"],
            "remembered": False,
            "replaced": ["private/"],
        }
    ]
    assert _indexed(tmp_path) == sorted([*kept, f"Pictures/private/{private[1]}"])
    assert _json([*index], tmp_path)["unchanged"] == 3
    # --no-exclude drops them: every file is indexed, and so it stays
    dropped = _json([*index, "Pictures", "--no-exclude"], tmp_path)
    assert dropped["added"] == 1 and dropped["excludes"] == [
        {
            "collection": root,
            "patterns": [],
            "remembered": False,
            "replaced": [f"private/{private[0]}"],
        }
    ]
    assert _json(["reindex", "--json", "--no-progress"], tmp_path)["excludes"] == []
    assert len(_indexed(tmp_path)) == 4
    assert [c["excludes"] for c in _json(["stats", "--json"], tmp_path)["collections"]] == [[]]


def test_reindex_takes_exclude_and_each_collection_keeps_its_own(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """`reindex --exclude` sets the patterns of every collection (a model switch could not
    leave anything out); two collections indexed apart keep their own patterns."""
    photos = photo_paths(data_dir, 4)
    for source, folder in zip(photos, ["a", "a/tmp", "b", "b/raw"], strict=True):
        copy_photos([source], tmp_path / folder)
    base = ["--model-path", str(models_dir)]
    _json([*base, "index", "--json", "a", "--exclude", "tmp/"], tmp_path)
    _json([*base, "index", "--json", "b", "--exclude", "raw/"], tmp_path)
    kept = [f"a/{photos[0].name}", f"b/{photos[2].name}"]
    assert _indexed(tmp_path) == kept
    nightly = _json([*base, "index", "--json"], tmp_path)
    assert nightly["unchanged"] == 2 and _indexed(tmp_path) == kept
    assert [(e["collection"], e["patterns"], e["remembered"]) for e in nightly["excludes"]] == [
        (str(tmp_path / "a"), ["tmp/"], True),
        (str(tmp_path / "b"), ["raw/"], True),
    ]
    switched = _json(["reindex", "--json", "--exclude", "raw/"], tmp_path)
    assert (switched["added"], switched["updated"]) == (1, 2), switched
    assert _indexed(tmp_path) == sorted([*kept, f"a/tmp/{photos[1].name}"])
    stats = _json(["stats", "--json"], tmp_path)
    assert [c["excludes"] for c in stats["collections"]] == [["raw/"], ["raw/"]]
    # a server on the network does not show what its owner keeps out of the library
    from search.settings import Settings
    from web.app import create_app

    for exposed, shown in ((False, [["raw/"], ["raw/"]]), (True, [None, None])):
        settings = Settings(library=tmp_path / "imgsearch-library")
        app = create_app(settings, token="t0ken", exposed=exposed)
        try:
            headers = {"Authorization": "Bearer t0ken", "Host": "127.0.0.1"}
            answer = app.test_client().get("/api/v1/stats", headers=headers).get_json()
        finally:
            app.extensions["imgsearch"].close()
        assert [c.get("excludes") for c in answer["collections"]] == shown, answer


def test_exclude_and_no_exclude_together_is_a_usage_error(tmp_path: Path) -> None:
    for command in (["index", "photos"], ["reindex"]):
        done = run_cli([*command, "--exclude", "tmp/", "--no-exclude"], tmp_path)
        assert done.returncode == 2, done.stderr
        assert "--exclude and --no-exclude together" in done.stderr
    assert not (tmp_path / "imgsearch-library").exists()


def test_a_collection_inside_one_with_excludes_is_warned_of(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """Patterns apply to their own collection's files: a nested collection does not take
    them over, and the run that makes one says so."""
    _pictures(tmp_path, data_dir)
    base = ["--model-path", str(models_dir), "index", "--json"]
    _json([*base, "Pictures", "--exclude", "private/"], tmp_path)
    nested = _json([*base, "Pictures/private"], tmp_path)
    assert nested["added"] == 2
    (warning,) = [w for w in nested["warnings"] if "--exclude patterns" in w]
    assert f"of {tmp_path / 'Pictures'} (private/) do not apply to its files" in warning


@pytest.mark.postgres
def test_the_store_keeps_each_collections_patterns_in_order(
    tmp_path: Path, database_url: str | None
) -> None:
    store = Store.open(database_url or f"sqlite:///{tmp_path / 'db.sqlite3'}", create=True)
    try:
        a, b = store.ensure_collection(tmp_path / "a"), store.ensure_collection(tmp_path / "b")
        assert store.excludes.replace(a, ["tmp/", "*.raw.jpg", "!keep.raw.jpg"]) == []
        assert store.excludes.replace(b, ["x"]) == []
        assert store.excludes.by_root() == {
            str(tmp_path / "a"): ["tmp/", "*.raw.jpg", "!keep.raw.jpg"],
            str(tmp_path / "b"): ["x"],
        }
        assert store.excludes.replace(a, ["cache/"]) == ["tmp/", "*.raw.jpg", "!keep.raw.jpg"]
        assert store.excludes.replace(b, []) == ["x"]
        assert store.excludes.by_collection() == {a: ["cache/"]}
        assert store.removals.forget_empty_collection(a)  # its patterns go with it
        assert store.excludes.by_collection() == {}
    finally:
        store.close()


@pytest.mark.postgres
def test_an_older_library_upgrades_with_no_patterns(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    """A library at 0007c (before remembered excludes) is upgraded when opened: its
    collections are kept and none has patterns; a downgrade keeps the patterns for the upgrade
    back (it dropped them, and the next index run took the excluded files in: an audit)."""
    if backend == "postgresql":
        url = str(request.getfixturevalue("postgres_server").database(empty=True))
    else:
        url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    engine = make_engine(url)
    migrate.upgrade(engine, "0007c")
    assert "collection_excludes" not in inspect(engine).get_table_names()
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO collections (root, added_at) VALUES (:root, :now)"),
            {"root": str(tmp_path), "now": datetime(2026, 12, 1)},
        )
    engine.dispose()
    store = Store.open(url)  # what every command does: upgraded to head
    try:
        assert migrate.current_revision(store.engine) == migrate.head_revision()
        assert [c["root"] for c in store.collections()] == [str(tmp_path)]
        assert store.excludes.by_root() == {}
        cid = int(store.collections()[0]["id"])
        store.excludes.replace(cid, ["tmp/"])
        migrate.downgrade(store.engine, "0007c")
        assert "collection_excludes" not in inspect(store.engine).get_table_names()
        migrate.upgrade(store.engine)
        assert store.excludes.by_root() == {str(tmp_path): ["tmp/"]}
        assert len(store.collections()) == 1
    finally:
        store.close()


def test_an_exclude_that_leaves_out_every_file_is_refused(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """A new user's audit: `index p --exclude '*'` removed every image of the collection with
    exit 0 and remembered the pattern (its thumbnails and key points deleted; indexed again,
    the photos got new ids), where `remove` asks for --yes. It is refused, nothing changed;
    a pattern that leaves some files in still applies."""
    public, private = _pictures(tmp_path, data_dir)
    index = ["--model-path", str(models_dir), "index", "--json", "--no-progress"]
    assert _json([*index, "Pictures"], tmp_path)["added"] == 4
    everything = sorted(
        [*(f"Pictures/{n}" for n in public), *(f"Pictures/private/{n}" for n in private)]
    )
    for pattern in ("*", "*.jpg"):
        refused = run_cli([*index, "Pictures", "--exclude", pattern], tmp_path)
        assert refused.returncode == 1 and "Traceback" not in refused.stderr, refused.stderr
        said = refused.stderr.strip().splitlines()[-1]
        assert "leaves out every file of" in said and "its 4 images would be removed" in said
        assert f"imgsearch remove {tmp_path / 'Pictures'} --yes" in said, said
        assert _indexed(tmp_path) == everything
    again = _json([*index, "Pictures"], tmp_path)  # nothing was remembered
    assert again["added"] == 0 and again.get("removed", 0) == 0 and not again["excludes"]
    narrower = _json([*index, "Pictures", "--exclude", "private/"], tmp_path)
    assert narrower["removed"] == 2 and _indexed(tmp_path) == sorted(
        f"Pictures/{n}" for n in public
    )
