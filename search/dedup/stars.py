"""Keeper-first star clustering of the near-duplicate graph (rule: :mod:`search.dedup.groups`).

A keeper takes every free image it has an edge to, except one with a clearly stronger edge
(``margin`` higher) to another free image (:meth:`_Stars.pulled`): that image is left to the
group of the image it is most like - the photo a copy was made from, when the keeper is
another photo of the same thing. An image so left that no group took after all is given back
(:meth:`_Stars.place`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Star = tuple[int, list[tuple[int, float]]]
#: why an image leaves a keeper's star: it is most like an image the keeper has no edge to
#: and that ``confirms`` does not find one picture with it (a copy degraded another way, such
#: as a JPEG at quality 30 most like a third-size PNG of the photo, stays), or one whose edge to
#: the keeper is refused (``holds``: another exposure, no transform found)
APART, REFUSED = "apart", "refused"


def star_groups(
    m: int,
    lo: np.ndarray,
    hi: np.ndarray,
    s: np.ndarray,
    rank: np.ndarray,
    linkage: str,
    holds: Callable[[int, int], bool] = lambda u, v: True,
    margin: float | None = None,
    confirms: Callable[[int, int], bool] = lambda u, v: False,
) -> list[Star]:
    """Keeper-first star clustering of ``m`` nodes; ``rank[node]`` = keeper order; an edge
    ``holds(u, v)`` refutes (the keeper, or the better-ranked node, first) is not taken;
    ``margin``: how much stronger an edge to another free image must be for an image to be
    left to it (None: never); ``confirms(u, w)``: a check that finds two images without an
    edge one picture (none: never)."""
    stars = _Stars(m, lo, hi, s, rank, linkage, holds, margin, confirms)
    visit = np.unique(stars.src)
    for u in visit[np.argsort(rank[visit], kind="stable")].tolist():
        if stars.owner[u] < 0:
            stars.star(u)
    for v in sorted(stars.left, key=lambda v: rank[v]):
        if stars.owner[v] < 0:
            stars.place(v, stars.left[v])
    return stars.groups


class _Stars:
    def __init__(
        self,
        m: int,
        lo: np.ndarray,
        hi: np.ndarray,
        s: np.ndarray,
        rank: np.ndarray,
        linkage: str,
        holds: Callable[[int, int], bool],
        margin: float | None,
        confirms: Callable[[int, int], bool],
    ) -> None:
        src = np.concatenate([lo, hi])
        dst = np.concatenate([hi, lo])
        sc = np.concatenate([s, s])
        order = np.lexsort((rank[dst], -sc, src))
        self.src, self.dst, self.sc = src[order], dst[order], sc[order]
        self.indptr = np.searchsorted(self.src, np.arange(m + 1))
        self.rank, self.linkage, self.holds, self.margin = rank, linkage, holds, margin
        self.confirms = confirms
        self.owner = np.full(m, -1, dtype=np.int64)
        self.groups: list[Star] = []
        self.left: dict[int, int] = {}  # image -> the first keeper that left it to another

    def edges(self, v: int) -> tuple[list[int], list[float]]:
        """``v``'s neighbours and scores, strongest first (ties: keeper order)."""
        span = slice(self.indptr[v], self.indptr[v + 1])
        return self.dst[span].tolist(), self.sc[span].tolist()

    def held(self, a: int, b: int) -> bool:
        """``holds`` of a pair, the better-ranked image first."""
        return self.holds(a, b) if self.rank[a] <= self.rank[b] else self.holds(b, a)

    def star(self, u: int) -> None:
        """``u`` as a keeper: it takes its free neighbours (best score first) but those that
        a stronger edge pulls away from it (:meth:`away`)."""
        taken: list[tuple[int, float]] = []
        near = {
            v: score
            for v, score in zip(*self.edges(u), strict=True)
            if self.owner[v] < 0 and self.rank[v] > self.rank[u]
        }  # free and after it (one before it had its turn and gave its neighbours away)
        target = {v: self.target(u, v, score) for v, score in near.items()}
        away = {v: self.away(u, v, near, target) for v in near}
        for v, score in near.items():
            if away[v] is None and self.takes(u, v, taken):
                taken.append((v, score))
        if not taken:  # rather than stay alone it keeps those not drawn to one it refuses
            for v, score in near.items():
                if away[v] == APART and self.takes(u, v, taken):
                    taken.append((v, score))
                    away[v] = None
        for v in near:
            if away[v] is not None:
                self.left.setdefault(v, u)
        if taken:
            self.owner[u] = len(self.groups)
            for v, _ in taken:
                self.owner[v] = len(self.groups)
            self.groups.append((u, taken))

    def takes(self, u: int, v: int, taken: list[tuple[int, float]]) -> bool:
        """Whether keeper ``u`` may take ``v`` beside ``taken`` (its edge to ``u`` holds;
        with ``linkage="complete"``, it has an edge that holds to every one of them)."""
        if self.linkage == "complete" and taken:
            linked = set(self.edges(v)[0])
            if any(w not in linked or not self.holds(w, v) for w, _ in taken):
                return False
        return self.holds(u, v)

    def target(self, u: int, v: int, score: float) -> int | None:
        """The image ``v`` (``score`` with keeper ``u``) is most like, by ``margin`` more
        than ``u``, that is free, comes after ``u`` and ``held`` allows; None: none."""
        if self.margin is None:
            return None
        for w, s_vw in zip(*self.edges(v), strict=True):
            if s_vw < score + self.margin:
                return None
            if self.owner[w] < 0 and self.rank[w] > self.rank[u] and self.held(w, v):
                return w
        return None

    def away(
        self, u: int, v: int, near: dict[int, float], target: dict[int, int | None]
    ) -> str | None:
        """Why ``v`` follows its :meth:`target` out of ``u``'s star, or None (it does not):
        the targets from it lead to an image that ``u`` has no edge to (:data:`APART`) or
        refuses (:data:`REFUSED`): the last of them, or the best by keeper order of a loop of
        images most like each other."""
        path, w = [v], target[v]
        while w is not None:
            if w not in near:  # ... unless a check finds the keeper and it one picture
                return None if self.confirms(u, w) else APART
            if w in path:  # a loop: its best image by keeper order leads it
                head = min(path[path.index(w) :], key=lambda x: self.rank[x])
                return None if self.holds(u, head) else REFUSED
            path.append(w)
            if target[w] is None:
                return None if self.holds(u, w) else REFUSED
            w = target[w]
        return None

    def place(self, v: int, keeper: int) -> None:
        """``v``, left by ``keeper`` and then taken by no group, joins the group of the
        keeper it is most like that ranks before it and may take it (with all its members
        too for ``linkage="complete"``); else, ``keeper`` still free, a new group of the two."""
        nbr, nsc = self.edges(v)
        for k, score in zip(nbr, nsc, strict=True):
            n = self.owner[k]
            if n < 0 or self.groups[n][0] != k or self.rank[k] >= self.rank[v]:
                continue
            members = self.groups[n][1]
            if self.takes(k, v, members):
                members.append((v, score))
                self.owner[v] = n
                return
        if self.owner[keeper] < 0 and keeper in nbr and self.held(keeper, v):
            first, second = sorted((keeper, v), key=lambda i: self.rank[i])
            self.owner[keeper] = self.owner[v] = len(self.groups)
            self.groups.append((first, [(second, nsc[nbr.index(keeper)])]))
