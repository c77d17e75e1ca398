"""Plain ``imgsearch dedup`` asks the pairs over its threshold what a search asks its hits.

A search takes a hit past the duplicate decision but under ``LOCAL_WITNESS_Z`` for a copy only
when its key points or its grey-level layout agree with the query's (the key-point witness);
plain ``dedup`` grouped on the vectors alone, so the report listed, as duplicates to delete,
pairs that ``lookup`` called look-alikes (a new user's audit: 4 of the 8 groups of README's
quick-start library were two different photos - two ants, bees on flowers - at copy scores
0.65-0.85). Now each pair that star grouping would take and whose vectors are not sure (their
cosine under the score at ``z = LOCAL_WITNESS_Z``) is put to ``dedup --verify``'s refutation
(:meth:`search.dedup.VerifiedNeighbours.holds`: layouts alike, or key points that find one
transform, or it is not grouped). Nothing is raised or attached: that stays ``--verify``'s.
Key points are read as a search reads a candidate's (kept on disk).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from models import usable_cores
from search.descriptor import LAYOUT_JOINED, LOCAL_WITNESS_Z, layout_correlation
from search.query.candidate_files import paired_key_points
from search.query.engine import SearchEngine


def file_readers(
    engine: SearchEngine,
) -> tuple[Callable[[int], Path | None], Callable[[int], Any]]:
    """How dedup's checks read a library image: its file's path (None: gone), and its key
    points as a query's candidates' are read (kept on disk by the library)."""

    def path_of(image_id: int) -> Path | None:
        found = engine.records.image_file(image_id)
        return found.path if found is not None and found.path.is_file() else None

    def key_points(image_id: int) -> Any:
        return engine.local.files.read(image_id, paired_key_points)[0]

    return path_of, key_points


class DedupRefuter:
    """``holds(a, b)`` for plain ``dedup``'s star grouping (module doc); ``refuted``: how many
    pairs it refused."""

    def __init__(
        self,
        engine: SearchEngine,
        threshold: float,
        small: frozenset[int],
        searched: tuple[np.ndarray, np.ndarray],
    ) -> None:
        from search.dedup import VerifiedNeighbours
        from search.descriptor import opencv

        opencv()  # a clear VerifyUnavailableError now rather than after the graph
        calibration = engine.library.descriptor().calibration
        self.sure = calibration.duplicate_threshold(LOCAL_WITNESS_Z) if calibration else 1.0
        ids, vectors = searched
        self._row = {int(i): n for n, i in enumerate(ids.tolist())}
        self._vectors = vectors

        self._read_layouts = engine.records.layouts
        self._layouts: dict[int, bytes | None] = {}  # read once: prepare(), then each pair
        path_of, key_points = file_readers(engine)
        self.verifier = VerifiedNeighbours(
            lambda ids, k: (np.zeros((len(ids), 0), np.float32), np.zeros((len(ids), 0))),
            path_of,
            threshold,
            threshold,
            calibration=calibration,
            small=small,
            layouts=self.layouts,
            key_points=key_points,
        )

    def layouts(self, ids: Sequence[int]) -> dict[int, bytes]:
        """The stored layouts of images ``ids`` that have one (each read from the store once:
        the check asks two at a time, for every pair in doubt)."""
        missing = [int(i) for i in ids if int(i) not in self._layouts]
        if missing:
            found = self._read_layouts(missing)
            self._layouts.update({i: found.get(i) for i in missing})
        return {int(i): b for i in ids if (b := self._layouts[int(i)]) is not None}

    def prepare(self, a: np.ndarray, b: np.ndarray, scores: np.ndarray) -> None:
        """Make, on the machine's cores, the key points the pairs over the threshold will be
        asked for: those not sure by their vectors whose layouts are not alike (``holds``
        then matches them in keeper order; ``find_duplicates``' ``edges_found``)."""
        del scores  # (the best over an image's rows: ``holds`` asks of the whole images')
        pairs = zip(a.tolist(), b.tolist(), strict=True)
        doubtful = [(x, y) for x, y in pairs if self._score(x, y) < self.sure]
        if not doubtful or self.verifier.layouts is None:
            return
        known = self.verifier.layouts(sorted({i for p in doubtful for i in p}))
        wanted = {
            i
            for x, y in doubtful
            if x in known
            and y in known
            and abs(layout_correlation(known[x], known[y])) < LAYOUT_JOINED
            and not {x, y} & self.verifier.small
            for i in (x, y)
        }
        workers = min(4, usable_cores())
        if len(wanted) < 2 or workers < 2:
            return
        with ThreadPoolExecutor(workers, thread_name_prefix="key-points") as pool:
            list(pool.map(self.verifier.key_points_of, sorted(wanted)))

    def _score(self, a: int, b: int) -> float:
        ra, rb = self._row.get(a), self._row.get(b)
        if ra is None or rb is None:
            return 0.0
        return float(self._vectors[ra].astype(np.float32) @ self._vectors[rb].astype(np.float32))

    def holds(self, a: int, b: int) -> bool:
        """Whether the pair stands: sure by its vectors, or not refuted by the check."""
        return self._score(a, b) >= self.sure or self.verifier.holds(a, b)

    @property
    def refuted(self) -> int:
        return self.verifier.refuted


__all__ = ["DedupRefuter", "file_readers"]
