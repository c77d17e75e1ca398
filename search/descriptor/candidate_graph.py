"""The query scorer's candidates joined from elsewhere: images nominated for the key points,
and the duplicate graph followed from the best sure copies - those it raises into the grey
band of a query in doubt checked by the query's key points too (a base of
:class:`search.descriptor.rerank.QueryScorer`, which provides the candidates, copy scores and
local check these use)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from search.descriptor.config import EXPAND_Z
from search.descriptor.descriptors import Descriptor
from search.descriptor.expansion import chain_scores, hub_order
from search.descriptor.row_cache import PreparedImage


class CandidateGraph:
    """Joining nominated images and following the duplicate graph (module doc)."""

    descriptor: Descriptor
    candidates: int  # QueryScorer's: neighbours asked per row
    neighbours: Callable[[np.ndarray, int], np.ndarray]  # QueryScorer's: ids of rows' neighbours
    _prepare: Callable[..., dict[int, PreparedImage]]  # QueryScorer's: prepared images of ids
    _copy: Callable[..., np.ndarray]  # QueryScorer's: copy scores of ids
    _rows: Callable[..., tuple[np.ndarray, np.ndarray]]  # QueryScorer's: ids' rows, owners
    checked_locally: bool | None  # QueryScorer's: whether the query was in doubt
    local: Callable[..., np.ndarray] | None  # QueryScorer's: the local check, if any

    def _join(
        self,
        extra: Sequence[int],
        query: np.ndarray,
        copy: np.ndarray,
        ids: list[int],
        images: dict[int, PreparedImage],
        exclude: int | None,
    ) -> tuple[np.ndarray, list[int]]:
        """``ids`` (sorted) with the stored images ``extra`` joined, and the copy scores: the
        others' as they were, the new ones' scored like them."""
        new = sorted({int(i) for i in extra} - set(ids) - {exclude})
        images.update(self._prepare(new) if new else {})
        new = [i for i in new if i in images]
        scores = dict(zip(ids, np.asarray(copy, np.float32).tolist(), strict=True))
        scores.update(zip(new, self._copy(query, new, images).tolist(), strict=True))
        joined = sorted(scores)
        return np.array([scores[i] for i in joined], np.float32), joined

    def _expand(
        self,
        query: np.ndarray,
        copy: np.ndarray,
        ids: list[int],
        images: dict[int, PreparedImage],
        exclude: int | None,
    ) -> tuple[np.ndarray, list[int], np.ndarray]:
        """Follow the duplicate graph from the best sure copies (see Descriptor.expand):
        ``(copy, ids, reached)``, ``reached`` the copy score of the sure copy through which
        each image's score was raised (its own where none: :meth:`Descriptor.copy_tier`)."""
        d = self.descriptor
        sure = d.calibration.score(EXPAND_Z)  # type: ignore[union-attr]
        decision = d.calibration.duplicate_threshold()  # type: ignore[union-attr]
        hubs = [ids[int(n)] for n in hub_order(copy, sure, d.config.expand)]
        if not hubs:
            return copy, ids, copy
        hub_rows = {h: images[h].rows for h in hubs}
        hub_copy = {h: float(copy[ids.index(h)]) for h in hubs}
        # one search for every hub's rows (per row, as one call each would give)
        found = self.neighbours(np.concatenate(list(hub_rows.values())), self.candidates)
        more = {int(i) for i in np.ravel(found) if i >= 0 and int(i) != exclude}
        new = sorted(more - set(ids))
        if new:
            images.update(self._prepare(new))
            new = [i for i in new if i in images]
            copy = np.concatenate([copy, self._copy(query, new, images)])
            ids = ids + new
        rows, owner = self._rows(ids, images)
        out, reached = copy.copy(), copy.copy()
        for h in hubs:
            graph = np.full(len(ids), -np.inf, np.float32)
            np.maximum.at(graph, owner, (hub_rows[h] @ rows.T).max(axis=0))
            graph[ids.index(h)] = -np.inf
            graph = np.where(graph >= sure, graph, -np.inf)
            chained = chain_scores(hub_copy[h], graph, copy, decision)
            reached = np.where(chained > out, np.maximum(reached, hub_copy[h]), reached)
            out = np.maximum(out, chained)
        return out, ids, reached

    def _chain_checked(
        self, copy: np.ndarray, ids: list[int], reached: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(copy, reached)`` of :meth:`_expand` with the candidates that the duplicate graph
        raised into the grey band checked by the query's key points too, when the query was
        checked locally (in doubt): a copy of the copy the check confirmed - the original of a
        crop confirmed by another crop of it - is raised through it to its chained score only,
        under the decision, though its key points match the query's as well."""
        if not self.checked_locally or self.local is None:
            return copy, reached
        chained = np.flatnonzero(reached > copy)  # raised through a sure copy
        if not len(chained):
            return copy, reached
        checked = np.asarray(self.local(ids, copy, chained=chained.tolist()), np.float32)
        raised = checked > np.asarray(copy, np.float32)  # (the check's scores are float32)
        return np.where(raised, checked, copy), np.where(raised, checked, reached)
