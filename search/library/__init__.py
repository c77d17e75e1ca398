"""A library: the store, its model and the FAISS cache kept in step; the writer lock, where
its model file is found, its thumbnail cache.

Names load on first use (PEP 562): importing the package costs nothing until a name
is used."""

from __future__ import annotations

from typing import TYPE_CHECKING

from search.lazy import lazy_names

_SOURCES: dict[str, str] = {
    "Searchable": "search.library.descriptor",
    "StoredFrames": "search.library.descriptor",
    "describe": "search.library.descriptor",
    "index_fingerprint": "search.library.descriptor",
    "load_descriptor": "search.library.descriptor",
    "primary_vectors": "search.library.descriptor",
    "searched_dimension": "search.library.descriptor",
    "to_stored": "search.library.descriptor",
    "Library": "search.library.library",
    "on_full_disk": "search.library.lock",
    "refuse_writes": "search.library.lock",
    "writer_lock": "search.library.lock",
    "MODEL_DIR_KEY": "search.library.model_path",
    "has_labels": "search.library.model_path",
    "model_search_path": "search.library.model_path",
    "library_model_name": "search.library.model_path",
    "library_descriptor": "search.library.model_path",
    "with_model_dir": "search.library.model_path",
    "DEFAULT_SIZE": "search.library.thumbnails",
    "SIZES": "search.library.thumbnails",
    "ThumbnailCache": "search.library.thumbnails",
    "KeyPointCache": "search.library.key_points",
    "Pruned": "search.library.prune",
    "prune_folder": "search.library.prune",
    "replaced_whole": "search.library.atomic",
    "video_still": "search.library.thumbnails",
    "video_still_jpeg": "search.library.thumbnails",
    "Unreached": "search.library.unreached",
    "folder_state": "search.library.unreached",
    "unreached": "search.library.unreached",
    "way_out": "search.library.unreached",
}

__all__ = [
    "DEFAULT_SIZE",
    "MODEL_DIR_KEY",
    "SIZES",
    "KeyPointCache",
    "Library",
    "Pruned",
    "Searchable",
    "StoredFrames",
    "ThumbnailCache",
    "Unreached",
    "describe",
    "folder_state",
    "has_labels",
    "index_fingerprint",
    "library_descriptor",
    "library_model_name",
    "load_descriptor",
    "model_search_path",
    "on_full_disk",
    "primary_vectors",
    "prune_folder",
    "refuse_writes",
    "replaced_whole",
    "searched_dimension",
    "to_stored",
    "unreached",
    "video_still",
    "video_still_jpeg",
    "way_out",
    "with_model_dir",
    "writer_lock",
]


__getattr__, __dir__ = lazy_names(__name__, _SOURCES, globals())

if TYPE_CHECKING:  # type checkers and IDEs see the names eagerly
    from search.library.atomic import replaced_whole
    from search.library.descriptor import (
        Searchable,
        StoredFrames,
        describe,
        index_fingerprint,
        load_descriptor,
        primary_vectors,
        searched_dimension,
        to_stored,
    )
    from search.library.key_points import KeyPointCache
    from search.library.library import Library
    from search.library.lock import on_full_disk, refuse_writes, writer_lock
    from search.library.model_path import (
        MODEL_DIR_KEY,
        has_labels,
        library_descriptor,
        library_model_name,
        model_search_path,
        with_model_dir,
    )
    from search.library.prune import Pruned, prune_folder
    from search.library.thumbnails import (
        DEFAULT_SIZE,
        SIZES,
        ThumbnailCache,
        video_still,
        video_still_jpeg,
    )
    from search.library.unreached import Unreached, folder_state, unreached, way_out
