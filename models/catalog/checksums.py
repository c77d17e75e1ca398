"""sha256 of model files, cached by (resolved path, size, mtime) in memory and on disk.

The disk cache is ``$XDG_CACHE_HOME/imgsearch/sha256-cache.json`` (default ``~/.cache``), so
that opening a model does not re-hash it; a cache that cannot be written is only logged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from pathlib import Path

log = logging.getLogger(__name__)

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
