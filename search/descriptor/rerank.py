"""One image query, scored the way :mod:`search.evaluation.descriptor_eval` measures it.

The search engine supplies two callbacks and gets ranked hits:

* ``neighbours(rows [R, D'], k) -> int64 ids [R, k]`` - nearest stored images of each row in
  the descriptor's space (the FAISS index over transformed whole-image vectors plus the small
  index of framed photos; -1 pads);
* ``stored(ids) -> {id: StoredImage}`` - the raw vectors, framed-photo vectors and labels of
  those images from the database (the truth).

:meth:`QueryScorer.search` then (1) collects candidates for every query view, (2) scores them
exactly (copy score, label similarity), (3) follows the duplicate graph from the best sure
copies (``expand``; a copy reached through a member of the copy tier joins the tier, so label
similarity never puts a look-alike before it) and (4) returns the best ``k`` by rank score,
each with its copy score, calibrated ``z`` and duplicate decision (``z >= DUPLICATE_Z``, and
for a grey-band copy a witness among the better ones: :mod:`search.descriptor.witness`).

**Settled queries** (``more``; the engine's ``upright_first`` setting): the engine first gives
only the query's upright views (the image, and the framed photo when there is one) and a
callback for the turned ones. When the best candidate other than the query's own vector (``C <
SELF_SCORE``) is already a sure copy (robust ``z >= EXPAND_Z`` and ``duplicate_z >=
DUPLICATE_Z``: it is followed in the duplicate graph and shown as a duplicate) and no other
candidate is in doubt under the decision (:mod:`search.descriptor.settled`) the answer stands
on the upright views and the turned ones are never embedded; otherwise (a grey-zone or no
copy, or one in doubt: a turned copy may be what the turned views find or decide) they are
embedded and the query is scored with every view, exactly as when all were given at once
(candidates are per view, so the union is the same).

**Regional evidence** (``regions``): when every view leaves the query unsettled, the engine's
callback embeds the query's 2x2 tiles (:mod:`search.descriptor.regional`); when its best copy
settled it but fills only a part of it (a collage's picture), its collage cells alone, whose
best matches go to the key points.

**Local evidence** (``local``; the descriptor's ``verify`` option): when even the tiles leave
the query without a *firm* copy, the engine's callback gets the candidates and their copy
scores and returns them with the geometrically confirmed ones raised
(:mod:`search.query.local_check`), with the images the tiles nominate. Firm is sure in the
plain space; in a whitened one also ``duplicate_z >= WITNESS_Z``, past the z 6-8.5 that
look-alikes of one class reach there (:meth:`Descriptor.firm_score`): a look-alike at z 6-7
no longer settles a query whose original sits just below it (bench/README.md, "A best copy
among look-alikes is checked too"). A query with a firm copy never calls it - unless the
key-point witness then refutes every copy past the decision (the query's own vector aside):
only look-alikes settled it (photos of other scenes under one heavy filter), so it is in
doubt after all and gets the local evidence, its copies decided again (bench/README.md, "A
query that only look-alikes settled"). A reverse lookup's query (``thorough``) always calls
it: "where else is this picture" wants every copy the key points can confirm, not only those
the global vector decides (bench/README.md, "A reverse lookup checks every query's grey band").

**Prepared rows** (``cache``): each candidate's stored vectors are mapped through the
descriptor once and kept with its labels (:class:`search.descriptor.row_cache.RowCache`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from search.descriptor.candidate_graph import CandidateGraph
from search.descriptor.decided_order import decided_order
from search.descriptor.descriptors import Descriptor, StoredImage
from search.descriptor.expansion import SELF_SCORE
from search.descriptor.label_similarity import label_similarities
from search.descriptor.regional import MoreViews, QueryRegions, RegionalEvidence
from search.descriptor.row_cache import PreparedImage, RowCache
from search.descriptor.settled import settled, turned_views_needed
from search.descriptor.tied_copies import CountsInliers, tied_copies_first
from search.descriptor.witness import LocalWitness, StoredTurns, duplicate_decisions

Neighbours = Callable[[np.ndarray, int], np.ndarray]
Stored = Callable[[Sequence[int]], Mapping[int, StoredImage]]
# (ids, copy, (id, tile) nominated by the query's tiles[, tiles_only=True: those alone]) ->
# the copy scores, confirmed ones raised
LocalCheck = Callable[..., np.ndarray]
# (ids best first, their rank scores) -> those the caller will show (its filters, its k)
Shown = Callable[[list[int], list[float]], Sequence[int]]
# (ids that are the query's own vector) -> other ids to join the candidates for local evidence
Nominated = Callable[[Collection[int]], Sequence[int]]
CANDIDATES_PER_VIEW = 50


@dataclass(frozen=True)
class ScoredHit:
    """``rank`` orders results; ``copy`` is the copy score, ``z`` its calibrated value and
    ``duplicate`` the copy decision (None uncalibrated); ``lookalike`` why a hit past the
    decision's z is not a copy (:mod:`search.descriptor.witness`); ``part`` the query's tile
    (its index among the ``regions()`` rows) whose match raised it (:mod:`.regional`)."""

    id: int
    rank: float
    copy: float
    z: float | None
    duplicate: bool | None = None
    lookalike: str | None = None
    part: int | None = None
    copy_of: tuple[int, ...] = ()  # the query's copies that made it one (module vouched)


class QueryScorer(RegionalEvidence, CandidateGraph):
    """Candidates -> exact scores -> duplicate-graph expansion -> top ``k``."""

    def __init__(
        self,
        descriptor: Descriptor,
        neighbours: Neighbours,
        stored: Stored,
        *,
        candidates: int = CANDIDATES_PER_VIEW,
        cache: RowCache | None = None,
        turns: StoredTurns | None = None,
    ) -> None:
        self.descriptor = descriptor
        self.neighbours = neighbours
        self.stored = stored
        self.candidates = candidates
        #: prepared rows kept between queries of one library state (None: per query only)
        self.cache = cache
        #: a stored image's turned views, embedded from its file (search.descriptor.witness)
        self.turns = turns
        #: during :meth:`search`: the query's cap on weak turned matches (Descriptor.upright_cap)
        self.cap: float | None = None
        #: after :meth:`search`: every image it scored, by id (rows and labels)
        self.images: dict[int, PreparedImage] = {}
        #: after :meth:`search`: whether the tiles, the ``more`` views and the local check
        #: were needed (None: none offered)
        self.regional: bool | None = None
        self.expanded_views: bool | None = None
        self.checked_locally: bool | None = None

    def _candidates(
        self,
        rows: np.ndarray,
        want: int,
        exclude: int | None,
        ids: list[int],
        images: dict[int, PreparedImage],
    ) -> list[int]:
        """``ids`` and the stored neighbours of ``rows`` (prepared into ``images``), sorted."""
        found = self.neighbours(rows, want)
        have = set(ids)
        new = sorted({int(i) for i in np.ravel(found) if i >= 0 and int(i) != exclude} - have)
        if new:
            images.update(self._prepare(new))
        return sorted(have | {i for i in new if i in images})

    def _prepare(self, ids: Sequence[int]) -> dict[int, PreparedImage]:
        """The prepared images ``ids`` (those still stored): from the cache, else read with
        ``stored`` and mapped through the descriptor once (then cached)."""
        out, missing = self.cache.take(ids) if self.cache is not None else ({}, list(ids))
        if not missing:
            return out
        read = self.stored(missing)
        have = [i for i in missing if i in read]
        if not have:
            return out
        rows, owner = self.descriptor.stored_rows([read[i] for i in have])
        cuts = np.searchsorted(owner, np.arange(1, len(have)))
        fresh = {
            image_id: PreparedImage(part, tuple(read[image_id].labels), read[image_id].uniform)
            for image_id, part in zip(have, np.split(rows, cuts), strict=True)
        }
        if self.cache is not None:
            self.cache.put(fresh)
        out.update(fresh)
        return out

    def _rows(
        self, ids: Sequence[int], images: Mapping[int, PreparedImage]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The searched rows of ``ids`` and their owner positions."""
        parts = [images[i].rows for i in ids]
        sizes = [len(p) for p in parts]
        if not sum(sizes):
            return np.zeros((0, 1), np.float32), np.zeros(0, np.int64)
        return np.concatenate(parts), np.repeat(np.arange(len(ids)), sizes)

    def _copy(
        self, query: np.ndarray, ids: list[int], images: Mapping[int, PreparedImage]
    ) -> np.ndarray:
        rows, owner = self._rows(ids, images)
        return self.descriptor.copy_scores(query, rows, owner, len(ids), self.cap)

    def search(
        self,
        query: np.ndarray,
        labels: Sequence[tuple[str, float]] = (),
        k: int = 10,
        exclude: int | None = None,
        more: MoreViews | None = None,
        regions: QueryRegions | None = None,
        local: LocalCheck | None = None,
        witness: LocalWitness | None = None,
        nominated: Nominated | None = None,
        shown: Shown | None = None,
        thorough: bool = False,
    ) -> list[ScoredHit]:
        """Best ``k`` stored images for the query rows ``query`` [V, D'] (from
        :meth:`Descriptor.query_rows`) and the query's top labels; ``more()`` gives further
        query rows, asked only when ``query`` leaves the answer unsettled (module doc);
        ``regions.parts()`` the rows of the query's tiles, asked when every view leaves it
        unsettled: a tile's match counts only where it is a sure copy (module doc), and
        ``regions.cells()`` those of its collage cells when one picture settled it;
        ``local(ids, copy, tile nominees)`` the copy scores raised by local evidence, asked
        when even the tiles leave it unsettled, after ``nominated(own)`` images joined the
        candidates (ids the local evidence asks for: those the query's layout nominates among
        the whole library, ``own`` not among them: the candidates that are the query's own
        vector, which take no nominee's place);
        ``witness`` the key-point witness of the lesser copies
        (:func:`search.descriptor.witness.duplicate_decisions`), asked only of the hits that
        ``shown`` keeps (default: the best ``k``; the others' flags are left to z), and of
        those two of them hold (a copy of its copies, raised to the decision); ``thorough``
        (a reverse lookup's): ``local`` asked even when a firm copy settled the query."""
        d = self.descriptor
        want = max(k, self.candidates)
        query = np.asarray(query, np.float32)
        images: dict[int, PreparedImage] = {}
        self.images = images
        ids = self._candidates(query, want, exclude, [], images)
        # the weak turned matches' cap, of every candidate of the upright views (which hold
        # the query's best upright match): the same for the rows scored later, a part at a time
        self.cap = d.upright_cap(query, self._rows(ids, images)[0])
        copy = self._copy(query, ids, images)
        self.expanded_views = None if more is None else turned_views_needed(d, copy)
        if self.expanded_views:
            extra = np.asarray(more(), np.float32)  # type: ignore[misc]
            if len(extra):
                ids = self._candidates(extra, want, exclude, ids, images)
                query = np.concatenate([query, extra])
                copy = self._copy(query, ids, images)
        self.regional = None if regions is None else not settled(d, copy)
        self.tile_nominees, self.region_parts, self.region_whole, self.cell_rest = [], {}, {}, []
        if regions is not None and self.regional:
            copy, ids = self._regions(regions.parts, query, copy, ids, images, want, exclude)
        elif regions is not None and local is not None:  # settled: by one picture of a collage?
            copy, ids = self._settled_collage(regions, query, copy, ids, images, want, exclude)
        if not ids:
            return []
        self.checked_locally = (
            None if local is None else thorough or not settled(d, copy, firm=True)
        )
        self.local = local  # the chain's grey band is checked too (a query checked locally)
        start = copy, ids  # what the local evidence starts from, a second time if need be
        if self.checked_locally:
            copy, ids = self._checked(local, nominated, query, copy, ids, images, exclude)
        elif local is not None and self.cell_rest:  # a collage that one of its pictures settled:
            # its other pictures by the key points of their cells (module regional)
            copy = np.asarray(local(ids, copy, self.cell_rest, tiles_only=True), np.float32)
        whole = dict(self.region_whole)
        hits, refuted = self._decided(query, labels, copy, ids, images, k, exclude, witness, shown)
        if refuted and self.checked_locally is False:  # every copy that settled it was refuted
            self.checked_locally = True
            copy, ids = start  # less the refuted parts' matches (back at the whole's scores)
            back = {i: s for i, s in whole.items() if i not in self.region_whole}
            copy = np.array([back.get(i, float(copy[n])) for n, i in enumerate(ids)], np.float32)
            copy, ids = self._checked(local, nominated, query, copy, ids, images, exclude)
            lookalikes = {h.id: h.lookalike for h in hits if h.lookalike}  # they stay so
            hits, _ = self._decided(
                query, labels, copy, ids, images, k, exclude, witness, shown, lookalikes
            )
        return hits

    def _checked(
        self,
        local: LocalCheck | None,
        nominated: Nominated | None,
        query: np.ndarray,
        copy: np.ndarray,
        ids: list[int],
        images: dict[int, PreparedImage],
        exclude: int | None,
    ) -> tuple[np.ndarray, list[int]]:
        """The local evidence of a query in doubt (module doc): ``nominated(own)`` joined to
        the candidates, then ``local`` raises the confirmed ones' copy scores."""
        assert local is not None  # (asked only with a local check)
        if nominated is not None:
            own = {i for i, c in zip(ids, copy.tolist(), strict=True) if c >= SELF_SCORE}
            copy, ids = self._join(nominated(own), query, copy, ids, images, exclude)
        asked = {i for i, _ in self.tile_nominees}
        more = [(i, c) for i, c in self.cell_rest if i not in asked]
        return np.asarray(local(ids, copy, self.tile_nominees + more), np.float32), ids

    def _decided(
        self,
        query: np.ndarray,
        labels: Sequence[tuple[str, float]],
        copy: np.ndarray,
        ids: list[int],
        images: dict[int, PreparedImage],
        k: int,
        exclude: int | None,
        witness: LocalWitness | None,
        shown: Shown | None,
        refuted: Mapping[int, str] | None = None,
    ) -> tuple[list[ScoredHit], bool]:
        """The best ``k`` hits: expanded, ranked, their copies decided (module doc; ``refuted``:
        look-alikes an earlier look found, id -> why); and whether no shown copy but the
        query's own vector kept the decision while the witness refuted some (look-alikes)."""
        d = self.descriptor
        reached = None  # the tier's chained copies (Descriptor.copy_tier)
        if d.config.expand and d.calibration is not None:
            copy, ids, reached = self._expand(query, copy, ids, images, exclude)
            copy, reached = self._chain_checked(copy, ids, reached)
        label_sim = None
        if d.config.labels:
            label_sim = label_similarities(labels, [images[i].unit_labels for i in ids])
        rank = d.rank_scores(copy, label_sim, reached)
        order = sorted(range(len(ids)), key=lambda n: (-float(rank[n]), ids[n]))[:k]
        kept = order
        if shown is not None:
            wanted = set(shown([ids[n] for n in order], [float(rank[n]) for n in order]))
            kept = [n for n in order if ids[n] in wanted]
        cal = d.calibration
        decided = duplicate_decisions(
            d,
            query,
            copy,
            ids,
            lambda some: self._rows(some, images),
            self.turns,
            self.cap,
            witness,
            shown=kept,
            evidenced=self.region_parts,
            refuted=refuted,
        )
        refuted = False
        if decided is not None:
            kept_copy = any(decided.duplicate[n] and copy[n] < SELF_SCORE for n in kept)
            refuted = bool(decided.lookalike) and not kept_copy  # (the query's own vector aside)
            # a part's match its key points refuted: the whole's score
            copy, restored = self._refuted_parts(copy, ids, decided.lookalike)
            copy, rank, order = decided_order(
                d, decided, order, ids, copy, rank, label_sim, reached, restored
            )
            if d.config.local and isinstance(witness, CountsInliers):  # shots of one scene
                rank, order = tied_copies_first(decided.duplicate, order, ids, copy, rank, witness)
        hits = [
            ScoredHit(
                ids[n],
                float(rank[n]),
                float(copy[n]),
                None if cal is None else float(cal.z(copy[n])),
                None if decided is None else bool(decided.duplicate[n]),
                None if decided is None else decided.lookalike.get(n),
                self.region_parts.get(ids[n]),
                () if decided is None else decided.vouched.get(n, ()),
            )
            for n in order
        ]
        return hits, refuted
