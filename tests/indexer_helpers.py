"""Shared helpers for the indexer tests: a small library on a copy of a few real photos."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from indexer.run import IndexOptions, IndexSummary, index_collections
from models import ImageAnalyzer, OnnxModel, locate_model
from search.index import IndexStamp, VectorIndex
from search.library import Library, index_fingerprint, load_descriptor
from search.settings import Settings
from search.store import Embedding, Image, ModelStamp

MODEL = "mobilenet_v3_small_100"


def photo_paths(data_dir: Path, count: int, subset: str = "train/ants") -> list[Path]:
    photos = sorted((data_dir / "hymenoptera" / "images" / subset).glob("*.jpg"))
    assert len(photos) >= count, f"need {count} photos in {subset}"
    return photos[:count]


def copy_photos(sources: list[Path], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for src in sources:
        dst = folder / src.name
        shutil.copyfile(src, dst)
        out.append(dst)
    return out


@dataclass
class Harness:
    """A library in tmp with one shared ONNX model; counts every decode the analyzer does."""

    settings: Settings
    model: OnnxModel
    decoded: list[str]

    @contextmanager
    def library(self) -> Iterator[Library]:
        library = Library.open(self.settings, create=True)
        try:
            library.store.bind_model(
                ModelStamp(self.model.name, self.model.sha256, self.model.dimension)
            )
            yield library
        finally:
            library.close()

    def index(self, *paths: Path, **options: object) -> IndexSummary:
        self.decoded.clear()
        with self.library() as library:
            opts = IndexOptions(paths=list(paths), progress=False, **options)  # type: ignore[arg-type]
            return index_collections(library, self.model, opts)

    def rows(self) -> dict[str, dict[str, object]]:
        """``{collection-relative path: row facts}`` straight from the database."""
        with self.library() as library, library.store.session() as session:
            out = {}
            for image, emb in session.execute(
                select(Image, Embedding).outerjoin(Embedding, Embedding.image_id == Image.id)
            ):
                out[image.rel_path] = {
                    "id": image.id,
                    "status": image.status,
                    "error": image.error,
                    "sha256": image.sha256,
                    "size": image.file_size,
                    "mtime_ns": image.mtime_ns,
                    "width": image.width,
                    "height": image.height,
                    "format": image.format,
                    "created_at": emb.created_at if emb else None,
                    "vector": np.frombuffer(emb.vector, "<f4").copy() if emb else None,
                }
            return out

    def consistent(self) -> tuple[set[int], set[int]]:
        return saved_index_ids(self.settings)


def count_builds(monkeypatch: Any) -> list[str]:
    """The kinds of every index build a Library makes from now on (cache file loads are not
    builds), recorded through ``monkeypatch``."""
    builds: list[str] = []
    original = Library._build

    def counting_build(self: Library, kind: str, *args: object) -> VectorIndex:
        builds.append(kind)
        return original(self, kind, *args)

    monkeypatch.setattr(Library, "_build", counting_build)
    return builds


def saved_index_ids(settings: Settings) -> tuple[set[int], set[int]]:
    """(ids with a vector in SQLite, ids in the saved FAISS file).

    The file is loaded against the stamp the store expects now (library id, generation,
    count, model), so a cache that fell behind raises instead of being rebuilt.
    """
    with Library.open(settings) as library:
        store = library.store
        stamp = store.model_stamp()
        assert stamp is not None
        store_ids = {int(i) for ids, _ in store.iter_vectors() for i in ids}
        searched = load_descriptor(store, library.descriptor_config())
        descriptor = index_fingerprint(searched)
        white = searched.whitening  # from 100 images up the index is in the whitened space
        expected = IndexStamp(
            library_id=store.library_id,
            generation=store.generation(),
            count=store.vector_count(),
            model_name=stamp.name,
            model_sha256=stamp.sha256,
            dimension=stamp.dimension if white is None else white.dimension,
            descriptor=descriptor,
        )
        index = VectorIndex.load(settings.index_path, expected)
        return store_ids, {int(i) for i in index.ids()}


def make_harness(
    tmp_path: Path, models_dir: Path, monkeypatch, database_url: str | None = None
) -> Harness:  # type: ignore[no-untyped-def]
    settings = Settings(
        library=tmp_path / "library", model_path=(models_dir,), database_url=database_url
    )
    model = _shared_model(models_dir)
    decoded: list[str] = []
    original = ImageAnalyzer.prepare

    def counting_prepare(self, source, roi=None):  # type: ignore[no-untyped-def]
        decoded.append(getattr(source, "name", str(source)))
        return original(self, source, roi)

    monkeypatch.setattr(ImageAnalyzer, "prepare", counting_prepare)
    return Harness(settings, model, decoded)


_MODELS: dict[Path, OnnxModel] = {}


def _shared_model(models_dir: Path) -> OnnxModel:
    if models_dir not in _MODELS:
        _MODELS[models_dir] = OnnxModel(locate_model(MODEL, [models_dir]))
    return _MODELS[models_dir]
