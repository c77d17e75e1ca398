"""Duplicate and near-duplicate groups over image vectors, with a suggested keeper per group.

Nothing here deletes, moves or even opens a file: the caller gives one :class:`DedupImage` per
image (metadata it already has) and the images' unit vectors, or a neighbours provider.

The grouping rule (keeper-first star clustering; deterministic)
----------------------------------------------------------------
1. **Exact duplicates**: images with the same ``sha256`` form one exact set; its best image by
   the keeper rules represents it in step 2, and its copies follow that representative.
2. **Near-duplicate graph**: each representative's nearest neighbours come from a provider
   (``provider(ids, k) -> (scores, ids)``, see :mod:`search.dedup.neighbours`); a pair is an
   edge when its cosine is ``>= threshold``. ``k`` starts at ``k`` and doubles, for the rows
   whose k-th neighbour is still above the threshold, up to ``max_k``. Memory is O(n * max_k);
   no n x n matrix is ever built.
3. **Groups**: images are visited in keeper order (best first, by the ``keeper_rules``, ties by
   path then id). An image not yet in a group becomes a keeper and takes every image not yet in
   a group that it has an edge to. So every member is ``>= threshold`` similar to its keeper
   (its ``score``), and the keeper is the best image of its group. Nothing chains: two images
   share a group only if both are near-duplicates of the same keeper. With
   ``linkage="complete"`` a member is also taken only if it has an edge to every member taken
   before it (best score first), so every pair in a group is ``>= threshold``. With a pair
   check (``holds``, e.g. ``dedup --verify``'s key points and layouts) an edge it refutes is
   not taken: the image stays free for a later keeper.
   **A member goes with the image it is most like** (:mod:`search.dedup.stars`): a keeper
   does not take an image whose edge to another free image after it in keeper order is
   stronger by :data:`STRONGER_BY` of ``1 - threshold`` (its *target*), when the targets from
   it lead to an image the keeper has no edge to, or refuses (the last of them, or the best
   image of a loop of images most like each other): an edited copy is left to its own
   photo's group rather than taken by another photo of the same thing that comes first. A
   keeper that would take nothing so keeps those led to an image it has no edge to (only
   one refused by it, another photo, leaves it alone); an image left so that no group took
   joins the group of the keeper it is most like that ranks before it and may take it, or
   else forms one with the keeper that left it. A keeper never takes an image before it in
   keeper order (one that had its turn). The invariants above hold throughout.
4. **Keeper and reason**: the keeper is the group's first image by the rules; ``reason`` names
   the first rule on which it beats the runner-up. The keeper should be the image the others
   were made from: the rules (EXIF capture time, not framed, camera format, resolution of the
   photo itself, age, file size) are in :mod:`search.dedup.keeper`.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Literal

import numpy as np

from search.dedup.errors import DedupError
from search.dedup.groups_result import DedupGroup, DedupMember, DedupResult
from search.dedup.keeper import (
    DEFAULT_KEEPER_RULES,
    KEEPER_RULES,
    DedupImage,
    check_keeper_rules,
    choose_keeper,
    distinct_exposures,
    keeper_key,
)
from search.dedup.neighbours import (
    IdRows,
    NeighbourProvider,
    check_unit_vectors,
    default_neighbours,
)
from search.dedup.stars import star_groups

# Measured (bench/dedup.py threshold; default model mobilenet_v3_small_100, cosine of unit
# embeddings). shared/data/near_duplicates: 990 pairs, 641 duplicates; highest non-duplicate
# 0.449, so precision is 1.000 at every threshold >= 0.45 (recall 0.86 at 0.45, 0.82 at 0.50,
# 0.52 at 0.70, 0.29 at 0.80, 0.18 at 0.90). That set alone would pick 0.45, but its negatives
# are easy (other scenes): different photos of one object (UKBench subset, 2145 pairs) reach
# 0.946 and same-category photos (hymenoptera, 79003 pairs) 0.729 - at 0.50 they would add 361
# false pairs. With those as extra negatives, precision >= 0.99 with the most recall is 0.90:
# precision 0.9915 (117 true, 1 false pair), near_duplicates recall 0.18 (17 of 40 copies >=
# 0.90 to their original: re-encodes, rescales, blur, sharpen, saturation, text overlay, hflip,
# meme caption, brightness). 0.89 gives precision 0.976, 0.95 gives 1.000 with recall 0.12.
DEFAULT_DEDUP_THRESHOLD = 0.90

DEFAULT_K = 16
DEFAULT_MAX_K = 256
#: groups made again at most this many times after collages gave way (a collage's photo may
#: make a group whose keeper is a collage of it in turn)
COLLAGE_PASSES = 3
#: an image is left to another free image rather than taken by a keeper when its edge to it is
#: stronger by this share of the span from the threshold to 1 (0.064 at the calibrated 0.57;
#: 0.15 measured on two 792-image audit libraries: 0.10 to 0.25 all fix some and no pair
#: precision falls; 0.15 added no wrong pair)
STRONGER_BY = 0.15
Linkage = Literal["star", "complete"]
__all__ = [
    "DEFAULT_DEDUP_THRESHOLD",
    "DEFAULT_KEEPER_RULES",
    "KEEPER_RULES",
    "DedupError",
    "DedupGroup",
    "DedupImage",
    "DedupMember",
    "DedupResult",
    "check_keeper_rules",
    "choose_keeper",
    "find_duplicates",
    "keeper_key",
]


def _edges(
    provider: NeighbourProvider,
    rep_ids: np.ndarray,
    node_of_id: Callable[[np.ndarray], np.ndarray],
    threshold: float,
    k: int,
    max_k: int,
    batch_size: int,
    progress: Callable[[int, int], None] | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, int]]:
    """Edges (a < b, score) of the thresholded, symmetric kNN graph between nodes."""
    parts_a, parts_b, parts_s = [], [], []
    stats = {"queries": 0, "k_max_used": 0, "saturated": 0}
    for start in range(0, rep_ids.size, batch_size):
        pending = np.arange(start, min(start + batch_size, rep_ids.size))
        kk = min(k, max_k)
        while pending.size:
            scores, ids = provider(rep_ids[pending], kk + 1)
            scores = np.asarray(scores, dtype=np.float32).reshape(pending.size, -1)
            ids = np.asarray(ids, dtype=np.int64).reshape(pending.size, -1)
            stats["queries"] += pending.size
            stats["k_max_used"] = max(stats["k_max_used"], kk)
            nodes = node_of_id(ids.ravel()).reshape(ids.shape)
            src = np.broadcast_to(pending[:, None], ids.shape)
            ok = (ids >= 0) & (nodes >= 0) & (nodes != src) & (scores >= threshold)
            parts_a.append(src[ok])
            parts_b.append(nodes[ok])
            parts_s.append(scores[ok])
            full = (ids.shape[1] >= kk + 1) & (ids[:, -1] >= 0) & (scores[:, -1] >= threshold)
            if kk >= max_k:
                stats["saturated"] += int(full.sum())
                break
            pending, kk = pending[full], min(2 * kk, max_k)
        if progress is not None:
            progress(min(start + batch_size, rep_ids.size), rep_ids.size)
    a = np.concatenate(parts_a) if parts_a else np.empty(0, np.int64)
    b = np.concatenate(parts_b) if parts_b else np.empty(0, np.int64)
    s = np.concatenate(parts_s) if parts_s else np.empty(0, np.float32)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    order = np.lexsort((-s, hi, lo))
    lo, hi, s = lo[order], hi[order], s[order]
    first = np.ones(lo.size, dtype=bool)
    first[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
    return lo[first], hi[first], s[first], stats


def find_duplicates(
    images: Sequence[DedupImage],
    vectors: np.ndarray | None = None,
    *,
    threshold: float | None = None,
    neighbours: NeighbourProvider | None = None,
    near: bool = True,
    k: int = DEFAULT_K,
    max_k: int = DEFAULT_MAX_K,
    keeper_rules: Sequence[str] = DEFAULT_KEEPER_RULES,
    linkage: Linkage = "star",
    batch_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    holds: Callable[[int, int], bool] | None = None,
    collage: Callable[..., DedupImage | None] | None = None,
    edges_found: Callable[[np.ndarray, np.ndarray, np.ndarray], None] | None = None,
) -> DedupResult:
    """Group exact and near duplicates (rule in the module docstring); never touches files.

    ``vectors``: unit vectors, one row per image (float32/float16), used by the default faiss
    provider. ``neighbours``: a provider to use instead (e.g. the library's FAISS index); ids
    it returns that are not among ``images`` are ignored. ``near=False``: exact groups only.
    ``holds(a, b)``: a check of a near pair of image ids (the keeper's first); a pair it
    refutes is not grouped, nor is a pair of two exposures (:func:`distinct_exposures`:
    capture times that differ). ``collage(keeper, members, scores)``: the keeper marked as
    made from a member's picture (a collage of it, :mod:`search.dedup.collages`; it with bars,
    :mod:`search.dedup.padded`; a crop of it, :mod:`search.dedup.cropped`), or None, given
    each member's score to it; the groups are made again with the marked images (at most
    :data:`COLLAGE_PASSES` times). ``edges_found(a, b, scores)``: the graph's edges (image
    ids), told once before grouping (a ``holds`` that reads files prepares them then).
    """
    started = time.perf_counter()
    threshold = DEFAULT_DEDUP_THRESHOLD if threshold is None else float(threshold)
    if not 0.0 < threshold <= 1.0:
        raise DedupError(f"threshold must be in (0, 1], got {threshold}")
    if linkage not in ("star", "complete"):
        raise DedupError(f"linkage must be 'star' or 'complete', got {linkage!r}")
    if k < 1 or max_k < k:
        raise DedupError(f"need 1 <= k <= max_k, got k={k}, max_k={max_k}")
    rules = check_keeper_rules(keeper_rules)
    images = list(images)
    idmap = IdRows(np.fromiter((im.id for im in images), dtype=np.int64, count=len(images)))

    # 1. exact sets -> representative (best by the rules) of each image
    rep = np.arange(len(images), dtype=np.int64)
    copies: dict[int, list[int]] = {}
    by_sha: dict[str, list[int]] = defaultdict(list)
    for i, im in enumerate(images):
        if im.sha256:
            by_sha[im.sha256].append(i)
    for idx in by_sha.values():
        if len(idx) > 1:
            idx = sorted(idx, key=lambda i: keeper_key(images[i], rules))
            rep[idx] = idx[0]
            copies[idx[0]] = idx[1:]

    # 2. thresholded kNN graph between representatives (node = image index of a rep)
    lo = hi = np.empty(0, np.int64)
    sc = np.empty(0, np.float32)
    graph_stats: dict[str, int] = {}
    provider_name = None
    if near and images:
        if neighbours is None:
            if vectors is None:
                raise DedupError("near-duplicates need vectors or a neighbours provider")
            check_unit_vectors(vectors, len(images))
            neighbours = default_neighbours(vectors, idmap.ids)
        provider_name = getattr(neighbours, "name", None) or getattr(
            neighbours, "__name__", type(neighbours).__name__
        )
        reps = np.flatnonzero(rep == np.arange(len(images)))

        def node_of_id(ids: np.ndarray) -> np.ndarray:
            rows = idmap.rows(ids)
            nodes = np.searchsorted(reps, rep[np.maximum(rows, 0)])
            return np.where(rows >= 0, nodes, -1)

        batch = int(batch_size or getattr(neighbours, "batch_size", 16384))
        lo, hi, sc, graph_stats = _edges(
            neighbours, idmap.ids[reps], node_of_id, threshold, k, max_k, batch, progress
        )
        lo, hi = reps[lo], reps[hi]  # node numbers -> image indices

    # 3. keeper-first star clustering over the edges (again while collages give way)
    linked = np.unique(np.concatenate([lo, hi]))
    if edges_found is not None:  # (image ids of each edge, its score): before ``holds`` asks
        edges_found(idmap.ids[lo], idmap.ids[hi], sc)

    exposures: set[tuple[int, int]] = set()  # pairs taken at two different times

    def held(u: int, v: int) -> bool:
        if distinct_exposures(images[u], images[v]):
            exposures.add((min(u, v), max(u, v)))
            return False
        return holds is None or holds(images[u].id, images[v].id)

    def confirms(u: int, v: int) -> bool:  # one picture without an edge: only a check says
        return holds is not None and held(u, v)

    margin = STRONGER_BY * (1.0 - threshold)
    collages = 0
    for passes in range(COLLAGE_PASSES + 1):
        rank = np.full(len(images), len(images), dtype=np.int64)
        ranked = sorted(linked.tolist(), key=lambda i: keeper_key(images[i], rules))
        rank[ranked] = np.arange(len(ranked))
        stars = star_groups(len(images), lo, hi, sc, rank, linkage, held, margin, confirms)
        if collage is None or passes == COLLAGE_PASSES:
            break
        marked = {}
        for keeper_i, taken in stars:
            # members that would come first were the keeper a collage showing them at no size
            # (the others cannot take its place: an EXIF time, say, decides before)
            worst = keeper_key(replace(images[keeper_i], frame=(0.0, 0.0), collage=True), rules)
            rivals = [images[v] for v, _ in taken if keeper_key(images[v], rules) < worst]
            scores = {images[v].id: float(score) for v, score in taken}
            if rivals and (found := collage(images[keeper_i], rivals, scores)) is not None:
                marked[keeper_i] = found
        if not marked:
            break
        collages += len(marked)
        for i, image in marked.items():
            images[i] = image
            for c in copies.get(i, []):  # its byte-identical copies are the same picture
                marks = {"frame": image.frame, "collage": image.collage, "crop": image.crop}
                images[c] = replace(images[c], **marks)

    # 4. groups with exact copies, keeper and reason
    groups: list[DedupGroup] = []
    grouped: set[int] = set()
    for keeper_i, taken in stars:
        members = [DedupMember(images[c], 1.0, True) for c in copies.get(keeper_i, [])]
        for v, score in taken:
            members.append(DedupMember(images[v], score, False))
            members += [DedupMember(images[c], score, False) for c in copies.get(v, [])]
        groups.append(_group(images[keeper_i], members, rules))
        grouped.add(keeper_i)
        grouped.update(v for v, _ in taken)
    for keeper_i, idx in copies.items():
        if keeper_i not in grouped:
            members = [DedupMember(images[c], 1.0, True) for c in idx]
            groups.append(_group(images[keeper_i], members, rules))
    groups.sort(key=lambda g: (-len(g.members), g.keeper.path, g.keeper.id))
    stats: dict[str, object] = {
        "images": len(images),
        "exact_sets": len(copies),
        "near_edges": int(lo.size),
        "groups": len(groups),
        "duplicates": sum(len(g.members) for g in groups),
        **({"collage_keepers": collages} if collage is not None else {}),
        "distinct_exposures": len(exposures),
        "provider": provider_name,
        **graph_stats,
        "seconds": round(time.perf_counter() - started, 3),
    }
    # exact groups only: no score decided anything
    return DedupResult(threshold if near else None, tuple(groups), rules, linkage, stats)


def _group(keeper: DedupImage, members: list[DedupMember], rules: tuple[str, ...]) -> DedupGroup:
    best, reason = choose_keeper([keeper, *(m.image for m in members)], rules)
    assert best is keeper, "keeper-first order must make the keeper the group's best image"
    members.sort(key=lambda m: (not m.exact, -m.score, m.image.path, m.image.id))
    return DedupGroup(keeper, reason, tuple(members))
