"""Model catalog: built-in specs (``catalog/*.json``), user specs and locating files on disk.

A user adds a model by writing ``<name>.model.json`` (the fields of :class:`ModelSpec`) into
any directory of the model search path; a relative ``file`` is looked up next to the JSON file
first, then along the search path. Every file is checked against its sha256; verified hashes
are cached by (path, size, mtime) in ``$XDG_CACHE_HOME/imgsearch/sha256-cache.json`` so that
opening a model does not re-hash it.

Modules: :mod:`~models.catalog.spec` (the spec), :mod:`~models.catalog.locate` (catalog, user
specs, files on disk), :mod:`~models.catalog.checksums` (the sha256 cache).
"""

from __future__ import annotations

from models.catalog.checksums import file_sha256
from models.catalog.locate import (
    USER_SPEC_SUFFIX,
    available_models,
    builtin_catalog,
    get_spec,
    load_user_spec,
    locate_model,
    model_status,
)
from models.catalog.spec import DEFAULT_MODEL_NAME, LocatedModel, ModelSpec

__all__ = [
    "DEFAULT_MODEL_NAME",
    "USER_SPEC_SUFFIX",
    "LocatedModel",
    "ModelSpec",
    "available_models",
    "builtin_catalog",
    "file_sha256",
    "get_spec",
    "load_user_spec",
    "locate_model",
    "model_status",
]
