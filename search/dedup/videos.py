"""Duplicate videos: two videos are copies when the frames of the shorter one find frames of
the other (copy-level cosine) in the same order - a re-encode, a resized or a trimmed copy.

For each video the best match of each of its frames in every other video is taken from one
matrix product over the library's frame table (descriptor space); a pair is a copy when at
least :data:`MIN_COVERAGE` of the shorter video's frames match (calibrated z >=
:data:`FRAME_Z`), their mean score reaches the copy decision (z >= :data:`PAIR_Z`; z >=
:data:`SEQUENCE_PAIR_Z` when :data:`SEQUENCE_FRAMES` or more frames match: a run of matches
in order is stronger evidence than one pair of images, and a half-size copy's frames score
lower one by one) and the matched times run forward (:data:`MIN_ORDER` of consecutive
matches). Groups never
chain: every member is a copy of its keeper (the longest, then most pixels, largest file).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from search.store import FrameTable

MIN_COVERAGE = 0.8  # of the shorter video's frames that must find their match
MIN_ORDER = 0.8  # of consecutive matches whose times in the other video do not go back
FRAME_Z = 4.0  # a frame's best match counts from this calibrated score ...
PAIR_Z = 6.0  # ... and the matched frames' mean must reach the copy decision,
SEQUENCE_PAIR_Z = 5.0  # ... or this when at least SEQUENCE_FRAMES frames matched in order
SEQUENCE_FRAMES = 3
PLAIN_FRAME_COSINE = 0.75  # the same without a calibration (plain cosines)
PLAIN_PAIR_COSINE = 0.85


@dataclass(frozen=True)
class VideoPair:
    """Two videos that are copies: ``coverage`` of ``a``'s frames matched in ``b`` in order,
    ``offset_ms`` where ``a`` starts in ``b``, ``score`` the matched frames' mean cosine."""

    a: int
    b: int
    coverage: float
    order: float
    offset_ms: int
    score: float


@dataclass(frozen=True)
class VideoFacts:
    """What the keeper rule compares."""

    path: str
    duration_ms: int
    width: int
    height: int
    file_size: int
    sha256: str | None = None


@dataclass
class VideoGroup:
    keeper: int
    reason: str
    members: list[VideoPair] = field(default_factory=list)  # a: member, b: keeper


def shot_starts(shots: np.ndarray, video_ids: np.ndarray | None = None) -> np.ndarray:
    """Which frames (in (video, time) order) begin a shot after a cut: not a video's first."""
    starts = np.zeros(len(shots), bool)
    if len(shots) > 1:
        starts[1:] = shots[1:] != shots[:-1]
        if video_ids is not None:
            starts[1:] &= video_ids[1:] == video_ids[:-1]
    return starts


def _match(
    rows_a: np.ndarray,
    rows_b: np.ndarray,
    sims: np.ndarray,
    times: np.ndarray,
    threshold: float,
    starts: np.ndarray,
) -> tuple[float, float, int, float]:
    """(coverage, order, offset, mean score) of ``a``'s frames matched in ``b``. The offset
    is the median of the matches' time differences, of those between two frames just after a
    cut when there are any (both sampled at the cut: exact; others are a sampling step off)."""
    block = sims[np.ix_(rows_a, rows_b)]
    best = block.argmax(axis=1)
    scores = block[np.arange(len(rows_a)), best]
    matched = scores >= threshold
    coverage = float(matched.mean()) if len(rows_a) else 0.0
    if not matched.any():
        return coverage, 0.0, 0, 0.0
    found_t = times[rows_b][best][matched]
    own_t = times[rows_a][matched]
    steps = np.diff(found_t)
    order = 1.0 if len(steps) == 0 else float((steps >= -1).mean())
    at_cuts = starts[rows_a][matched] & starts[rows_b][best][matched]
    shifts = found_t - own_t
    offset = int(np.median(shifts[at_cuts] if at_cuts.any() else shifts))
    return coverage, order, offset, float(scores[matched].mean())


def video_pairs(
    table: FrameTable, rows: np.ndarray, to_z: Callable[[np.ndarray], np.ndarray] | None
) -> list[VideoPair]:
    """Copy pairs among the library's videos (``rows``: ``table``'s frames in the searched
    space; ``to_z``: the library's calibration of cosines, None for plain thresholds)."""
    if len(table) == 0:
        return []
    sims = rows @ rows.T
    if to_z is not None:
        frame_ok = to_z(sims) >= FRAME_Z

        def pair_ok(score: float, frames: int) -> bool:
            z = float(to_z(np.asarray(score)))
            return z >= (SEQUENCE_PAIR_Z if frames >= SEQUENCE_FRAMES else PAIR_Z)

    else:
        frame_ok = sims >= PLAIN_FRAME_COSINE

        def pair_ok(score: float, frames: int) -> bool:
            return score >= PLAIN_PAIR_COSINE

    sims = np.where(frame_ok, sims, -1.0)
    threshold = -0.5  # a match is whatever passed the frame decision above
    starts = shot_starts(table.shots, table.video_ids)
    ids = [int(v) for v in np.unique(table.video_ids)]
    of = {v: table.of(v) for v in ids}
    pairs = []
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            short, long_ = (a, b) if len(of[a]) <= len(of[b]) else (b, a)
            coverage, order, offset, score = _match(
                of[short], of[long_], sims, table.timestamps_ms, threshold, starts
            )
            matched = round(coverage * len(of[short]))
            if coverage >= MIN_COVERAGE and order >= MIN_ORDER and pair_ok(score, matched):
                pairs.append(VideoPair(short, long_, coverage, order, offset, score))
    return pairs


def video_groups(pairs: list[VideoPair], facts: Mapping[int, VideoFacts]) -> list[VideoGroup]:
    """Groups of copies around keepers (longest, most pixels, largest file); no chaining."""

    def rank(video_id: int) -> tuple[int, int, int, int]:
        f = facts[video_id]
        return (-f.duration_ms, -f.width * f.height, -f.file_size, video_id)

    partners: dict[int, dict[int, VideoPair]] = {}
    for pair in pairs:
        if pair.a in facts and pair.b in facts:
            partners.setdefault(pair.a, {})[pair.b] = pair
            partners.setdefault(pair.b, {})[pair.a] = pair
    grouped: set[int] = set()
    groups = []
    for keeper in sorted(partners, key=rank):
        if keeper in grouped:
            continue
        members = [v for v in sorted(partners[keeper], key=rank) if v not in grouped]
        if not members:
            continue
        group = VideoGroup(keeper, _reason(keeper, members, facts))
        for member in members:
            pair = partners[keeper][member]
            if pair.a != member:  # matched the other way (the member has more frames)
                pair = VideoPair(
                    member, keeper, pair.coverage, pair.order, -pair.offset_ms, pair.score
                )
            group.members.append(pair)
        grouped |= {keeper, *members}
        groups.append(group)
    return groups


def _reason(keeper: int, members: list[int], facts: Mapping[int, VideoFacts]) -> str:
    k = facts[keeper]
    if all(facts[m].duration_ms < k.duration_ms for m in members):
        return "longest"
    if all(facts[m].width * facts[m].height < k.width * k.height for m in members):
        return "resolution"
    return "filesize"


def groups_to_json(groups: list[VideoGroup], facts: Mapping[int, VideoFacts]) -> list[dict]:
    """The ``video_groups`` of ``imgsearch dedup --json``."""
    out = []
    for g in groups:
        keeper = facts[g.keeper]
        out.append(
            {
                "media": "video",
                "keeper": keeper.path,
                "reason": g.reason,
                "members": [
                    {"path": keeper.path, "id": g.keeper, "keeper": True} | _video_json(keeper)
                ]
                + [
                    {
                        "path": facts[p.a].path,
                        "id": p.a,
                        "keeper": False,
                        "coverage": round(p.coverage, 3),
                        "score": round(p.score, 6),
                        "offset_ms": p.offset_ms,
                        "exact": keeper.sha256 is not None and facts[p.a].sha256 == keeper.sha256,
                    }
                    | _video_json(facts[p.a])
                    for p in g.members
                ],
            }
        )
    return out


def _video_json(f: VideoFacts) -> dict[str, int]:
    return {
        "duration_ms": f.duration_ms,
        "width": f.width,
        "height": f.height,
        "file_size": f.file_size,
    }
