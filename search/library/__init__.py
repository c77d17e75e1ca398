"""A library: the store, its model and the FAISS cache kept in step; the writer lock, where
its model file is found, its thumbnail cache."""

from __future__ import annotations

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
from search.library.library import Library
from search.library.lock import writer_lock
from search.library.model_path import MODEL_DIR_KEY, has_labels, model_search_path, with_model_dir
from search.library.thumbnails import (
    DEFAULT_SIZE,
    SIZES,
    ThumbnailCache,
    video_still,
    video_still_jpeg,
)

__all__ = [
    "DEFAULT_SIZE",
    "MODEL_DIR_KEY",
    "SIZES",
    "Library",
    "Searchable",
    "StoredFrames",
    "ThumbnailCache",
    "describe",
    "has_labels",
    "index_fingerprint",
    "load_descriptor",
    "model_search_path",
    "primary_vectors",
    "searched_dimension",
    "to_stored",
    "video_still",
    "video_still_jpeg",
    "with_model_dir",
    "writer_lock",
]
