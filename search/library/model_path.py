"""Where a library's model file is found: the configured search path, then the folder the
library remembers (recorded when the model was bound), also for commands that do not open
the library."""

from __future__ import annotations

from pathlib import Path

from models import ImgsearchError, get_spec
from search.settings import Settings
from search.store import peek_meta

MODEL_DIR_KEY = "model_dir"


def with_model_dir(settings: Settings, remembered: str | None) -> tuple[Path, ...]:
    """The configured search path, then the directory the library's model was found in."""
    return tuple(settings.model_path) + ((Path(remembered),) if remembered else ())


def model_search_path(settings: Settings) -> tuple[Path, ...]:
    """The search path for commands that do not open the library (embed, classify, models
    list): the folder the library remembers is added when a library exists; none is created
    or upgraded to find out."""
    return with_model_dir(settings, peek_meta(settings.resolved_database_url, MODEL_DIR_KEY))


def has_labels(name: str, search_path: tuple[Path, ...]) -> bool:
    """False when model ``name``'s spec says it has no class head (an unknown spec: True)."""
    try:
        return get_spec(name, search_path).has_class_head
    except ImgsearchError:
        return True
