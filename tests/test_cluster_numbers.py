"""One numbering of clusters for people: ``imgsearch clusters`` (text and HTML report) and the
web Clusters page both say "cluster 1" for the largest group, whose JSON id is 0."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from search.settings import Settings
from tests.cli_process import run_cli
from web.app import create_app


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path) -> Path:
    """./imgsearch-library over 12 UKBench photos: three groups of four views of one object."""
    cwd = tmp_path_factory.mktemp("clusters")
    (cwd / "photos").mkdir()
    for n in range(12):
        name = f"ukbench{n:05d}.jpg"
        shutil.copyfile(data_dir / "ukbench_subset" / "images" / name, cwd / "photos" / name)
    done = run_cli(["--model-path", str(models_dir), "index", "--no-progress", "photos"], cwd)
    assert done.returncode == 0, done.stderr
    return cwd


def test_the_cli_and_the_web_page_number_clusters_alike(folder: Path, models_dir: Path) -> None:
    found = run_cli(["clusters", "--json"], folder)
    assert found.returncode == 0, found.stderr
    clusters = json.loads(found.stdout)["clusters"]
    assert len(clusters) >= 2 and [c["id"] for c in clusters] == list(range(len(clusters)))
    members = {c["id"] + 1: [m["id"] for m in c["members"]] for c in clusters}  # by number

    text = run_cli(["clusters"], folder)
    assert text.returncode == 0, text.stderr
    blocks = re.split(r"^cluster (\d+): ", text.stdout, flags=re.M)[1:]
    listed = {
        int(n): [int(line.split()[0]) for line in body.splitlines()[1:]]
        for n, body in zip(blocks[::2], blocks[1::2], strict=True)
    }
    assert listed == members, text.stdout
    assert "cluster 0" not in text.stdout

    report = run_cli(["clusters", "--format", "html", "-o", "clusters.html"], folder)
    assert report.returncode == 0, report.stderr
    headings = re.findall(r"<h2>Cluster (\d+):", (folder / "clusters.html").read_text())
    assert [int(n) for n in headings] == sorted(members)

    settings = Settings(library=folder / "imgsearch-library", model_path=(models_dir,))
    app = create_app(settings)
    try:
        page = app.test_client().get("/clusters").get_data(as_text=True)
    finally:
        app.extensions["imgsearch"].close()
    sections = re.split(r"<h3>Cluster (\d+) ", page.split('id="noise-head"')[0])[1:]
    shown = {
        int(n): [
            int(i)
            for i in re.findall(r'src="/api/v1/images/(\d+)/thumbnail\?v=[0-9a-f]{16}"', body)
        ]
        for n, body in zip(sections[::2], sections[1::2], strict=True)
    }
    assert shown == members


def test_copies_of_one_picture_count_once_in_density_clusters() -> None:
    """35 re-saves of ants photos added to README's quick-start library made one group of 195
    ants and bees (an audit): copies are no evidence of density. Two sets of pictures and
    near-exact copies of half of one set: the sets' groups are those without the copies, and
    each copy is in its picture's group."""
    import numpy as np

    from search.explore.clusters import COPY_DISTANCE, density_of_pictures
    from search.explore.graph import knn_graph, unit_rows

    rng = np.random.default_rng(5)
    centres = unit_rows(rng.normal(size=(2, 64)))
    pictures = unit_rows(np.repeat(centres, 40, axis=0) + 0.09 * rng.normal(size=(80, 64)))
    copies = unit_rows(pictures[:40:2] + 0.004 * rng.normal(size=(20, 64)))
    assert float(np.linalg.norm(copies[0] - pictures[0])) < COPY_DISTANCE
    alone = density_of_pictures(knn_graph(pictures, 30), 4, 15)
    both = np.vstack([pictures, copies])
    labels = density_of_pictures(knn_graph(both, 30), 4, 15)
    assert (labels[:80] == alone).all()
    assert (labels[80:] == labels[:40:2]).all()
