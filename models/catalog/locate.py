"""Finding models: the built-in catalog, users' ``*.model.json`` specs on the search path,
and the model (and labels) files on disk, checked against their sha256.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from models.catalog.checksums import file_sha256
from models.catalog.spec import DEFAULT_MODEL_NAME, LocatedModel, ModelSpec
from models.errors import (
    ModelChecksumError,
    ModelNotFoundError,
    ModelSpecError,
    UnknownModelError,
)

log = logging.getLogger(__name__)

USER_SPEC_SUFFIX = ".model.json"


@cache
def builtin_catalog() -> dict[str, ModelSpec]:
    """The models this project knows by name (from ``models/catalog/*.json``)."""
    out: dict[str, ModelSpec] = {}
    for entry in sorted(resources.files(__package__).iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".json"):
            spec = ModelSpec.from_dict(json.loads(entry.read_text(encoding="utf-8")))
            out[spec.name] = spec
    # Default first, the rest in file-name order.
    return dict(sorted(out.items(), key=lambda kv: (kv[0] != DEFAULT_MODEL_NAME, kv[0])))


def load_user_spec(path: Path) -> ModelSpec:
    """Read one ``<name>.model.json``; its name must match the file name."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelSpecError(f"cannot read model spec {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelSpecError(f"model spec {path}: expected a JSON object")
    spec = ModelSpec.from_dict(data, spec_dir=Path(path).parent, source=Path(path))
    expected = Path(path).name[: -len(USER_SPEC_SUFFIX)]
    if spec.name != expected:
        raise ModelSpecError(f"model spec {path}: name '{spec.name}' must match file name")
    return spec


def available_models(search_path: Sequence[Path] = ()) -> dict[str, ModelSpec]:
    """Built-in specs plus every valid ``*.model.json`` on the search path (first one wins)."""
    out = dict(builtin_catalog())
    for directory in search_path:
        try:
            candidates = sorted(Path(directory).glob("*" + USER_SPEC_SUFFIX))
        except OSError:
            continue
        for candidate in candidates:
            name = candidate.name[: -len(USER_SPEC_SUFFIX)]
            if name in out:
                continue
            try:
                out[name] = load_user_spec(candidate)
            except ModelSpecError as exc:
                log.warning("%s (ignored)", exc)
    return out


def get_spec(name: str, search_path: Sequence[Path] = ()) -> ModelSpec:
    """The spec called ``name``: built-in, else ``<name>.model.json`` on the search path."""
    builtin = builtin_catalog()
    if name in builtin:
        return builtin[name]
    for directory in search_path:
        candidate = Path(directory) / (name + USER_SPEC_SUFFIX)
        if _readable_file(candidate):
            return load_user_spec(candidate)
    known = ", ".join(available_models(search_path))
    raise UnknownModelError(
        f"unknown model '{name}'. Known models: {known}. To add one, write "
        f"'{name}{USER_SPEC_SUFFIX}' into a directory of the model search path."
    )


# ---------------------------------------------------------------------------- locating


def _readable_file(path: Path) -> bool:
    """Is ``path`` a file this user may read? A folder of the search path that may not be
    looked into (another user's home) is passed over with a warning, as one that is no
    folder: it stopped every command although a later folder held the model."""
    try:
        return path.is_file()
    except OSError as error:
        if path.parent not in _PASSED_OVER:  # once a folder (the labels are looked for too)
            _PASSED_OVER.add(path.parent)
            log.warning("cannot look in %s (%s); looking further", path.parent, error.strerror)
        return False


_PASSED_OVER: set[Path] = set()


def _find_verified(
    name: str,
    file: str,
    sha256: str | None,
    dirs: Sequence[Path],
    searched: Sequence[Path],
    verify: bool,
    obtain: str | None,
) -> tuple[Path, bool]:
    """First copy of ``file`` in ``dirs`` whose sha256 matches (or the first at all)."""
    mismatch: tuple[Path, str] | None = None
    for directory in dirs:
        candidate = Path(directory) / file
        if not _readable_file(candidate):
            continue
        if not verify or sha256 is None:
            return candidate, False
        try:
            actual = file_sha256(candidate)
        except OSError as error:
            log.warning("cannot read %s (%s); looking further", candidate, error.strerror)
            continue
        if actual == sha256:
            return candidate, True
        log.warning("%s has sha256 %s, expected %s; looking further", candidate, actual, sha256)
        mismatch = mismatch or (candidate, actual)
    if mismatch is not None:
        raise ModelChecksumError(name, mismatch[0], sha256 or "", mismatch[1], searched, obtain)
    raise ModelNotFoundError(name, file, sha256 or "(not pinned)", searched, obtain)


def locate_model(name: str, search_path: Sequence[Path], verify: bool = True) -> LocatedModel:
    """Find the model file (and its labels file) on the search path and check sha256s.

    Raises :class:`UnknownModelError`, :class:`ModelNotFoundError` or
    :class:`ModelChecksumError`; the latter two name the file, the expected sha256, every
    directory searched and how to obtain the file.
    """
    spec = get_spec(name, search_path)
    dirs = [Path(d) for d in search_path]
    if spec.spec_dir:  # a user's spec: its own directory first
        dirs = [Path(spec.spec_dir), *[d for d in dirs if d != Path(spec.spec_dir)]]
    if Path(spec.file).is_absolute():
        dirs_for_file = [Path(spec.file).parent]
        file = Path(spec.file).name
    else:
        dirs_for_file, file = dirs, spec.file
    path, verified = _find_verified(
        spec.name, file, spec.sha256, dirs_for_file, dirs, verify, spec.obtain
    )
    labels_path = None
    if spec.labels_file:
        label_dirs = [path.parent, *[d for d in dirs if d != path.parent]]
        labels_path, labels_ok = _find_verified(
            spec.name,
            spec.labels_file,
            spec.labels_sha256,
            label_dirs,
            label_dirs,
            verify,
            spec.obtain,
        )
        verified = verified and (labels_ok or spec.labels_sha256 is None)
    return LocatedModel(spec, path, labels_path, verified, tuple(dirs))


def model_status(name: str, search_path: Sequence[Path]) -> dict[str, Any]:
    """For ``models list``: where the file is, whether it is found and verified, or why not."""
    spec = get_spec(name, search_path)
    row: dict[str, Any] = {
        "name": spec.name,
        "file": spec.file,
        "sha256": spec.sha256,
        "dimension": spec.dimension,
        "classes": spec.has_class_head,
        "default": spec.name == DEFAULT_MODEL_NAME,
        "description": spec.description,
        "builtin": spec.name in builtin_catalog(),
        "path": None,
        "found": False,
        "verified": False,
        "error": None,
    }
    try:
        located = locate_model(name, search_path, verify=True)
    except ModelChecksumError as exc:
        row.update(path=str(exc.path), found=True, error=str(exc))
    except ModelNotFoundError as exc:
        row.update(error=str(exc))
    else:
        row.update(path=str(located.path), found=True, verified=located.verified)
    return row
