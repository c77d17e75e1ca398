"""Where a library's model file is found: the configured search path, then the folder the
library remembers (recorded when the model was bound), also for commands that do not open
the library."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from models import ImgsearchError, LocatedModel, get_spec
from search.settings import Settings
from search.store import LibraryStore, ModelMismatchError, ModelStamp, peek_meta

MODEL_DIR_KEY = "model_dir"
PREPARATION_KEY = "model_preparation"  # ModelSpec.preparation of the vectors stored
DESCRIPTOR_META_KEY = "descriptor"  # the library's descriptor options (DescriptorConfig text)

log = logging.getLogger(__name__)


def with_model_dir(settings: Settings, remembered: str | None) -> tuple[Path, ...]:
    """The configured search path, then the directory the library's model was found in,
    each folder once (a model-not-found message listed the remembered one twice)."""
    folders = [*settings.model_path, *((Path(remembered),) if remembered else ())]
    seen: set[Path] = set()
    kept: list[Path] = []
    for folder in folders:
        key = Path(os.path.abspath(folder))
        if key not in seen:
            seen.add(key)
            kept.append(Path(folder))
    return tuple(kept)


def admit_model(
    store: LibraryStore, located: LocatedModel, recorded: ModelStamp | None, *, bind: bool
) -> None:
    """Check the model file found against the library's: ``bind`` records it (a new library,
    the indexer); another model than recorded is refused (vectors of two models are never
    mixed); the folder it was found in is remembered for later commands."""
    stamp = ModelStamp(located.spec.name, located.spec.sha256, located.spec.dimension)
    if recorded is not None and recorded == stamp:
        _admit_preparation(store, located, bind=bind)
    if bind:
        store.bind_model(stamp)
        # Remembered, so later commands find the file without --model-path again.
        store.set_meta(MODEL_DIR_KEY, str(Path(located.path).resolve().parent))
        if store.get_meta(PREPARATION_KEY) is None:  # a new library, or one from before
            store.set_meta(PREPARATION_KEY, located.spec.preparation)
    elif recorded is not None and recorded != stamp:
        raise ModelMismatchError(
            f"this library was indexed with {recorded.name}, not {stamp.name}; vectors "
            f"of two models are never mixed. Search with --model {recorded.name}, or "
            f"switch the library with `imgsearch reindex --model {stamp.name}`"
        )
    elif recorded is not None:  # found where the library does not look (yet)
        remember_model_dir(store, located.path)


def _admit_preparation(store: LibraryStore, located: LocatedModel, *, bind: bool) -> None:
    """The same model file prepared otherwise (its ``.model.json`` edited: another crop,
    input range, size...) makes other vectors: refused like another model (an edited spec's
    photos were indexed beside the old ones, a byte copy of a stored photo scored 0.956)."""
    recorded = store.get_meta(PREPARATION_KEY)
    now = located.spec.preparation
    if recorded is None or recorded == now:
        return
    name = located.spec.name
    raise ModelMismatchError(
        f'this library\'s vectors were made with {name} prepared as "{recorded}"; its spec '
        f'now says "{now}", and vectors of two preparations are never mixed. Restore the '
        f"spec, or re-embed the library with `imgsearch reindex --model {name}`"
    )


def remember_model_dir(store: LibraryStore, model_file: str | Path) -> None:
    """Record the folder of the library's model file (found by any command's --model-path or
    IMGSEARCH_MODEL_PATH) when the library remembers none yet, or the one it remembers no
    longer holds that file (moved models): later commands then find it without the option.
    A folder that still holds it is kept; a read-only or busy library records nothing."""
    found = Path(model_file).resolve()
    remembered = store.get_meta(MODEL_DIR_KEY)
    if remembered and (Path(remembered) / found.name).is_file():
        return
    try:
        recorded = store.set_meta_unless_busy(MODEL_DIR_KEY, str(found.parent))
    except ImgsearchError as error:
        recorded, why = False, str(error)
    else:
        why = "the library is busy or read-only"
    if not recorded:  # next time
        log.info("the model folder %s is not recorded: %s", found.parent, why)


def model_search_path(settings: Settings) -> tuple[Path, ...]:
    """The search path for commands that do not open the library (embed, classify, models
    list): the folder the library remembers is added when a library exists; none is created
    or upgraded to find out."""
    return with_model_dir(settings, peek_meta(settings.resolved_database_url, MODEL_DIR_KEY))


def library_model_name(settings: Settings) -> str | None:
    """The model the library was indexed with, for commands that do not open it (`embed`,
    `classify`, `eval`: they used the default model in a library of another); None without
    a library or a bound model. ``settings.model`` (``--model``) still comes first."""
    return peek_meta(settings.resolved_database_url, "model_name")


def library_descriptor(settings: Settings) -> str | None:
    """The library's recorded descriptor options (``index --descriptor``), or None."""
    return peek_meta(settings.resolved_database_url, DESCRIPTOR_META_KEY)


def has_labels(name: str, search_path: tuple[Path, ...]) -> bool:
    """False when model ``name``'s spec says it has no class head (an unknown spec: True)."""
    try:
        return get_spec(name, search_path).has_class_head
    except ImgsearchError:
        return True
