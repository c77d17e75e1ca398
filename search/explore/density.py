"""Density clustering on a k-NN graph: HDBSCAN (Campello et al. 2013) without an n x n matrix.

Core distance = distance to the ``min_samples``-th nearest point (itself counted, as in
HDBSCAN); each k-NN edge gets its mutual reachability distance ``max(core_a, core_b, d)``; the
minimum spanning forest of those edges (Boruvka, vectorised) is the single-linkage tree, which
is condensed with ``min_size`` and cut by excess of mass. Points that never belong to a
selected cluster are noise. The number of clusters is not given: it comes from the data.
Parts of the graph that the k-NN edges leave unconnected are joined above every real edge, so
they split first, as they would with all distances.
"""

from __future__ import annotations

import numpy as np

MIN_DISTANCE = 1e-6  # identical vectors: lambda = 1 / distance stays finite
INF = float("inf")


def mutual_reachability_edges(
    neighbours: np.ndarray, distances: np.ndarray, min_samples: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges ``(a, b, weight)`` of the k-NN graph (rows = points, ``-1`` = none) weighted by
    mutual reachability; ``min_samples`` counts the point itself."""
    n, k = neighbours.shape
    column = min(max(min_samples - 2, 0), k - 1)
    core = np.where(neighbours[:, column] >= 0, distances[:, column], np.inf)
    a = np.repeat(np.arange(n, dtype=np.int64), k)
    b = neighbours.ravel().astype(np.int64)
    keep = b >= 0
    a, b, d = a[keep], b[keep], distances.ravel()[keep]
    weight = np.maximum(np.maximum(core[a], core[b]), d)
    weight = np.where(np.isfinite(weight), weight, d.max(initial=1.0) * 4 + 1)
    return a, b, np.maximum(weight, MIN_DISTANCE)


def spanning_tree(
    n: int, a: np.ndarray, b: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The n - 1 edges of a minimum spanning tree in increasing weight (the tree Kruskal
    builds with a stable sort: ties go to the earlier edge); parts left unconnected are
    joined by edges heavier than any given one.

    Boruvka's algorithm in numpy: each round, every component takes its lightest outgoing
    edge (edges ranked by weight, then position: all distinct, so no cycle can form) and the
    components so linked merge (pointer jumping); O(log n) rounds of vectorised work instead
    of a Python loop over every edge."""
    order = np.argsort(weight, kind="stable")
    ea, eb = a[order].astype(np.int64), b[order].astype(np.int64)
    rank = np.arange(len(order), dtype=np.int64)  # position in weight order: the edge's key
    comp = np.arange(n, dtype=np.int64)
    chosen: list[np.ndarray] = []
    while len(rank):
        ca, cb = comp[ea], comp[eb]
        crossing = ca != cb
        ea, eb, rank, ca, cb = (
            ea[crossing],
            eb[crossing],
            rank[crossing],
            ca[crossing],
            cb[crossing],
        )
        if not len(rank):
            break
        m = int(comp.max()) + 1
        best = np.full(m, len(order), np.int64)
        np.minimum.at(best, ca, rank)
        np.minimum.at(best, cb, rank)
        has = best < len(order)
        picked = np.unique(best[has])
        chosen.append(picked)
        # each component points at the one across its lightest edge; mutual pairs keep the lower
        at = np.searchsorted(rank, best[has])
        here = np.flatnonzero(has)
        other = np.where(ca[at] == here, cb[at], ca[at])
        ptr = np.arange(m, dtype=np.int64)
        ptr[here] = other
        mutual = (ptr[ptr] == np.arange(m)) & (np.arange(m) < ptr)
        ptr[mutual] = np.flatnonzero(mutual)
        while True:
            nxt = ptr[ptr]
            if np.array_equal(nxt, ptr):
                break
            ptr = nxt
        comp = np.unique(ptr[comp], return_inverse=True)[1].astype(np.int64)
    picked = np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)
    tree = order[picked]
    out_a, out_b = a[tree].astype(np.int64), b[tree].astype(np.int64)
    out_w = weight[tree].astype(np.float64)
    if len(tree) < n - 1:  # a forest: join its trees above everything, lowest point first
        top = (float(out_w.max()) if len(out_w) else 1.0) * 2 + 1
        firsts = np.sort(np.unique(comp, return_index=True)[1])
        out_a = np.concatenate([out_a, firsts[:-1]])
        out_b = np.concatenate([out_b, firsts[1:]])
        out_w = np.concatenate([out_w, np.full(len(firsts) - 1, top)])
    return out_a, out_b, out_w


def single_linkage(
    n: int, a: np.ndarray, b: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The merge tree of spanning-tree edges in weight order: node ``n + i`` joins
    ``children[i]`` at distance ``heights[i]``; nodes below ``n`` are the points."""
    parent = list(range(2 * n - 1))  # Python lists: 3-4x faster than numpy scalars here
    pairs: list[tuple[int, int]] = []

    def find(x: int) -> int:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    for i, (ea, eb) in enumerate(zip(a.tolist(), b.tolist(), strict=True)):
        ra, rb = find(ea), find(eb)
        pairs.append((ra, rb))
        parent[ra] = parent[rb] = n + i
    children = np.array(pairs, np.int64).reshape(max(n - 1, 0), 2)
    return children, weight.astype(np.float64)


def hdbscan_labels(
    children: np.ndarray,
    heights: np.ndarray,
    n: int,
    min_size: int,
    max_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Labels (``-1`` = noise) and a membership strength per point (lambda at which it left
    its cluster over the cluster's deepest lambda), by excess of mass; never the root, nor a
    cluster of more than ``max_size`` points (its sub-clusters are chosen instead, as
    ``max_cluster_size`` of scikit-learn's and the hdbscan package's HDBSCAN does; a leaf
    cluster, which has none, stays whole)."""
    labels = np.full(n, -1, np.int64)
    strength = np.zeros(n)
    if n < 2 * min_size or n < 2:
        return labels, strength
    pairs = children.tolist()  # Python lists: numpy scalar access costs more than the work
    size = [1] * (2 * n - 1)
    for i, (left, right) in enumerate(pairs):
        size[n + i] = size[left] + size[right]
    lam = (1.0 / np.maximum(heights, MIN_DISTANCE)).tolist()
    # condensed clusters: birth lambda, parent, stability pieces, fallen points
    birth: list[float] = [0.0]
    parent_of: list[int] = [-1]
    stability: list[float] = [0.0]
    fallen: list[list[tuple[int, float]]] = [[]]
    kids: list[list[int]] = [[]]
    sizes: list[int] = [n]
    stack = [(2 * n - 2, 0)]  # (tree node, condensed cluster it belongs to)
    while stack:
        node, cluster = stack.pop()
        if node < n:
            fallen[cluster].append((node, INF))
            continue
        left, right = pairs[node - n]
        here = lam[node - n]
        big = [c for c in (left, right) if size[c] >= min_size]
        small = [c for c in (left, right) if size[c] < min_size]
        for c in small:
            for p in _points(c, pairs, n):
                fallen[cluster].append((p, here))
                stability[cluster] += here - birth[cluster]
        if len(big) == 2:
            for c in big:
                stability[cluster] += size[c] * (here - birth[cluster])
                birth.append(here)
                parent_of.append(cluster)
                stability.append(0.0)
                fallen.append([])
                kids.append([])
                sizes.append(size[c])
                kids[cluster].append(len(birth) - 1)
                stack.append((c, len(birth) - 1))
        elif big:
            stack.append((big[0], cluster))
    too_big = [max_size is not None and s > max_size for s in sizes]
    selected = _excess_of_mass(stability, kids, fallen, birth, too_big)
    label_of = {}
    for number, cluster in enumerate(sorted(selected)):
        label_of[cluster] = number
    for cluster in range(len(birth)):
        owner = cluster
        while owner >= 0 and owner not in label_of:
            owner = parent_of[owner]
        if owner < 0:
            continue
        deepest = max((lam_p for _, lam_p in fallen[cluster] if lam_p != INF), default=1.0)
        for p, lam_p in fallen[cluster]:
            labels[p] = label_of[owner]
            strength[p] = 1.0 if lam_p == INF else min(1.0, lam_p / deepest)
    return labels, strength


def _points(node: int, pairs: list[list[int]], n: int) -> list[int]:
    out, stack = [], [node]
    while stack:
        x = stack.pop()
        if x < n:
            out.append(x)
        else:
            stack.extend(pairs[x - n])
    return out


def _excess_of_mass(
    stability: list[float],
    kids: list[list[int]],
    fallen: list[list[tuple[int, float]]],
    birth: list[float],
    too_big: list[bool],
) -> set[int]:
    """Clusters chosen bottom-up: a cluster is kept when it is at least as stable as its
    selected descendants together and not ``too_big`` (then its descendants stand for it; a
    leaf too big has no finer groups and stays one). Points that stay to the end of a leaf
    cluster count at the lambda of its last split (they never fall out)."""
    for cluster, points in enumerate(fallen):
        last = max((lam for _, lam in points if lam != INF), default=birth[cluster])
        stability[cluster] += sum(last - birth[cluster] for _, lam in points if lam == INF)
    best = list(stability)
    chosen: dict[int, set[int]] = {}
    for cluster in range(len(birth) - 1, 0, -1):  # children were created after parents
        below = sum(best[c] for c in kids[cluster])
        if kids[cluster] and (too_big[cluster] or below > stability[cluster]):
            best[cluster] = below
            chosen[cluster] = set().union(*(chosen[c] for c in kids[cluster]))
        else:
            chosen[cluster] = {cluster}
    return set().union(*(chosen[c] for c in kids[0])) if kids[0] else set()


def density_labels(
    neighbours: np.ndarray,
    distances: np.ndarray,
    min_size: int,
    min_samples: int | None = None,
    max_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """HDBSCAN labels (``-1`` = noise) and membership strengths from a k-NN graph; no
    cluster holds more than ``max_size`` points."""
    n = len(neighbours)
    if n < 2:
        return np.full(n, -1, np.int64), np.zeros(n)
    a, b, w = mutual_reachability_edges(neighbours, distances, min_samples or min_size)
    ta, tb, tw = spanning_tree(n, a, b, w)
    children, heights = single_linkage(n, ta, tb, tw)
    return hdbscan_labels(children, heights, n, min_size, max_size)
