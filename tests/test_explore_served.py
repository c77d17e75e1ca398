"""Explore as served: the API's clusters, outliers and map following new generations, the
result cache's bound, large libraries' first map and approximate graph, map polls of a
library that changed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.cli_process import run_cli
from tests.explore_vectors import blobs


@pytest.mark.slow
def test_api_clusters_outliers_map_follow_new_generations(client, weblib, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    body = client.get("/api/v1/clusters?per_page=5").get_json()
    assert body["method"] == "density" and body["total"] >= 14 and len(body["clusters"]) == 5
    first = body["clusters"][0]
    assert first["size"] == len(first["members"]) and first["representative"]["page_url"]
    # past the last page: an empty page, as /api/v1/images gives (it listed the noise)
    past = client.get("/api/v1/clusters?page=99999").get_json()
    assert past["clusters"] == [] and past["noise"] == [] and past["page"] == 99999
    assert past["total"] == body["total"] and past["noise_total"] == body["noise_total"]
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


class _Growing(_Vectors):
    """A library an index run adds a batch to while each read of its vectors goes on: every
    read returns 12 more rows, and the generation moves with it."""

    def __init__(self, x: np.ndarray) -> None:
        super().__init__(x)
        self.reads_done = 0

    def generation(self) -> int:
        return 1 + self.reads_done

    def vector_count(self) -> int:
        return len(self.x) - 36 + 12 * self.reads_done

    def iter_vectors(self, chunk: int = 20_000):  # type: ignore[no-untyped-def]
        self.reads_done += 1
        n = min(len(self.x), len(self.x) - 36 + 12 * self.reads_done)
        yield np.arange(1, n + 1, dtype=np.int64), self.x[:n]


def test_outliers_while_an_index_run_commits_use_one_read_of_the_vectors(tmp_path: Path) -> None:
    """A soak audit's server answered `GET /api/v1/outliers` 500 once: a batch committed
    between the explorer's two reads of the vectors, and the neighbour graph (458 rows) met
    the vectors (490). Each answer now takes its steps from one read."""
    from search.explore import Explorer

    store = _Growing(blobs(4)[0])
    explorer = Explorer(store, tmp_path)  # type: ignore[arg-type]
    found = explorer.outliers(5)
    assert len(found) == 5 and store.reads_done == 1
    again = explorer.outliers(5)  # the library moved: read again, once
    assert len(again) == 5 and store.reads_done == 2
