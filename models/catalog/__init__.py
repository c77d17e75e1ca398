"""Model catalog: built-in specs (``catalog/*.json``), user specs and locating files on disk.

A user adds a model by writing ``<name>.model.json`` (the fields of :class:`ModelSpec`) into
any directory of the model search path; a relative ``file`` is looked up next to the JSON file
first, then along the search path. Every file is checked against its sha256; verified hashes
are cached by (path, size, mtime) in ``$XDG_CACHE_HOME/imgsearch/sha256-cache.json`` so that
opening a model does not re-hash it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, fields
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from models.errors import (
    ModelChecksumError,
    ModelNotFoundError,
    ModelSpecError,
    UnknownModelError,
)

log = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "mobilenet_v3_small_100"
USER_SPEC_SUFFIX = ".model.json"
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_DTYPES = ("uint8", "float32")
_LAYOUTS = ("NHWC", "NCHW")


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to feed a model and read its outputs.

    ``input_range`` is the value range the network expects for pixel 0..255 (mapped linearly);
    ``size`` is (width, height); ``crop_fraction`` the central crop applied before resizing
    (1.0 = whole image); ``raw_output`` the un-normalised embedding output if the graph has one.
    """

    name: str
    file: str
    sha256: str
    input_name: str = "image"
    input_dtype: str = "uint8"
    input_range: tuple[float, float] = (0.0, 255.0)
    size: tuple[int, int] = (224, 224)
    crop_fraction: float = 1.0
    embedding_output: str = "embedding"
    output_normalized: bool = False
    probs_output: str | None = None
    labels_file: str | None = None
    dimension: int = 1024
    layout: str = "NHWC"
    raw_output: str | None = None
    labels_sha256: str | None = None
    background_index: int | None = None
    description: str = ""
    obtain: str | None = None
    spec_dir: str | None = None  # directory of a user's .model.json (searched first)

    @property
    def has_class_head(self) -> bool:
        return self.probs_output is not None

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, spec_dir: Path | None = None) -> ModelSpec:
        """Validate and build a spec from parsed JSON; raises :class:`ModelSpecError`."""
        known = {f.name for f in fields(cls)} - {"spec_dir"}
        where = f" in {spec_dir}" if spec_dir else ""
        unknown = set(data) - known - {"$comment"}
        if unknown:
            raise ModelSpecError(f"model spec{where}: unknown keys {sorted(unknown)}")
        for key in ("name", "file", "sha256"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise ModelSpecError(f"model spec{where}: '{key}' (string) is required")
        values = {k: v for k, v in data.items() if k in known}
        name = values["name"]
        try:
            for key in ("input_range", "size"):
                if key in values:
                    values[key] = tuple(values[key])
            spec = cls(**values, spec_dir=str(spec_dir) if spec_dir else None)
        except TypeError as exc:
            raise ModelSpecError(f"model spec '{name}'{where}: {exc}") from None
        problems = []
        if not _SHA_RE.match(spec.sha256):
            problems.append("sha256 must be 64 lowercase hex digits")
        if spec.labels_sha256 is not None and not _SHA_RE.match(spec.labels_sha256):
            problems.append("labels_sha256 must be 64 lowercase hex digits")
        if spec.input_dtype not in _DTYPES:
            problems.append(f"input_dtype must be one of {_DTYPES}")
        if spec.layout not in _LAYOUTS:
            problems.append(f"layout must be one of {_LAYOUTS}")
        if len(spec.size) != 2 or min(spec.size) < 1:
            problems.append("size must be [width, height]")
        if len(spec.input_range) != 2 or spec.input_range[0] >= spec.input_range[1]:
            problems.append("input_range must be [low, high] with low < high")
        if not 0.0 < spec.crop_fraction <= 1.0:
            problems.append("crop_fraction must be in (0, 1]")
        if spec.dimension < 1:
            problems.append("dimension must be positive")
        if spec.labels_file and not spec.probs_output:
            problems.append("labels_file needs probs_output")
        if problems:
            raise ModelSpecError(f"model spec '{name}'{where}: " + "; ".join(problems))
        return spec

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "spec_dir"}
        out["input_range"] = list(self.input_range)
        out["size"] = list(self.size)
        return out


@dataclass(frozen=True)
class LocatedModel:
    """A spec together with the files found for it."""

    spec: ModelSpec
    path: Path
    labels_path: Path | None
    verified: bool
    search_path: tuple[Path, ...] = ()

    @property
    def sha256(self) -> str:
        return self.spec.sha256


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
    spec = ModelSpec.from_dict(data, spec_dir=Path(path).parent)
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
                log.warning("ignoring %s", exc)
    return out


def get_spec(name: str, search_path: Sequence[Path] = ()) -> ModelSpec:
    """The spec called ``name``: built-in, else ``<name>.model.json`` on the search path."""
    builtin = builtin_catalog()
    if name in builtin:
        return builtin[name]
    for directory in search_path:
        candidate = Path(directory) / (name + USER_SPEC_SUFFIX)
        if candidate.is_file():
            return load_user_spec(candidate)
    known = ", ".join(available_models(search_path))
    raise UnknownModelError(
        f"unknown model '{name}'. Known models: {known}. To add one, write "
        f"'{name}{USER_SPEC_SUFFIX}' into a directory of the model search path."
    )


# ---------------------------------------------------------------------------- sha256 cache

_cache_lock = threading.Lock()
_memory_cache: dict[str, str] = {}


def _cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "imgsearch" / "sha256-cache.json"


def _cache_key(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"


def _read_disk_cache() -> dict[str, str]:
    try:
        data = json.loads(_cache_file().read_text(encoding="utf-8"))
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_disk_cache(entries: dict[str, str]) -> None:
    target = _cache_file()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".sha256-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(entries, fh, indent=0, sort_keys=True)
        os.replace(tmp, target)
    except OSError as exc:  # a read-only home must not stop anyone from searching
        log.debug("sha256 cache not written: %s", exc)


def file_sha256(path: Path, *, use_cache: bool = True) -> str:
    """sha256 of a file, cached by (resolved path, size, mtime_ns) in memory and on disk."""
    path = Path(path)
    key = _cache_key(path)
    if use_cache:
        with _cache_lock:
            if key in _memory_cache:
                return _memory_cache[key]
            disk = _read_disk_cache()
            if key in disk:
                _memory_cache[key] = disk[key]
                return disk[key]
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    value = digest.hexdigest()
    if use_cache:
        with _cache_lock:
            _memory_cache[key] = value
            disk = _read_disk_cache()
            # Forget stale entries for the same path (file replaced or touched).
            prefix = key.rsplit("|", 2)[0] + "|"
            disk = {k: v for k, v in disk.items() if not k.startswith(prefix)}
            disk[key] = value
            _write_disk_cache(disk)
    return value


# ---------------------------------------------------------------------------- locating


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
        if not candidate.is_file():
            continue
        if not verify or sha256 is None:
            return candidate, False
        actual = file_sha256(candidate)
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
