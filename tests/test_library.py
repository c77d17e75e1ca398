"""Library invariants: the FAISS file is a cache (rebuilt when missing, corrupt, stale or
foreign), one model per library, and a server never rebuilds under a running index run."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from search.index import IndexStamp, VectorIndex
from search.library import MODEL_DIR_KEY, Library
from search.settings import Settings
from search.store import ChangeSet, ImageUpsert, ModelMismatchError
from tests.engine_library import index_library, make_settings
from tests.indexer_helpers import count_builds

PHOTOS = 12


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, models_dir: Path) -> Settings:
    photos = tmp_path_factory.mktemp("photos")
    for src in sorted((data_dir / "ukbench_subset" / "images").iterdir())[:PHOTOS]:
        shutil.copy2(src, photos / src.name)
    settings = make_settings(tmp_path_factory.mktemp("lib") / "library", models_dir)
    index_library(settings, [photos])
    return settings


@pytest.fixture
def settings(built: Settings, tmp_path: Path) -> Settings:
    """A private copy of the built library, so each test may damage its own."""
    shutil.copytree(built.library, tmp_path / "library")
    return replace(built, library=tmp_path / "library")


def _stamp(library: Library, generation: int, count: int) -> IndexStamp:
    """The stamp the library expects of a cache file of this state."""
    live = library.searchable()
    return library.cache.expected_stamp(generation, count, live.fingerprint, live.descriptor)


def store_ids(library: Library) -> set[int]:
    return {int(i) for ids, _v in library.store.iter_vectors() for i in ids}


def index_ids(library: Library) -> set[int]:
    return {int(i) for i in library.index().ids()}


@pytest.mark.parametrize("damage", ["delete", "truncate", "garbage", "foreign"])
def test_damaged_cache_is_rebuilt_from_sqlite(settings: Settings, damage: str) -> None:
    path = settings.index_path
    assert path.is_file()
    if damage == "delete":
        path.unlink()
    elif damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a faiss index" * 100)
    else:  # a valid index file of another library
        other = VectorIndex.build(np.arange(3, dtype=np.int64), np.eye(3, 1024, dtype=np.float32))
        with Library.open(settings) as library:
            stamp = replace(
                _stamp(library, library.store.generation(), 3), library_id="someone-else"
            )
        other.save(path, stamp)
    with Library.open(settings) as library:
        assert index_ids(library) == store_ids(library)
        assert len(store_ids(library)) == PHOTOS
    with Library.open(settings) as library:  # and the rebuilt file is trusted next time
        loaded = VectorIndex.load(
            settings.index_path,
            _stamp(library, library.store.generation(), library.store.vector_count()),
        )
        assert loaded.ntotal == PHOTOS


def test_stale_cache_is_rebuilt(settings: Settings) -> None:
    with Library.open(settings) as library:
        victim = min(store_ids(library))
        library.store.apply(ChangeSet(removals=[victim]))  # behind the cache's back
    with Library.open(settings) as library:
        assert victim not in index_ids(library)
        assert index_ids(library) == store_ids(library)


def test_a_copy_of_the_library_that_changed_apart_has_its_index_file_refused(
    settings: Settings, tmp_path: Path
) -> None:
    """Two copies of one library, each with one other image removed: the same library id,
    generation and count. Copying one's index file into the other was taken for its own (an
    audit: an image still in the library was missing from every search); each generation now
    has a random token in its stamp."""
    twin = replace(settings, library=tmp_path / "twin")
    shutil.copytree(settings.library, twin.library)
    removed = {}
    for which, chosen in ((settings, min), (twin, max)):
        with Library.open(which) as library:
            removed[which.library] = chosen(store_ids(library))
            library.apply(ChangeSet(removals=[removed[which.library]]))
            library.save_index()
    shutil.copyfile(twin.index_path, settings.index_path)
    with Library.open(settings) as library:
        assert index_ids(library) == store_ids(library)
        assert removed[twin.library] in index_ids(library)  # the twin's removal is not ours


def test_an_index_file_stamped_before_tokens_is_still_trusted(settings: Settings) -> None:
    """Index files saved before stamps had a token are loaded (a 10 M on-disk index is not
    rebuilt for an upgrade) while their generation and count agree."""
    from search.index.file_format import read_header

    with Library.open(settings) as library:
        expected = _stamp(library, library.store.generation(), library.store.vector_count())
        header = read_header(settings.index_path)
        assert "token" in header.stamp
        old = {k: v for k, v in header.stamp.items() if k != "token"}
        assert IndexStamp.from_dict(old).token == ""
        loaded = VectorIndex.load(settings.index_path, replace(expected, token=""))
        assert loaded.ntotal == expected.count


def test_another_model_is_refused(settings: Settings) -> None:
    with (
        Library.open(settings) as library,
        pytest.raises(ModelMismatchError, match="imgsearch reindex --model"),
    ):
        library.load_model("mobilenet_v3_small_075")
    other = replace(settings, model="mobilenet_v3_small_100_int8")
    with Library.open(other) as library, pytest.raises(ModelMismatchError):
        library.load_model()


def test_server_takes_the_writers_saved_cache_instead_of_rebuilding(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = Library.open(settings)
    first = reader.index()
    writer = Library.open(settings)
    rebuilds = count_builds(monkeypatch)
    with writer.writer_lock():
        assert reader.writer_active()
        victim = min(store_ids(writer))
        writer.apply(ChangeSet(removals=[victim]))
        assert reader.refresh() is False  # nothing saved yet: keep serving, never rebuild
        assert reader.index() is first
        writer.save_index()
        assert reader.refresh() is True  # the writer's saved cache is taken as it is
        assert victim not in index_ids(reader)
        cid = writer.store.collections()[0]["id"]
        vector = np.ones(1024, np.float32) / 32.0
        writer.apply(
            ChangeSet(upserts=[ImageUpsert(cid, "new.jpg", 1, 1, "ab" * 32, vector=vector)])
        )
        assert reader.refresh() is False
    assert not reader.writer_active()
    assert reader.refresh() is True  # the run is over: the store is the truth again
    assert index_ids(reader) == store_ids(reader)
    assert rebuilds == ["auto"]  # one rebuild, and only once no writer was running
    reader.close()
    writer.close()


def test_library_remembers_where_its_model_was_found(settings: Settings, tmp_path: Path) -> None:
    without_path = replace(settings, model_path=())
    with Library.open(without_path) as library:
        model = library.load_model()
        assert model.name == "mobilenet_v3_small_100"
    # The models moved: the folder remembered is gone. A search with --model-path found the
    # model but the library kept the old folder, so the next command without the option
    # failed; now the folder it was found in is recorded (only when the old one lost it).
    (models_dir,) = settings.model_path
    with Library.open(settings) as library:
        library.store.set_meta(MODEL_DIR_KEY, str(tmp_path / "moved-away"))
        library.load_model()
        assert library.store.get_meta(MODEL_DIR_KEY) == str(Path(models_dir).resolve())
    with Library.open(without_path) as library:
        assert library.load_model().name == "mobilenet_v3_small_100"
