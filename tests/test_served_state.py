"""A running server (a reader's ``refresh``) follows what changes a library's answers without
a new generation: the index kind (`rebuild-index --index`), the descriptor options (`index
--descriptor`), the learned calibration. It used to compare the generation only, and kept
answering with the old kind and descriptor until the next index run or a restart (while the
CLI answered with the new one)."""

from __future__ import annotations

from engine_library import build_library, make_settings, ukbench_files

from search.descriptor import DescriptorConfig
from search.library import Library
from search.query import SearchEngine


def _library(tmp_path, data_dir, models_dir):  # type: ignore[no-untyped-def]
    root, files = ukbench_files(data_dir)
    settings = make_settings(tmp_path / "library", models_dir)
    build_library(settings, {root: files[:6]})
    return settings


def test_a_server_follows_rebuild_index_and_descriptor_changes(tmp_path, data_dir, models_dir):
    settings = _library(tmp_path, data_dir, models_dir)
    with SearchEngine.open(settings) as server:
        assert server.library.index().kind == "flat"
        assert server.refresh() is False
        with Library.open(settings) as other:  # `imgsearch rebuild-index --index hnsw`
            generation = other.store.generation()
            other.rebuild_index("hnsw")
            assert other.store.generation() == generation
        assert server.refresh() is True
        assert server.library.index().kind == "hnsw"
        assert server.refresh() is False
        assert server.library.descriptor().config.frames
        with Library.open(settings) as other:  # `imgsearch index --descriptor frames=off`
            other.set_descriptor(DescriptorConfig.parse("default,frames=off"))
        assert server.refresh() is True
        assert not server.library.descriptor().config.frames
        assert server.refresh() is False


def test_a_server_follows_a_new_calibration(tmp_path, data_dir, models_dir):
    settings = _library(tmp_path, data_dir, models_dir)
    with SearchEngine.open(settings) as server:
        server.library.searchable()
        assert server.refresh() is False
        with Library.open(settings) as other:  # a run's end measured the background again
            state = other.store.descriptors.get_state("calibration")
            assert state is not None
            other.store.descriptors.set_state("calibration", state[0] + ":other", state[1])
        assert server.refresh() is True
        assert server.refresh() is False  # (its own measure, stored as it loaded, is no change)
