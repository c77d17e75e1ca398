"""`remove` that sticks (recorded, honoured by `index`, shown by `stats`, undone by
`remove --undo`), `--json` on the maintenance commands, and `labels` on a library whose
model has no class head (issue 10, item 10). Through click's runner, as a user types them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from search.settings import Settings
from tests.cli_runner import library_runner
from tests.indexer_helpers import copy_photos, photo_paths


@pytest.fixture
def run(tmp_path: Path, models_dir: Path):  # type: ignore[no-untyped-def]
    return library_runner(tmp_path / "library", models_dir)


def as_json(result) -> dict:  # type: ignore[no-untyped-def,type-arg]
    return json.loads(result.stdout)


@pytest.fixture
def pictures(tmp_path: Path, data_dir: Path) -> Path:
    root = tmp_path / "Pictures"
    photos = photo_paths(data_dir, 5)
    copy_photos(photos[:3], root)
    copy_photos(photos[3:], root / "old")
    return root


def test_remove_sticks_until_undone(run, pictures: Path) -> None:  # type: ignore[no-untyped-def]
    assert as_json(run("index", "--json", "--no-progress", str(pictures)))["added"] == 5
    removed = as_json(run("remove", "--json", str(pictures / "old")))
    assert removed == {
        "removed": 2,
        "failed": 0,
        "paths": [{"path": str(pictures / "old"), "images": 2, "failed": 0}],
        "unmatched": [],
        "pruned": 0,  # nothing cached yet
        "pruned_bytes": 0,
    }

    # The nightly index, with its folder or without: the removed files stay out.
    for args in ([str(pictures)], []):
        summary = as_json(run("index", "--json", "--no-progress", *args))
        assert (summary["added"], summary["skipped_removed"]) == (0, 2), summary
    stats = as_json(run("stats", "--json"))
    assert stats["images"] == 3
    assert [(r["path"], r["images"]) for r in stats["removed_paths"]] == [
        (str(pictures / "old"), 2)
    ]
    assert f"removed     {pictures / 'old'}: 2 images" in run("stats").stdout
    text = run("index", "--no-progress", str(pictures)).stdout
    assert "2 files left out: removed from the library" in text

    # A single file too; then both taken back by undoing their folder.
    one = sorted((pictures).glob("*.jpg"))[0]
    assert "removed 1 image from the library" in run("remove", str(one)).stdout
    undone = as_json(run("remove", "--undo", "--json", str(pictures)))
    assert sorted(u["path"] for u in undone["undone"]) == sorted([str(pictures / "old"), str(one)])
    summary = as_json(run("index", "--json", "--no-progress"))
    assert (summary["added"], summary["skipped_removed"]) == (3, 0)
    assert as_json(run("stats", "--json"))["removed_paths"] == []
    again = run("remove", "--undo", str(pictures / "old"), code=1)
    assert "no removal is recorded" in again.output and "Traceback" not in again.output


def test_removing_a_whole_collection_asks_first(run, pictures: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (pictures / "notes.jpg").write_text("not a photo")  # a file that cannot be indexed
    run("index", "--no-progress", str(pictures))
    # Without a terminal to ask on: refused, nothing removed, the way out named; the file
    # that failed is not counted as an image (it said "6 images").
    refused = run("remove", str(pictures), code=2).output
    expected = f"every image of the collection {pictures} (5 images and 1 file that could not be"
    assert expected in " ".join(refused.split()) and "add --yes" in refused
    # From a terminal: asked; "no" removes nothing.
    monkeypatch.setattr("cli.remove_cmds._can_ask", lambda: True)
    result = CliRunner().invoke(
        cli, ["--library", str(run.library), "remove", str(pictures)], input="n\n"
    )
    assert result.exit_code == 1 and "Go ahead? [y/N]" in result.output
    assert as_json(run("stats", "--json"))["images"] == 5
    # A folder inside a collection is not asked about.
    assert as_json(run("remove", "--json", str(pictures / "old")))["removed"] == 2
    run("remove", "--undo", str(pictures / "old"))
    # Removed with --yes: the failed file goes too (stats lists it no more), counted apart
    # (the 2 taken back come at the next index run).
    text = run("remove", "--yes", str(pictures)).stdout
    assert "removed 3 images and 1 file that could not be indexed" in text, text
    stats = as_json(run("stats", "--json"))
    assert (stats["images"], stats["failed"]) == (0, 0), stats


def test_removing_a_whole_collection_sticks(run, pictures: Path) -> None:  # type: ignore[no-untyped-def]
    run("index", "--no-progress", str(pictures))
    assert as_json(run("remove", "--yes", "--json", str(pictures)))["removed"] == 5
    summary = as_json(run("index", "--json", "--no-progress"))
    assert (summary["added"], summary["skipped_removed"]) == (0, 5)
    # a new collection inside the removed one: its files stay out too
    summary = as_json(run("index", "--json", "--no-progress", str(pictures / "old")))
    assert (summary["added"], summary["skipped_removed"]) == (0, 2)
    inside = run("remove", "--undo", str(pictures / "old"), code=1).output
    assert f"lies in the removed {pictures}: take that back" in inside


def test_an_empty_collection_can_be_removed_and_a_typo_is_named(  # type: ignore[no-untyped-def]
    run, pictures: Path, tmp_path: Path
) -> None:
    """An audit's `index` of an empty (typo'd) folder made a collection that `remove --yes`
    refused ("none of these paths is an image") and `stats` listed for good; and `remove` of a
    photo beside a typo removed the photo and passed over the typo without a word."""
    run("index", "--no-progress", str(pictures))
    typo = tmp_path / "Picturs"
    typo.mkdir()
    run("index", "--no-progress", str(typo))
    assert str(typo) in {c["root"] for c in as_json(run("stats", "--json"))["collections"]}
    forgot = run("remove", "--yes", str(typo))
    assert f"forgot the empty collection {typo}" in forgot.stdout, forgot.output
    roots = {c["root"] for c in as_json(run("stats", "--json"))["collections"]}
    assert roots == {str(pictures)}
    one = sorted(pictures.glob("*.jpg"))[0]
    missing = pictures / "no-such-photo.jpg"
    both = run("remove", "--json", str(one), str(missing))
    assert as_json(both)["removed"] == 1 and as_json(both)["unmatched"] == [str(missing)]
    assert f"Warning: {missing} is no image of this library" in both.stderr
    assert as_json(run("stats", "--json"))["images"] == 4


def test_maintenance_commands_print_json(run, pictures: Path) -> None:  # type: ignore[no-untyped-def]
    run("index", "--no-progress", str(pictures))
    rebuilt = as_json(run("rebuild-index", "--json", "--index", "flat"))
    assert (rebuilt["kind"], rebuilt["ntotal"]) == ("flat", 5) and rebuilt["seconds"] >= 0
    current = as_json(run("db", "current", "--json"))
    assert current["up_to_date"] is True and current["current"] == current["head"]
    # Nothing to upgrade: no backup copy of the whole database is made (it was, every time).
    same = as_json(run("db", "upgrade", "--json"))
    assert same == {"before": current["head"], "after": current["head"], "backup": None}
    assert not list(run.library.glob("*.bak-*"))
    down = as_json(run("db", "downgrade", "0002", "--yes", "--json"))
    backup = str(run.library / f"imgsearch.sqlite3.bak-{current['head']}")
    assert down == {"before": current["head"], "after": "0002", "backup": backup}
    up = as_json(run("db", "upgrade", "--json"))
    backup = str(run.library / "imgsearch.sqlite3.bak-0002")
    assert up == {"before": "0002", "after": current["head"], "backup": backup}
    reindexed = as_json(run("reindex", "--json", "--no-progress"))
    assert reindexed["added"] + reindexed["updated"] == 5


def test_labels_on_a_model_without_classes_says_so(run, pictures: Path) -> None:  # type: ignore[no-untyped-def]
    run("index", "--no-progress", str(pictures))
    assert as_json(run("labels", "ant", "--json"))["results"]
    run("reindex", "--no-progress", "--model", "mobilenet_v3_small_075")
    for args in (["labels", "ant"], ["labels", "ant", "--json"]):
        result = run(*args, code=1)
        assert "model mobilenet_v3_small_075 has no class labels" in result.output
        assert "no results" not in result.output and len(result.output.splitlines()) == 1

    from web.app import create_app  # the API and the labels page say the same

    app = create_app(Settings(library=run.library))
    try:
        answer = app.test_client().get("/api/v1/labels?q=ant")
        assert answer.status_code == 400
        assert answer.get_json()["error"]["code"] == "no_labels"
        assert "has no class labels" in answer.get_json()["error"]["message"]
        page = app.test_client().get("/labels?q=ant")
        assert page.status_code == 400 and b"has no class labels" in page.data
    finally:
        app.extensions["imgsearch"].close()


def test_stats_says_whitening_is_off_when_it_was_turned_off(run, pictures: Path) -> None:  # type: ignore[no-untyped-def]
    """`index --descriptor whiten=off`: stats said "no whitening (learned from 100 images
    up)", as if it would come, whatever the library's size."""
    run("index", "--no-progress", "--descriptor", "whiten=off", str(pictures))
    text = run("stats").stdout
    assert "no whitening (whiten=off)" in text and "images up" not in text, text
    run("index", "--no-progress", "--descriptor", "default")
    assert "no whitening (learned from 100 images up)" in run("stats").stdout


@pytest.mark.slow
def test_stats_of_a_library_without_a_model_says_so(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A library whose schema was taken down to nothing and up again has no model yet:
    `stats` printed "model - (--d, sha256 -)"."""
    (tmp_path / "none").mkdir()
    run("index", "--no-progress", str(tmp_path / "none"))
    run("db", "downgrade", "base", "--yes")
    run("db", "upgrade")
    line = next(x for x in run("stats").stdout.splitlines() if x.startswith("model"))
    assert line == "model       none yet (the first `imgsearch index` chooses it)", line


def test_a_trained_index_kind_asked_of_an_empty_library_is_built_once_it_has_vectors(
    run, tmp_path: Path, data_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    """`rebuild-index --index ivf-sq8` of an empty library builds flat (nothing to train on);
    its JSON said `"requested_kind": "flat"` and the next `index` kept the flat index for good
    (as a first `index` with IMGSEARCH_INDEX=ivf-sq8 did)."""
    from search.index import VectorIndex

    (tmp_path / "none").mkdir()
    run("index", "--no-progress", str(tmp_path / "none"))
    rebuilt = as_json(run("rebuild-index", "--json", "--index", "ivf-sq8"))
    assert (rebuilt["kind"], rebuilt["requested_kind"]) == ("flat", "ivf-sq8")
    assert "the next index run builds it" in run("rebuild-index").stdout
    copy_photos(photo_paths(data_dir, 2), tmp_path / "two")
    run("index", "--no-progress", str(tmp_path / "two"))
    header = VectorIndex.read_header(Settings(library=run.library).index_path)
    assert (header.kind, header.info["requested_kind"]) == ("ivf-sq8", "ivf-sq8")


def test_the_index_kind_of_a_first_index_run_is_remembered(
    run, tmp_path: Path, data_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    """`index --index hnsw` into a new library built hnsw from the start but never recorded
    it: a rebuild (a lost or stale FAISS file, `rebuild-index`) then built the default."""
    copy_photos(photo_paths(data_dir, 2), tmp_path / "two")
    run("index", "--no-progress", "--index", "hnsw", str(tmp_path / "two"))
    assert as_json(run("rebuild-index", "--json"))["kind"] == "hnsw"


def test_a_kind_chosen_by_the_environment_is_remembered_and_tuned(
    run, tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """A new library indexed with IMGSEARCH_INDEX=hnsw: its graph, grown from empty, kept
    efSearch 0 and `stats` showed "recall@10 1.000" never measured; and `rebuild-index`
    without the variable built flat, although its help says the library's kind comes first."""
    copy_photos(photo_paths(data_dir, 12), tmp_path / "photos")
    monkeypatch.setenv("IMGSEARCH_INDEX", "hnsw")
    run("index", "--no-progress", str(tmp_path / "photos"))
    monkeypatch.delenv("IMGSEARCH_INDEX")
    index = as_json(run("stats", "--json"))["index"]
    assert index["kind"] == "hnsw" and index["trained_on"] == 12, index
    assert index["efSearch"] >= 20 and index["recall_sample"] >= 1, index
    assert as_json(run("rebuild-index", "--json"))["kind"] == "hnsw"


def test_a_descriptor_option_that_undoes_another_says_so(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`--descriptor` starts from the defaults: `index --descriptor labels=0.25` after
    `--descriptor whiten=off` turned whitening back on without a word."""
    (tmp_path / "none").mkdir()
    run("index", "--no-progress", "--descriptor", "whiten=off", str(tmp_path / "none"))
    said = run("index", "--no-progress", "--descriptor", "labels=0.25").output
    assert "--descriptor labels=0.25 also set whiten=on (the library had whiten=off)" in said
    assert "give 'labels=0.25,whiten=off' to keep them" in said
    for asked in ("labels=0.25", "default,whiten=off"):  # nothing undone, or all asked for
        assert "also set" not in run("index", "--no-progress", "--descriptor", asked).output
    # an option described only when on (crops) is compared like the others, either way
    on = run("index", "--no-progress", "--descriptor", "whiten=off,crops=on").output
    assert "also set" not in on
    said = run("index", "--no-progress", "--descriptor", "whiten=off,labels=0.3").output
    assert "also set crops=off (the library had crops=on)" in said


def test_dedup_output_suffixes_are_read_as_clusters_reads_them(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`clusters -o report.htm` wrote HTML; `dedup -o report.htm` said "cannot tell the
    format from report.htm; give --format" (and named no suffix it knows)."""
    (tmp_path / "none").mkdir()
    run("index", "--no-progress", str(tmp_path / "none"))
    run("dedup", "-o", str(tmp_path / "report.htm"))
    assert (tmp_path / "report.htm").read_text().lstrip().lower().startswith("<!doctype html")
    refused = run("dedup", "-o", str(tmp_path / "report.pdf"), code=2).output
    assert "name it .html, .csv or .json, or give --format" in refused, refused


def test_index_keeps_the_librarys_index_kind_as_its_help_says(
    run, tmp_path: Path, data_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    """`index --help` said "--index ... [default: auto]": an `index` run keeps the kind the
    library was given (`rebuild-index --index hnsw`), as rebuild-index's help says."""
    assert "[default: the library's kind, else IMGSEARCH_INDEX, else auto]" in " ".join(
        run("index", "--help").output.split()
    )
    copy_photos(photo_paths(data_dir, 2), tmp_path / "two")
    run("index", "--no-progress", str(tmp_path / "two"))
    run("rebuild-index", "--index", "hnsw")
    copy_photos(photo_paths(data_dir, 3)[2:], tmp_path / "two")
    run("index", "--no-progress", str(tmp_path / "two"))
    stats = run("stats").output
    assert "index       hnsw, 3 vectors" in stats
    assert re.search(r"at efSearch \d+", stats), stats  # what a search pays for, tuned


def test_a_file_that_could_not_be_read_is_tried_again(run, pictures: Path) -> None:  # type: ignore[no-untyped-def]
    """An audit made a photo unreadable (`chmod 000`, as a user without root), ran `index`
    ("1 failed: unreadable: Permission denied"), fixed the permission and ran `index` again:
    "0 files processed ... unchanged" - the failure was kept while size and time were the
    same, the photo out of every search. A read failure is tried again at every run now (a
    bad image is not: it would fail the same way). The failed row is made here as that run
    left it: reading as root ignores permissions."""
    import sqlite3

    run("index", "--no-progress", str(pictures))
    victim = sorted(pictures.glob("*.jpg"))[0].name
    with sqlite3.connect(run.library / "imgsearch.sqlite3") as connection:
        (image_id,) = connection.execute(
            "SELECT id FROM images WHERE rel_path = ?", (victim,)
        ).fetchone()
        connection.execute("DELETE FROM embeddings WHERE image_id = ?", (image_id,))
        connection.execute(
            "UPDATE images SET status = 'failed', error = ? WHERE id = ?",
            ("unreadable: Permission denied", image_id),
        )
    summary = as_json(run("index", "--json", "--no-progress", str(pictures)))
    assert summary["failed"] == 0 and summary["updated"] + summary["added"] == 1, summary
    stats = as_json(run("stats", "--json"))
    assert stats["failed"] == 0 and stats["images"] == 5, stats


def test_a_moved_collection_is_told_how_to_drop_its_old_place(run, pictures: Path) -> None:  # type: ignore[no-untyped-def]
    """An audit moved a collection's folder (a new mount point): `index` said only "no
    collection of this library is there", and `index NEWPLACE` copied every vector while the
    old rows stayed (a folder not there keeps its images: a drive not mounted), so every
    search listed each photo twice, and nothing said what to do. Both now name the fix."""
    run("index", "--no-progress", str(pictures))
    moved = pictures.with_name("Moved")
    pictures.rename(moved)
    said = run("index", "--no-progress", code=1).output
    assert f"`imgsearch remove {pictures}`" in said and "index its new place" in said, said
    summary = as_json(run("index", "--json", "--no-progress", str(moved)))
    assert summary["copied"] == 5 and summary["added"] == 5, summary
    (hint,) = [w for w in summary["warnings"] if "the collection's folder is not there" in w]
    assert f"`imgsearch remove {pictures}`" in hint, hint
    run("remove", "--yes", str(pictures))
    assert as_json(run("stats", "--json"))["images"] == 5
