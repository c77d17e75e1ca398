"""Numbers as the pages write them: file sizes and percentages, the same from the templates
(web/text.py), the page scripts (web/static/format.js) and the API's messages. No library
needed: an app without one still serves the search form and checks uploads."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from search.settings import Settings
from web.app import create_app
from web.text import human_size, percent

FORMAT_JS = Path(__file__).resolve().parent.parent / "web" / "static" / "format.js"
SIZES = [0, 10, 1023, 1024, 1536, 10 * 1024 - 1, 1024**2, 1536 * 1024, 4_987_654, 32 * 1024**2]
SIZES += [1024**3 - 1, 5 * 1024**3, 3 * 1024**4]
SCORES = [0.0, 0.943, 0.94, 0.9405, 0.12345, 0.0125, 0.0375, -0.5, 0.99949, 0.9995, 1.0, 1.3]
SCORES += [-1.5, 0.005, 0.015, 0.025, 1 / 3, 2 / 3, 0.5555, 0.6789]


def _node(script: str) -> subprocess.CompletedProcess[str]:
    """Runs an ES module ``script`` under node (the page scripts are modules)."""
    return subprocess.run(
        ["node", "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_sizes_read_in_binary_units_whole_when_whole() -> None:
    """The upload form said "32.0 MB" beside a 413's "32 MiB": one unit and one format."""
    assert human_size(32 * 1024**2) == "32 MiB"
    assert human_size(1536 * 1024) == "1.5 MiB"
    assert human_size(4_987_654) == "4.8 MiB"
    assert human_size(10) == "10 B" and human_size(2048) == "2 KiB"
    assert human_size(5 * 1024**3) == "5 GiB" and human_size(None) == "-"


def test_percentages_read_alike_everywhere() -> None:
    """The live page wrote "94 %", the search page "94.0%", the slider "94%"."""
    assert percent(0.94) == "94.0%" and percent(0.943) == "94.3%"
    assert percent(0.9995) == "100%" and percent(1.3) == "100%" and percent(None) == "–"
    assert percent(0.0125) == "1.3%"  # halves round up, as JavaScript's Math.round


@pytest.mark.skipif(shutil.which("node") is None, reason="node runs the page scripts' module")
def test_the_page_scripts_format_as_the_templates() -> None:
    script = (
        f"import {{ percent, humanSize }} from {json.dumps(FORMAT_JS.as_uri())};\n"
        f"console.log(JSON.stringify([{json.dumps(SCORES)}.map(percent), "
        f"{json.dumps(SIZES)}.map(humanSize), percent(null), percent(NaN)]));"
    )
    done = _node(script)
    percents, sizes, none, nan = json.loads(done.stdout)
    assert percents == [percent(s) for s in SCORES]
    assert sizes == [human_size(n) for n in SIZES]
    assert none == nan == percent(None)


def test_the_upload_limit_reads_alike_on_the_form_and_in_the_error(tmp_path: Path) -> None:
    limit = 1536 * 1024
    app = create_app(Settings(library=tmp_path / "none", max_upload_bytes=limit))
    client = app.test_client()
    page = client.get("/").get_data(as_text=True)
    assert "up to 1.5 MiB" in page and " MB" not in page
    assert 'id="min-score-out" for="min-score">0.0%<' in page  # as format.js writes it
    for size in (limit + 1, 4 * limit):  # read by the app; refused by the request's length
        data = {"image": (io.BytesIO(b"\xff" * size), "big.jpg")}
        answer = client.post("/api/v1/search", data=data)
        assert answer.status_code == 413, size
        assert answer.get_json()["error"]["message"] == "Upload too large: the limit is 1.5 MiB."


@pytest.mark.skipif(shutil.which("node") is None, reason="node runs the page scripts' module")
def test_find_copies_mode_is_kept_in_the_address(tmp_path: Path) -> None:
    """ "Find copies" chosen on the search page was lost on a reload (the page came back as
    "Similar images"): the script keeps the mode in the address, which the page opens in."""
    module = json.dumps((FORMAT_JS.parent / "search-mode.js").as_uri())
    hrefs = ["http://h/", "http://h/?from=7", "http://h/?mode=lookup&from=7", "http://h/lookup"]
    script = (
        f"import {{ addressForMode }} from {module};\n"
        f"const hrefs = {json.dumps(hrefs)};\n"
        "console.log(JSON.stringify(['lookup', 'similar'].map("
        "(mode) => hrefs.map((href) => addressForMode(href, mode)))));"
    )
    done = _node(script)
    lookup, similar = json.loads(done.stdout)
    assert lookup == ["/?mode=lookup", "/?from=7&mode=lookup", "/?mode=lookup&from=7", None]
    assert similar == ["/", "/?from=7", "/?from=7", None]  # a posted form's page: kept
    client = create_app(Settings(library=tmp_path / "none")).test_client()
    page = client.get(lookup[0]).get_data(as_text=True)
    assert 'value="lookup" data-action="/lookup" checked' in page
    assert 'action="/lookup"' in page
    home = client.get("/").get_data(as_text=True)
    assert 'value="similar" data-action="/search" checked' in home
    script_text = client.get("/static/search.js").get_data(as_text=True)
    assert 'from "./search-mode.js"' in script_text and "history.replaceState" in script_text


def test_counts_agree_with_their_nouns() -> None:
    """ "1 copies", "1 images" were printed; an empty library's k-means said "k: 1"."""
    from search.explore import default_k
    from web.text import plural

    assert [plural(n, "copy") for n in (0, 1, 2)] == ["0 copies", "1 copy", "2 copies"]
    assert plural(1, "image") == "1 image" and plural(3, "image") == "3 images"
    assert plural(1, "day") == "1 day" and plural(2, "day") == "2 days"
    assert plural(2, "match", "matches") == "2 matches"
    assert default_k(0) == 0 and default_k(1) == 1 and default_k(8) == 2


def test_an_empty_library_has_nothing_to_cluster(tmp_path: Path, models_dir: Path) -> None:
    from click.testing import CliRunner

    from cli.main import cli

    (tmp_path / "photos").mkdir()
    args = ["--library", str(tmp_path / "lib"), "--model-path", str(models_dir)]
    CliRunner().invoke(cli, [*args, "index", "--no-progress", str(tmp_path / "photos")])
    app = create_app(Settings(library=tmp_path / "lib", model_path=(models_dir,)))
    found = app.test_client().get("/api/v1/clusters?method=kmeans").get_json()
    assert found["k"] == 0 and found["total"] == 0, found
    assert found["message"] == "Nothing to cluster: the library has no images yet."
    app.extensions["imgsearch"].close()


MAP_COLOUR_JS = FORMAT_JS.with_name("map-colour.js")


@pytest.mark.skipif(shutil.which("node") is None, reason="node runs the page scripts' module")
def test_the_map_colours_equal_sized_clusters_in_their_order() -> None:
    """An audit's map legend read "cluster 6 (6), cluster 5 (6), cluster 8 (5), cluster 7 (5)"
    and left clusters 10, 13 and 15 grey while cluster 22 had a colour: sizes tied were kept
    in the order of each cluster's first point. Equal sizes now go by cluster id."""
    # clusters 0..24 (shown 1..25), three points each but 5 and 6 with five; first points
    # appear in a shuffled order, as a map's do
    order = [22, 7, 5, 15, 13, 0, 24, 6, 10, 3, 18, 1, 20, 9, 2, 17, 4, 11, 8, 14, 23, 19, 16]
    order += [12, 21]
    values = order * 3 + [5, 5, 6, 6, -1]
    script = (
        f"import {{ rankGroups }} from {json.dumps(MAP_COLOUR_JS.as_uri())};\n"
        f"const g = rankGroups({json.dumps(values)}, null);\n"
        "console.log(JSON.stringify([g.ranked.map(([k]) => k), [...g.colourOf.keys()]]));"
    )
    ranked, coloured = json.loads(_node(script).stdout)
    assert ranked == [5, 6, *[c for c in range(25) if c not in (5, 6)]], ranked
    assert sorted(coloured) == sorted(ranked[:19]) and 24 not in coloured


CUT_VALUES = [(0.29, 2), (9.28, 1), (5.99, 1), (0.643188, 3), (0.9, 3), (19.99, 2), (6.0, 1)]


def test_a_copy_score_and_a_z_read_alike_on_the_page_the_cli_and_the_api() -> None:
    """The lookup page rounded a copy's z 9.28 to "9.3" where the CLI and the API's evidence
    cut it to "9.2"; and the cut itself wrote 0.29 as "0.28" (0.29 * 100 is 28.999...)."""
    from cli.dedup_cmds import lookup_table
    from search.query import NEAR, LookupMatch, LookupResult, SearchHit, cut
    from web.present import copy_text, evidence_text

    assert [cut(v, d) for v, d in CUT_VALUES] == [
        "0.29", "9.2", "5.9", "0.643", "0.900", "19.99", "6.0"
    ]  # fmt: skip
    hit = SearchHit(1, 0.82, 7, "a.jpg", 10, 10, 100, copy_score=0.643988, z=9.28, duplicate=True)
    match = LookupMatch(hit, NEAR, "")
    page = evidence_text(match, LookupResult(0.5, {}, [match], z_threshold=6.0))
    assert page == "copy score 0.643 · z 9.2 ≥ 6" and "z 9.2 ≥ 6" in copy_text(hit)
    row = lookup_table([match]).splitlines()[1].split()
    assert row[1:3] == ["0.643", "9.2"]


@pytest.mark.skipif(shutil.which("node") is None, reason="node runs the page scripts' module")
def test_the_page_scripts_cut_as_the_server_does() -> None:
    from search.query import cut

    script = (
        f"import {{ cut }} from {json.dumps(FORMAT_JS.as_uri())};\n"
        f"console.log(JSON.stringify({json.dumps(CUT_VALUES)}.map(([v, d]) => cut(v, d))));"
    )
    assert json.loads(_node(script).stdout) == [cut(v, d) for v, d in CUT_VALUES]
