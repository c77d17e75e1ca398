"""Explore: clusters, outliers and the map of a library's stored vectors (arrays and the CLI as a
user runs it; as served: test_explore_served.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from search.explore import (
    density_labels,
    kmeans_labels,
    knn_graph,
    outlier_scores,
    project,
)
from search.explore.outliers import MIN_IMAGES, reason
from tests.cli_process import run_cli
from tests.explore_vectors import blobs


def test_density_finds_the_groups_and_leaves_the_scattered_as_noise() -> None:
    x, truth = blobs()
    g = knn_graph(x, 15)
    labels, _ = density_labels(g.neighbours, g.distances, 4, 3)
    assert labels.max() + 1 == 6
    for group in range(6):  # each group is one cluster of its own
        found = set(labels[truth == group].tolist())
        assert len(found) == 1 and -1 not in found
    assert (labels[truth == -1] == -1).sum() >= 10


def test_kmeans_recovers_the_groups() -> None:
    x, truth = blobs(1)
    labels = kmeans_labels(x[truth >= 0], 6)
    assert set(labels.tolist()) == set(range(6))
    majority = sum(np.bincount(labels[truth[truth >= 0] == g]).max() for g in range(6))
    assert majority >= 0.75 * len(labels)  # Lloyd from random seeds: a merge + split at worst


def test_outliers_rank_the_scattered_first_and_the_map_is_a_unit_square() -> None:
    x, truth = blobs(2)
    scores = outlier_scores(knn_graph(x, 30), x, 25)
    top = np.argsort(-scores.score)[:12]
    assert (truth[top] == -1).sum() >= 11
    assert np.median(scores.score) == pytest.approx(0, abs=0.5)
    xy = project(x)
    assert xy.shape == (len(x), 2) and xy.min() >= 0 and xy.max() <= 1


def _with_near_duplicates(n: int, seed: int = 0) -> np.ndarray:
    """``n`` unit vectors in 64-d, four of them near-duplicates of one another."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 64)).astype(np.float32)
    x[5:8] = x[4] + 0.01 * rng.standard_normal((3, 64))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_outlier_reasons_of_small_libraries_read_no_absurd_sd() -> None:
    """An 11-image library read "unlike the library's main directions: -101.8 sd": with as
    many principal axes as images every image lies at one Mahalanobis distance, the MAD was
    ~0 and the near-duplicates' tiny difference a hundred "sd" below."""
    for seed in range(3):
        x = _with_near_duplicates(11, seed)
        scores = outlier_scores(knn_graph(x, 30), x, 25)
        assert not scores.score.any()
        for row in range(len(x)):
            text = reason(scores, row)
            assert "sd" not in text and "too few images (11)" in text, text
            assert f"{MIN_IMAGES} or more" in text
        x = _with_near_duplicates(MIN_IMAGES + 4, seed)
        scores = outlier_scores(knn_graph(x, 30), x, 25)
        assert np.abs(scores.unlike).max() < 10 and np.abs(scores.alone).max() < 10
        texts = [reason(scores, row) for row in range(len(x))]
        assert not any("-" in t.split(":")[-1] for t in texts), texts  # no "-0.7 sd"
        assert any("typical or less" in t for t in texts)


@pytest.mark.slow
def test_explore_commands_on_a_tiny_library_say_sensible_things(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """Three images, then one: `clusters --method kmeans` without --k asked for 2 groups of
    one image and was refused; outliers said "its 1th nearest image ... the nearest -inf" of
    the only image and "2th" for --k 2; a group of one said "1 images"."""
    (tmp_path / "photos").mkdir()
    for photo in sorted((data_dir / "ukbench_subset" / "images").glob("*.jpg"))[:3]:
        (tmp_path / "photos" / photo.name).write_bytes(photo.read_bytes())
    done = run_cli(["--model-path", str(models_dir), "index", "--no-progress", "photos"], tmp_path)
    assert done.returncode == 0, done.stderr
    done = run_cli(["outliers", "-n", "1", "--k", "2"], tmp_path)
    assert done.returncode == 0 and "its 2nd nearest image" in done.stdout, done.stdout
    assert done.stdout.splitlines()[1].split()[1] == "-", done.stdout  # no score: "0.00 sd" was
    keep, *others = sorted((tmp_path / "photos").iterdir())
    assert run_cli(["remove", *map(str, others)], tmp_path).returncode == 0
    done = run_cli(["clusters", "--method", "kmeans"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("cluster 1: 1 image ("), done.stdout
    done = run_cli(["outliers", "--json"], tmp_path)
    assert done.returncode == 0, done.stderr
    (only,) = json.loads(done.stdout)["outliers"]
    assert only["path"] == str(keep) and "the only image" in only["reason"], only
    assert only["score"] is None, only  # too few images for a score in sd
    assert "inf" not in only["reason"] and "1th" not in only["reason"]


@pytest.mark.slow
def test_cli_clusters_and_outliers_on_ukbench(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    library = ["--library", str(tmp_path / "lib"), "--model-path", str(models_dir)]
    images = data_dir / "ukbench_subset" / "images"
    assert run_cli([*library, "index", str(images), "--no-progress"], tmp_path).returncode == 0
    done = run_cli([*library, "clusters", "--json"], tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["method"] == "density"
    groups = {
        frozenset(int(Path(m["path"]).name[7:12]) // 4 for m in c["members"])
        for c in result["clusters"]
    }
    assert groups == {frozenset([g]) for g in range(14)}  # the 14 groups of four, unmixed
    for c in result["clusters"]:
        assert c["size"] == len(c["members"]) == 4
        assert c["representative"] == c["members"][0]
    noise = sorted(int(Path(m["path"]).name[7:12]) for m in result["noise"])
    assert len(noise) == 10 and min(noise) >= 56  # the ten distractors
    kmeans = json.loads(
        run_cli([*library, "clusters", "--json", "--method", "kmeans", "--k", "3"], tmp_path).stdout
    )
    assert len(kmeans["clusters"]) == 3 and kmeans["noise"] == []
    assert sum(c["size"] for c in kmeans["clusters"]) == 66
    done = run_cli([*library, "outliers", "-n", "5", "--json"], tmp_path)
    rows = json.loads(done.stdout)["outliers"]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0]["score"] >= rows[-1]["score"] and all(r["reason"] for r in rows)
    assert (tmp_path / "lib" / "explore").is_dir()  # cached beside the index
    done = run_cli([*library, "outliers", "-n", "2"], tmp_path)  # as a table: its columns named
    lines = done.stdout.splitlines()
    assert lines[0].split()[:4] == ["rank", "score", "id", "path"], done.stdout
    assert len(lines) == 5 and lines[1].split()[0] == "1" and "sd" in lines[2], done.stdout
    bad = run_cli([*library, "clusters", "--method", "kmeans", "--k", "500"], tmp_path)
    # a bad option value, as README's exit codes say: 2 and the usage line (was 1, bare)
    assert bad.returncode == 2 and "k must be between 1" in bad.stderr, bad.stderr
    assert "Invalid value for '--k'" in bad.stderr and "Usage:" in bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.slow
def test_density_clusters_of_the_shared_photos_have_no_catch_all_group(
    tmp_path: Path, data_dir: Path, models_dir: Path
) -> None:
    """`imgsearch clusters` of a library of ../shared/data (509 photos) made cluster 1 of 376
    images - nearly all the ants and bees together, "bee, ant" - since that set as a whole
    stands apart from the 111 other photos. A group of most of the library tells a user
    nothing: no group holds more than half of it now; the set is split into its dense
    groups (ants, bees), the rest of it unclustered."""
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "data").symlink_to(data_dir)
    (shared / "models").symlink_to(models_dir)
    cwd = tmp_path / "work"
    cwd.mkdir()
    model = ["--model-path", "../shared/models"]
    index = ["index", "--no-progress", "--descriptor", "whiten=off", "../shared/data"]
    assert run_cli([*model, *index], cwd).returncode == 0
    done = run_cli(["clusters", "--json"], cwd)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    sizes = [c["size"] for c in result["clusters"]]
    total = sum(sizes) + len(result["noise"])
    assert total == 509 and sizes == sorted(sizes, reverse=True)
    assert sizes[0] <= total // 2, sizes
    insects = [c for c in result["clusters"] if "/hymenoptera/" in c["members"][0]["path"]]
    assert len(insects) >= 2, sizes  # the set is split, not dropped
    for c in insects:  # and each part is of ants or of bees (mostly)
        kinds = [Path(m["path"]).parent.name for m in c["members"]]
        assert max(kinds.count("ants"), kinds.count("bees")) >= 0.8 * len(kinds), kinds


def test_the_clusters_report_inlines_a_bounded_number_of_thumbnails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A scale audit's `clusters -o clusters.html` of 31,749 images inlined every thumbnail:
    229 MB, 4 min. The first members of each cluster are inlined, a bounded number in all;
    the others are listed by id and path (every image still named)."""
    import cli.explore_cmds as explore_cmds
    from search.explore import Cluster, Clusters, Member

    monkeypatch.setattr(explore_cmds, "INLINE_IN_ALL", 30)
    groups = [
        Cluster(c, [Member(1000 * c + i, f"/p/{c}/{i}.jpg") for i in range(40)], ["ant"])
        for c in range(4)
    ]
    result = Clusters("density", 5, groups, [Member(9999, "/p/alone <b>.jpg")])
    made: list[int] = []
    page = explore_cmds.clusters_html(
        result, lambda i: made.append(i) or "data:image/jpeg;base64,x"
    )
    assert len(made) == page.count("<img ") == 30  # 12 + 12 + 6, then none
    assert made[:12] == [m.id for m in groups[0].members[:12]]
    assert "<summary>28 more</summary>" in page and "<summary>40 more</summary>" in page
    assert all(f"<li>{m.id} {m.path}</li>" in page for m in groups[3].members)
    assert "<li>9999 /p/alone &lt;b&gt;.jpg</li>" in page
    # each thumbnail opens its file and is named (the audit saw ids only, the path a tooltip)
    assert page.count('<a href="file:///p/') == 30
    assert '<a href="file:///p/0/0.jpg"><img ' in page
    assert "<figcaption>0.jpg <small>#0</small></figcaption>" in page
