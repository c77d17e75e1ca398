"""Quality flags (too dark, overexposed, blurry, tiny, almost uniform): measured in the
indexer's decode step, stored, filled in for older libraries by ``imgsearch index``, and
filterable in search, browse, the API and ``imgsearch flags``."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import pytest

from models import ImageAnalyzer, load_image, open_model
from search.evaluation import degrade
from search.query import QualityFilter, QueryError
from tests.cli_process import run_cli

KINDS = ("dark", "bright", "blurry", "tiny", "uniform")


def write_set(data_dir: Path, folder: Path, count: int) -> dict[str, str]:
    """``count`` hymenoptera val/ photos and their five degraded versions: name -> truth."""
    folder.mkdir(parents=True)
    truth = {}
    for path in sorted((data_dir / "hymenoptera" / "images" / "val" / "bees").glob("*.jpg"))[
        :count
    ]:
        photo = load_image(path, draft_size=None).image
        for kind in ("none", *KINDS):
            name = f"{kind}_{path.name}"
            (photo if kind == "none" else degrade(photo, kind)).save(folder / name, quality=90)
            truth[name] = kind
    return truth


def test_decode_step_flags_each_degradation_and_leaves_originals_alone(
    data_dir: Path, models_dir: Path, tmp_path: Path
) -> None:
    truth = write_set(data_dir, tmp_path / "set", 2)
    analyzer = ImageAnalyzer(open_model(search_path=[models_dir]), decode_workers=0, quality=True)
    for name, kind in truth.items():
        prepared = analyzer.prepare(io.BytesIO((tmp_path / "set" / name).read_bytes()))
        assert prepared.quality.names == ([] if kind == "none" else [kind]), name


def test_filter_names_and_errors() -> None:
    blurry_or_dark = QualityFilter.parse(["blurry", "dark"], None)
    assert blurry_or_dark.keeps(4) and blurry_or_dark.keeps(1 | 8) and not blurry_or_dark.keeps(8)
    assert not blurry_or_dark.keeps(None)  # never measured: not known to be blurry
    not_tiny = QualityFilter.parse(None, "tiny")
    assert not_tiny.keeps(None) and not_tiny.keeps(0) and not not_tiny.keeps(8 | 4)
    assert QualityFilter.parse("any", "tiny,uniform").keeps(1)
    assert QualityFilter.parse(None, None) is None
    with pytest.raises(QueryError, match="unknown quality flag 'fuzzy'"):
        QualityFilter.parse("fuzzy", None)
    with pytest.raises(QueryError, match="leave nothing"):
        QualityFilter.parse("dark", "dark")


@pytest.mark.slow
def test_flags_through_the_cli_the_api_and_an_older_library(
    data_dir: Path, models_dir: Path, tmp_path: Path
) -> None:
    truth = write_set(data_dir, tmp_path / "photos", 1)
    library = ["--library", str(tmp_path / "lib"), "--model-path", str(models_dir)]
    done = run_cli([*library, "index", str(tmp_path / "photos"), "--no-progress"], tmp_path)
    assert done.returncode == 0, done.stderr
    listed = json.loads(run_cli([*library, "flags", "--json"], tmp_path).stdout)
    assert listed["counts"] == {**dict.fromkeys(KINDS, 1), "measured": 6, "unmeasured": 0}
    assert {Path(r["path"]).name: r["flags"] for r in listed["results"]} == {
        n: [k] for n, k in truth.items() if k != "none"
    }
    original = next(n for n, k in truth.items() if k == "none")
    query = str(tmp_path / "photos" / original)
    clean = run_cli([*library, "search", query, "--exclude-flag", "any", "--json"], tmp_path)
    assert [Path(r["path"]).name for r in json.loads(clean.stdout)["results"]] == [original]
    # a page past the end says so (it said "none of 5")
    text = run_cli([*library, "flags", "--offset", "50"], tmp_path).stdout
    assert "images with any flag: none past the first 50 (of 5)" in text, text
    text = run_cli([*library, "flags", "--flag", "any"], tmp_path).stdout  # "images with any:"
    assert "images with any flag: 1-5 of 5" in text, text
    bad = run_cli([*library, "search", query, "--flag", "fuzzy"], tmp_path)
    assert bad.returncode == 2 and "'fuzzy' is not one of" in bad.stderr

    # a library indexed before quality flags existed: the next index run measures it
    with sqlite3.connect(tmp_path / "lib" / "imgsearch.sqlite3") as db:
        db.execute("UPDATE images SET quality_flags = NULL, brightness = NULL")
    text = run_cli([*library, "flags"], tmp_path).stdout
    assert "6 images indexed before quality flags existed are not measured yet" in text
    again = run_cli([*library, "index", "--json", "--no-progress"], tmp_path)
    summary = json.loads(again.stdout)
    assert summary["quality_measured"] == 6 and summary["updated"] == 0

    from search.settings import Settings
    from web.app import create_app

    app = create_app(Settings(library=tmp_path / "lib", model_path=(models_dir,)))
    try:
        client = app.test_client()
        every = client.get("/api/v1/images?flag=any").get_json()  # measured again, the same
        assert {r["id"]: r["flags"] for r in every["results"]} == {
            r["id"]: r["flags"] for r in listed["results"]
        }
        only = client.get(f"/api/v1/images/{every['results'][0]['id']}/similar?flag=blurry")
        assert [r["flags"] for r in only.get_json()["results"]] in ([["blurry"]], [])
        page = client.get("/api/v1/images?flag=dark,tiny&exclude_flag=tiny").get_json()
        assert [r["flags"] for r in page["results"]] == [["dark"]] and page["total"] == 1
        assert client.get("/api/v1/images?flag=fuzzy").get_json()["error"]["code"] == "bad_flag"
        image_id = page["results"][0]["id"]
        info = client.get(f"/api/v1/images/{image_id}").get_json()
        assert info["flags"] == ["dark"] and info["quality"]["luma_p95"] < 40
        html = client.get("/browse?flag=blurry").get_data(as_text=True)
        assert "Blurry" in html and "blurry_" in html and "dark_" not in html
        # the search page's form leaves flagged images out too
        assert 'name="exclude_flag"' in client.get("/").get_data(as_text=True)
        photo = (tmp_path / "photos" / original).read_bytes()

        def searched(**fields: str) -> str:
            form = {"image": (io.BytesIO(photo), original), "k": "10", **fields}
            headers = {"X-Requested-With": "fetch"}
            return client.post("/search", data=form, headers=headers).get_data(as_text=True)

        assert all(f"{kind}_" in searched() for kind in ("dark", "blurry"))
        assert not any(f"{kind}_" in searched(exclude_flag="any") for kind in KINDS)
        spec = client.get("/api/v1/openapi.json").get_json()
        names = [p["name"] for p in spec["paths"]["/images"]["get"]["parameters"]]
        assert "flag" in names and "exclude_flag" in names
    finally:
        app.extensions["imgsearch"].close()


def test_the_cli_names_its_own_options_when_the_flags_leave_nothing(
    tmp_path: Path, data_dir: Path
) -> None:
    """`imgsearch search --flag dark --exclude-flag any` said "flag and exclude_flag leave
    nothing" - the API's field names: the CLI names its options."""
    photo = str(sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[0])
    for command in (["search", photo], ["flags"]):
        done = run_cli([*command, "--flag", "dark", "--exclude-flag", "any"], tmp_path)
        assert done.returncode == 1, done.stderr
        assert "--flag and --exclude-flag leave nothing" in done.stderr, done.stderr


def test_flags_without_flag_says_what_excluding_every_flag_leaves(tmp_path: Path) -> None:
    """`imgsearch flags --exclude-flag any` said "--flag and --exclude-flag leave nothing:
    dark, bright, ... both asked for and excluded" of a --flag never given (flags lists the
    images that have any flag unless --flag says which)."""
    for excluded in (["any"], ["dark", "bright", "blurry", "tiny", "uniform"]):
        args = ["flags", *(a for name in excluded for a in ("--exclude-flag", name))]
        done = run_cli(args, tmp_path)
        assert done.returncode == 1, done.stderr
        (line,) = done.stderr.strip().splitlines()
        assert "leaves no flag to list" in line and "--flag and" not in line, line
