"""Reverse lookup and library dedup over a real library (near_duplicates + a few UKBench)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from cli.main import cli
from search.descriptor import DUPLICATE_Z
from search.evaluation import load_truth
from search.query import EXACT, NEAR, SIMILAR, SearchEngine, library_duplicates, lookup
from tests.engine_library import index_library, make_settings


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("photos")
    for src in sorted((data_dir / "near_duplicates" / "images").iterdir()):
        shutil.copy2(src, root / src.name)
    for name in ("ukbench00004.jpg", "ukbench00005.jpg", "ukbench00040.jpg"):
        shutil.copy2(data_dir / "ukbench_subset" / "images" / name, root / name)
    # A byte-identical copy under another name.
    shutil.copy2(root / "ukbench00040.jpg", root / "copy_of_ukbench00040.jpg")
    return root


@pytest.fixture(scope="module")
def settings(
    tmp_path_factory: pytest.TempPathFactory, collection: Path, models_dir: Path, new_database_url
):  # type: ignore[no-untyped-def]
    library = tmp_path_factory.mktemp("lib") / "library"
    settings = make_settings(library, models_dir, new_database_url())
    index_library(settings, [collection])
    return settings


def _base(settings) -> list[str]:  # type: ignore[no-untyped-def]
    """The CLI options that name the test's library (and its PostgreSQL database)."""
    base = ["--library", str(settings.library), "--model-path", str(settings.model_path[0])]
    return base + (["--database-url", settings.database_url] if settings.database_url else [])


@pytest.fixture(scope="module")
def engine(settings):  # type: ignore[no-untyped-def]
    with SearchEngine.open(settings) as engine:
        yield engine


@pytest.mark.postgres
def test_lookup_labels_exact_near_and_others(engine: SearchEngine, collection: Path) -> None:
    result = lookup(engine, collection / "ukbench00040.jpg", others=3)
    exact = result.of_kind(EXACT)
    assert {Path(m.hit.path).name for m in exact} == {
        "ukbench00040.jpg",
        "copy_of_ukbench00040.jpg",
    }
    assert all(m.evidence == "same bytes (sha256)" for m in exact)
    others = result.of_kind(SIMILAR)
    assert 1 <= len(others) <= 3
    # The decision is the calibrated one: the copy score against the library's threshold,
    # explained with its z.
    assert result.z_threshold == DUPLICATE_Z
    assert all(m.hit.copy_score < result.threshold and not m.hit.duplicate for m in others)
    assert all(
        m.hit.copy_score >= result.threshold and m.hit.duplicate for m in result.of_kind(NEAR)
    )
    assert all("sd above the library's background" in m.evidence for m in others)
    ranks = [m.hit.rank for m in result.matches]
    assert ranks == list(range(1, len(ranks) + 1))


@pytest.mark.postgres
def test_lookup_finds_pixel_identical_copy_in_another_format(
    engine: SearchEngine, collection: Path, tmp_path: Path
) -> None:
    query = tmp_path / "reencoded.png"  # same pixels as the JPEG in the library, other bytes
    Image.open(collection / "ukbench00004.jpg").save(query)
    result = lookup(engine, query)
    exact = result.of_kind(EXACT)
    assert [Path(m.hit.path).name for m in exact] == ["ukbench00004.jpg"]
    assert exact[0].evidence == "same pixels, other encoding"


def test_lookup_of_an_edited_copy_finds_its_original_as_near_duplicate(
    engine: SearchEngine, collection: Path, tmp_path: Path
) -> None:
    edited = tmp_path / "edited.jpg"
    with Image.open(collection / "augly_dfdc_1.jpg") as im:
        im.convert("RGB").resize((800, 450)).save(edited, quality=60)
    result = lookup(engine, edited)
    near = {Path(m.hit.path).name for m in result.of_kind(NEAR)}
    assert "augly_dfdc_1.jpg" in near
    assert not result.of_kind(EXACT)


@pytest.mark.postgres
def test_library_dedup_groups_do_not_mix_clusters(engine: SearchEngine, data_dir: Path) -> None:
    truth = load_truth(data_dir / "near_duplicates")
    cluster_of = {name: gid for gid, names in enumerate(truth.groups) for name in names}
    result = library_duplicates(engine)
    assert result.groups, "the near_duplicates set has copies at the default threshold"
    for group in result.groups:
        names = [Path(img.path).name for img in group.images]
        originals = [name.removeprefix("copy_of_") for name in names]
        clusters = {cluster_of.get(name, name) for name in originals}
        assert len(clusters) == 1, f"a group mixes photos of different clusters: {names}"
    exact = [g for g in result.groups if any(m.exact for m in g.members)]
    assert any(
        {Path(i.path).name for i in g.images} >= {"ukbench00040.jpg", "copy_of_ukbench00040.jpg"}
        for g in exact
    )


@pytest.mark.postgres
def test_cli_lookup_and_dedup_reports(settings, collection: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    base = _base(settings)
    out = runner.invoke(cli, [*base, "lookup", str(collection / "ukbench00040.jpg"), "--json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)
    assert payload["counts"]["exact"] == 2
    assert {r["match"] for r in payload["results"]} <= {"exact", "near", "similar"}

    out = runner.invoke(cli, [*base, "dedup", "--format", "json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    assert set(report) >= {"threshold", "groups"}
    for group in report["groups"]:
        assert {"keeper", "reason", "members"} <= set(group)
        for member in group["members"]:
            assert {"path", "id", "score", "exact"} <= set(member)

    html = tmp_path / "report.html"
    out = runner.invoke(cli, [*base, "dedup", "--output", str(html)])
    assert out.exit_code == 0, out.output
    text = html.read_text()
    assert "data:image/jpeg;base64," in text  # thumbnails embedded: works offline
    assert "http://" not in text and "https://" not in text

    out = runner.invoke(cli, [*base, "dedup", "--format", "html"])
    assert out.exit_code != 0 and "--output" in out.output


def _lookup_cli(settings, *args: str):  # type: ignore[no-untyped-def]
    base = _base(settings)
    out = CliRunner().invoke(cli, [*base, "lookup", *args])
    assert out.exit_code == 0, out.output
    return out.output


def _sections(text: str) -> dict[str, list[list[str]]]:
    """The text lookup's sections: heading -> table rows (cells split on 2+ spaces)."""
    sections: dict[str, list[list[str]]] = {}
    heading = None
    for line in text.splitlines():
        if re.match(r"^(Exact|Near|Nearest)", line):
            heading = line
            sections[heading] = []
        elif heading and line.strip() and not line.lstrip().startswith("rank"):
            sections[heading].append(re.split(r"\s{2,}", line.strip()))
    return sections


def test_lookup_makes_one_decision_per_row_shown_alike_in_text_and_json(settings, collection):  # type: ignore[no-untyped-def]
    """With --threshold the threshold decides every row: a row listed as "not duplicates"
    is never marked a copy (it used to carry the calibrated decision: `~`, duplicate true)."""
    query = str(collection / "augly_dfdc_1__compose.png")
    payload = json.loads(
        _lookup_cli(settings, query, "--threshold", "0.99", "--others", "3", "--json")
    )
    others = [r for r in payload["results"] if r["match"] == "similar"]
    assert len(others) == 3 and any(r["z"] >= DUPLICATE_Z for r in others)  # calibrated copies
    for row in payload["results"]:
        assert row["duplicate"] == (row["match"] != "similar"), row
        assert (row["copy_score"] >= 0.99) == (row["match"] != "similar") or row["exact"]
    text = _lookup_cli(settings, query, "--threshold", "0.99", "--others", "3")
    assert "~" not in text and "calibrated decision" not in text
    sections = _sections(text)
    other_rows = next(rows for title, rows in sections.items() if title.startswith("Nearest"))
    assert [row[3] for row in other_rows] == [str(r["id"]) for r in others]
    for row, item in zip(other_rows, others, strict=True):
        # the copy score the heading names (not the rank score), and the evidence
        assert float(row[1]) == pytest.approx(item["copy_score"], abs=0.0011)
        assert row[-1] == item["evidence"] and "< threshold 0.99" in row[-1]


@pytest.mark.slow
def test_lookup_text_shows_the_copy_score_its_heading_names(settings, collection):  # type: ignore[no-untyped-def]
    query = str(collection / "augly_dfdc_1__compose.png")
    payload = json.loads(_lookup_cli(settings, query, "--json"))
    sections = _sections(_lookup_cli(settings, query))
    near_title = next(title for title in sections if title.startswith("Near"))
    limit = float(re.search(r"copy score >= ([\d.]+)", near_title).group(1))
    assert limit == pytest.approx(payload["threshold"], abs=1e-4)
    near = [r for r in payload["results"] if r["match"] == "near"]
    assert near and len(sections[near_title]) == len(near)
    for row, item in zip(sections[near_title], near, strict=True):
        assert float(row[1]) >= limit and item["duplicate"] and item["copy_score"] >= limit
        assert float(row[1]) == pytest.approx(item["copy_score"], abs=0.0011)
        assert row[-1] == item["evidence"]
    for title, rows in sections.items():
        if title.startswith("Nearest"):
            assert all(float(row[1]) < limit for row in rows)
