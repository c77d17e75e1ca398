"""Results of one index generation kept beside the FAISS file (``<library>/explore/``).

Each result is an ``.npz`` of arrays plus its stamp (library id, generation, vector count,
model); a stamp that no longer matches the library means the result is recomputed. Writes
are atomic (temporary file + rename); a read-only library keeps results in memory only.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from pathlib import Path

import numpy as np

from search.library import Pruned, prune_folder, replaced_whole

log = logging.getLogger(__name__)

DIRNAME = "explore"
CACHE_NAME = "explore results"  # as `imgsearch prune` names it
MAX_RESULTS = 16  # kept in memory and on disk (each k of k-means is its own result): oldest go


class ResultCache:
    """Arrays by key, valid for one stamp."""

    def __init__(self, library: Path | None) -> None:
        """``library``: None keeps results in memory only (a read-only library)."""
        self.folder = library / DIRNAME if library is not None else None
        self._memory: OrderedDict[str, tuple[str, dict[str, np.ndarray]]] = OrderedDict()

    def _file(self, key: str) -> Path:
        if self.folder is None:
            raise FileNotFoundError(key)  # read as a miss
        return self.folder / f"{key}.npz"

    def get(self, key: str, stamp: dict[str, object]) -> dict[str, np.ndarray] | None:
        """The arrays stored under ``key`` for this stamp, else None."""
        text = json.dumps(stamp, sort_keys=True)
        held = self._memory.get(key)
        if held is not None and held[0] == text:
            self._memory.move_to_end(key)
            return held[1]
        try:
            with np.load(self._file(key), allow_pickle=False) as data:
                if str(data["stamp"]) != text:
                    return None
                arrays = {name: data[name] for name in data.files if name != "stamp"}
        except (OSError, KeyError, ValueError):
            return None
        self._remember(key, text, arrays)
        return arrays

    def _remember(self, key: str, text: str, arrays: dict[str, np.ndarray]) -> None:
        self._memory[key] = (text, arrays)
        self._memory.move_to_end(key)
        while len(self._memory) > MAX_RESULTS:
            self._memory.popitem(last=False)

    def _prune(self) -> None:
        """Keep the newest MAX_RESULTS files (a client asking for every k fills no disk), and
        no old temporary files."""
        files = sorted(self.folder.glob("*.npz"), key=lambda f: f.stat().st_mtime, reverse=True)
        for old in files[MAX_RESULTS:]:
            old.unlink(missing_ok=True)
        self.prune()

    def prune(self, *, dry_run: bool = False) -> Pruned:
        """Delete the temporary files that failed or killed writes left, once a minute old
        (``dry_run``: count them); results stay."""
        if self.folder is None:  # in memory only
            return Pruned(CACHE_NAME, "")
        return prune_folder(CACHE_NAME, self.folder, is_result, dry_run=dry_run, flat=True)

    def put(self, key: str, stamp: dict[str, object], arrays: dict[str, np.ndarray]) -> None:
        """Keep ``arrays`` for this stamp (on disk when the library is writable)."""
        text = json.dumps(stamp, sort_keys=True)
        self._remember(key, text, arrays)
        if self.folder is None:
            return
        try:  # a failed write (a full disk) leaves no temporary file
            with replaced_whole(self._file(key), ".tmp") as out:
                np.savez(out, stamp=np.array(text), **arrays)
            self._prune()
        except OSError as error:
            log.info("explore result %s kept in memory only: %s", key, error)


def is_result(name: str) -> bool:
    """Is the file ``name`` of the results folder a result (not a write's temporary file)?"""
    return not name.endswith(".tmp")
