"""Explore: clusters, outliers and the map of a library's stored vectors (arrays, the CLI as a
user runs it, and the served API)."""

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
from tests.cli_process import run_cli


def blobs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Six tight groups of 12 unit vectors in 64-d (their centres in one region) plus 12
    scattered ones (label -1) far from them all."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal(64) + 0.7 * rng.standard_normal((6, 64))  # near each other
    x = np.concatenate(
        [c + 0.1 * rng.standard_normal((12, 64)) for c in centres] + [rng.standard_normal((12, 64))]
    ).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, np.concatenate([np.repeat(np.arange(6), 12), np.full(12, -1)])


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
    keep, *others = sorted((tmp_path / "photos").iterdir())
    assert run_cli(["remove", *map(str, others)], tmp_path).returncode == 0
    done = run_cli(["clusters", "--method", "kmeans"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("cluster 1: 1 image ("), done.stdout
    done = run_cli(["outliers", "--json"], tmp_path)
    assert done.returncode == 0, done.stderr
    (only,) = json.loads(done.stdout)["outliers"]
    assert only["path"] == str(keep) and "the only image" in only["reason"], only
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
    assert bad.returncode == 1 and "k must be between 1" in bad.stderr
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


@pytest.mark.slow
def test_api_clusters_outliers_map_follow_new_generations(client, weblib, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    body = client.get("/api/v1/clusters?per_page=5").get_json()
    assert body["method"] == "density" and body["total"] >= 14 and len(body["clusters"]) == 5
    first = body["clusters"][0]
    assert first["size"] == len(first["members"]) and first["representative"]["page_url"]
    outliers = client.get("/api/v1/outliers?n=3").get_json()["outliers"]
    assert len(outliers) == 3 and outliers[0]["score"] >= outliers[2]["score"]
    found = client.get("/api/v1/map").get_json()
    assert found["count"] == len(found["ids"]) == len(found["x"]) == len(found["cluster"])
    assert client.get("/api/v1/clusters?method=kmeans&k=100000").status_code == 400
    assert client.get("/api/v1/clusters?k=3").status_code == 400
    kmeans_sized = client.get("/api/v1/clusters?method=kmeans&min_size=5")  # was ignored
    assert (
        kmeans_sized.status_code == 400
        and "min_size" in kmeans_sized.get_json()["error"]["message"]
    )
    assert client.get("/api/v1/map?projection=tsne").status_code == 400
    # a new generation: the running app answers for it without a restart
    from PIL import Image

    extra = tmp_path / "more"
    extra.mkdir()
    Image.new("RGB", (300, 200), (250, 10, 10)).save(extra / "red.png")
    assert (
        run_cli(
            [
                "--library",
                str(weblib.settings.library),
                "--model-path",
                str(weblib.models_dir),
                "index",
                str(extra),
                "--no-progress",
            ],
            tmp_path,
        ).returncode
        == 0
    )
    again = client.get("/api/v1/map").get_json()
    assert again["count"] == found["count"] + 1


def test_the_result_cache_stays_bounded_whatever_clients_ask(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Every k of k-means is its own result: a client walking through all of them must not
    fill the disk or the server's memory; the newest results stay served."""
    from search.explore.cache import MAX_RESULTS, ResultCache

    cache = ResultCache(tmp_path)
    stamp = {"library": "x", "generation": 1}
    for k in range(3 * MAX_RESULTS):
        cache.put(f"clusters-kmeans-{k}", stamp, {"labels": np.arange(5)})
    assert len(list((tmp_path / "explore").glob("*.npz"))) == MAX_RESULTS
    newest = ResultCache(tmp_path).get(f"clusters-kmeans-{3 * MAX_RESULTS - 1}", stamp)
    assert newest is not None and newest["labels"].tolist() == [0, 1, 2, 3, 4]
    assert cache.get("clusters-kmeans-0", stamp) is None


class _Vectors:
    """What the Explorer reads from a store, over given unit vectors (ids 1..n)."""

    library_id = "test"

    def __init__(self, x: np.ndarray) -> None:
        from types import SimpleNamespace

        self.x = x
        self.reads = SimpleNamespace(paths_and_labels=lambda max_rank=3: {})

    def model_stamp(self):  # type: ignore[no-untyped-def]
        from types import SimpleNamespace

        return SimpleNamespace(name="m", dimension=self.x.shape[1])

    def generation(self) -> int:
        return 1

    def vector_count(self) -> int:
        return len(self.x)

    def iter_vectors(self, chunk: int = 20_000):  # type: ignore[no-untyped-def]
        yield np.arange(1, len(self.x) + 1, dtype=np.int64), self.x


def test_a_large_librarys_first_map_comes_before_its_clusters_with_the_same_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from search.explore import Explorer

    monkeypatch.setattr(
        "search.explore.service.MAP_WAITS_UP_TO", 10
    )  # these 84 images count as large
    explorer = Explorer(_Vectors(blobs(3)[0]), tmp_path)  # type: ignore[arg-type]
    first = explorer.library_map()
    assert len(first.ids) == 84 and not first.clusters_ready and (first.cluster == -1).all()
    deadline = time.monotonic() + 30
    while not explorer.map_colouring().ready:  # computed in the background meanwhile
        assert time.monotonic() < deadline
        time.sleep(0.05)
    later = explorer.library_map()
    assert later.clusters_ready and later.cluster.max() + 1 == 6
    groups = explorer.clusters()  # the Clusters page: cluster i is the map's cluster i
    for cluster in groups.clusters:
        rows = np.searchsorted(later.ids, [m.id for m in cluster.members])
        assert set(later.cluster[rows].tolist()) == {cluster.id}


def test_the_approximate_graph_of_large_libraries_finds_most_true_neighbours() -> None:
    from search.explore.graph import ivf_neighbours

    rng = np.random.default_rng(4)
    x = (rng.standard_normal((60, 16))[rng.integers(0, 60, 4_000)]).astype(np.float32)
    x += 0.3 * rng.standard_normal(x.shape).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    _, rows = ivf_neighbours(x, 10)
    sample = rng.choice(len(x), 200, replace=False)
    sims = x[sample] @ x.T
    sims[np.arange(200), sample] = -2
    truth = np.argpartition(-sims, 10, axis=1)[:, :10]
    recall = np.mean([len(set(rows[s]) & set(t)) / 10 for s, t in zip(sample, truth, strict=True)])
    assert recall >= 0.85 and not (rows == np.arange(len(x))[:, None]).any()


class _Changing(_Vectors):
    """A library that changes: ``commit(x)`` is a new generation of vectors ``x`` (ids 1..n
    shifted by ``first``); ``during_read`` commits once while the vectors are being read.
    Records whether each read of the vectors held the explorer's lock."""

    def __init__(self, x: np.ndarray) -> None:
        super().__init__(x)
        self.gen, self.first = 1, 1
        self.during_read: np.ndarray | None = None
        self.reads_locked: list[bool] = []
        self.explorer = None  # type: ignore[var-annotated]

    def commit(self, x: np.ndarray, first: int) -> None:
        self.x, self.first, self.gen = x, first, self.gen + 1

    def generation(self) -> int:
        return self.gen

    def iter_vectors(self, chunk: int = 20_000):  # type: ignore[no-untyped-def]
        self.reads_locked.append(self.explorer._lock._is_owned())  # type: ignore[union-attr]
        ids, x = np.arange(self.first, self.first + len(self.x), dtype=np.int64), self.x
        if self.during_read is not None:  # another process commits while this one reads
            self.commit(self.during_read, self.first + 1)
            self.during_read = None
        yield ids, x


def test_the_map_cluster_poll_follows_a_library_that_changed_between_polls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The poll never reads vectors (every read holds the lock: one computation, one
    generation) and answers with the generation of its clusters; a result made while the
    library moved is never kept for the generation it started from."""
    import time

    from search.explore import Explorer

    monkeypatch.setattr("search.explore.service.MAP_WAITS_UP_TO", 10)
    x = blobs(3)[0]
    store = _Changing(x)
    explorer = Explorer(store, tmp_path)  # type: ignore[arg-type]
    store.explorer = explorer
    first = explorer.library_map()
    assert not first.clusters_ready and first.generation == 1

    def poll():  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + 30
        while not (found := explorer.map_colouring()).ready:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        return found

    assert poll().generation == 1
    # between polls: one image removed, another added (the count stays); and again while
    # the background computation reads the vectors
    store.commit(np.concatenate([x[1:], x[:1]]), 2)
    store.during_read = x
    found = poll()
    assert store.during_read is None and store.gen == 3  # the library moved mid-read
    # the clusters of generation 2 made from generation 3's vectors were not kept as
    # generation 2's: the poll has generation 3's, for its images
    assert found.generation == 3 != first.generation and found.count == len(first.ids)
    assert found.ids.tolist() == list(range(3, 3 + len(x)))
    again = explorer.library_map()  # what the page loads when the generations differ
    assert again.generation == 3 and again.clusters_ready
    assert again.ids.tolist() == found.ids.tolist() and (again.cluster == found.cluster).all()
    store.commit(x[:-1], 1)  # one image fewer
    assert not explorer.map_colouring().ready
    assert poll().generation == 4 and explorer.map_colouring().count == len(x) - 1
    assert store.reads_locked and all(store.reads_locked), store.reads_locked
    groups = explorer.clusters()  # the Clusters page of the same generation: the same groups
    map_now = explorer.library_map()
    for cluster in groups.clusters:
        rows = np.searchsorted(map_now.ids, [m.id for m in cluster.members])
        assert set(map_now.cluster[rows].tolist()) == {cluster.id}


@pytest.mark.slow  # two CLI runs change the served library
def test_the_served_map_poll_says_when_the_library_changed_between_polls(  # type: ignore[no-untyped-def]
    client, weblib, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from PIL import Image

    monkeypatch.setattr("search.explore.service.MAP_WAITS_UP_TO", 0)  # map before clusters
    base = ["--library", str(weblib.settings.library), "--model-path", str(weblib.models_dir)]
    gone = weblib.extra / sorted(p.name for p in weblib.extra.glob("*.jpg"))[0]
    assert run_cli([*base, "remove", str(gone)], tmp_path).returncode == 0
    drawn = client.get("/api/v1/map").get_json()  # a generation whose clusters are not known
    assert drawn["clusters_ready"] is False and drawn["generation"] >= 1
    # between two polls: a photo added
    extra = tmp_path / "new"
    extra.mkdir()
    Image.new("RGB", (300, 200), (10, 10, 250)).save(extra / "blue.png")
    assert run_cli([*base, "index", "--no-progress", str(extra)], tmp_path).returncode == 0
    deadline = time.monotonic() + 60
    while not (polled := client.get("/api/v1/map/clusters").get_json())["ready"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    # another generation's clusters: the page draws the map again before it paints them
    assert polled["generation"] > drawn["generation"] and polled["count"] == drawn["count"] + 1
    redrawn = client.get("/api/v1/map").get_json()  # what the page does then
    assert redrawn["generation"] == polled["generation"] and redrawn["clusters_ready"]
    assert redrawn["cluster"] == polled["cluster"] and redrawn["ids"] != drawn["ids"]
