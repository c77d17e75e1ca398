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

from search.dedup.present import gone_keeper_reason
from search.dedup.report_files import file_missing
from search.store import FrameTable
from search.units import human_size

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
    block: np.ndarray,
    times_a: np.ndarray,
    times_b: np.ndarray,
    starts_a: np.ndarray,
    starts_b: np.ndarray,
) -> tuple[float, float, int, float]:
    """(coverage, order, offset, mean score) of ``a``'s frames matched in ``b`` (``block``:
    their cosines, those that failed the frame decision below 0). The offset is the median
    of the matches' time differences, of those between two frames just after a cut when there
    are any (both sampled at the cut: exact; others are a sampling step off)."""
    if block.shape[0] == 0 or block.shape[1] == 0:
        return 0.0, 0.0, 0, 0.0
    best = block.argmax(axis=1)
    scores = block[np.arange(block.shape[0]), best]
    matched = scores >= -0.5  # whatever passed the frame decision
    coverage = float(matched.mean())
    if not matched.any():
        return coverage, 0.0, 0, 0.0
    found_t = times_b[best][matched]
    steps = np.diff(found_t)
    order = 1.0 if len(steps) == 0 else float((steps >= -1).mean())
    at_cuts = starts_a[matched] & starts_b[best][matched]
    shifts = found_t - times_a[matched]
    offset = int(np.median(shifts[at_cuts] if at_cuts.any() else shifts))
    return coverage, order, offset, float(scores[matched].mean())


def _decisions(
    to_z: Callable[[np.ndarray], np.ndarray] | None, pair_cosine: float = PLAIN_PAIR_COSINE
) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[float, int], bool]]:
    """(frame decision on cosines, pair decision on (mean cosine, matched frames))."""
    if to_z is None:
        return (lambda s: s >= PLAIN_FRAME_COSINE), (lambda score, _n: score >= pair_cosine)

    def pair_ok(score: float, frames: int) -> bool:
        z = float(to_z(np.asarray(score)))
        return z >= (SEQUENCE_PAIR_Z if frames >= SEQUENCE_FRAMES else PAIR_Z)

    return (lambda s: to_z(s) >= FRAME_Z), pair_ok


def _pair(
    a: int, b: int, block: np.ndarray, times: tuple, starts: tuple, pair_ok: Callable
) -> VideoPair | None:
    """The pair when the video with fewer frames (``a``: the block's rows, unless there are
    more of them) is a copy of the other; ``offset_ms`` is then where it starts in the
    other."""
    if block.shape[0] > block.shape[1]:
        a, b, block = b, a, block.T
        times, starts = times[::-1], starts[::-1]
    return _directed_pair(a, b, block, times, starts, pair_ok)


def _directed_pair(
    a: int, b: int, block: np.ndarray, times: tuple, starts: tuple, pair_ok: Callable
) -> VideoPair | None:
    """The pair when ``a`` (the block's rows) is a copy of ``b``: its frames found in order."""
    coverage, order, offset, score = _match(block, times[0], times[1], starts[0], starts[1])
    matched = round(coverage * block.shape[0])
    if coverage >= MIN_COVERAGE and order >= MIN_ORDER and pair_ok(score, matched):
        return VideoPair(a, b, coverage, order, offset, score)
    return None


def video_pairs(
    table: FrameTable, rows: np.ndarray, to_z: Callable[[np.ndarray], np.ndarray] | None
) -> list[VideoPair]:
    """Copy pairs among the library's videos (``rows``: ``table``'s frames in the searched
    space; ``to_z``: the library's calibration of cosines, None for plain thresholds)."""
    if len(table) == 0:
        return []
    frame_ok, pair_ok = _decisions(to_z)
    sims = rows @ rows.T
    sims = np.where(frame_ok(sims), sims, -1.0)
    starts = shot_starts(table.shots, table.video_ids)
    times = table.timestamps_ms
    ids = [int(v) for v in np.unique(table.video_ids)]
    of = {v: table.of(v) for v in ids}
    pairs = []
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            ra, rb = of[a], of[b]
            block = sims[np.ix_(ra, rb)]
            pair = _pair(a, b, block, (times[ra], times[rb]), (starts[ra], starts[rb]), pair_ok)
            if pair is not None:
                pairs.append(pair)
    return pairs


def clip_pairs(
    query: np.ndarray,
    query_ms: np.ndarray,
    query_starts: np.ndarray,
    table: FrameTable,
    rows: np.ndarray,
    to_z: Callable[[np.ndarray], np.ndarray] | None,
    pair_cosine: float = PLAIN_PAIR_COSINE,
) -> list[VideoPair]:
    """The library videos that a query clip (frames ``query`` at ``query_ms``, in the
    searched space) is a copy of, or that are copies of it, by :func:`video_pairs`' rule;
    the query is video ``-1`` and each pair's ``offset_ms`` is where the query starts in the
    library video. Without ``to_z``, the pair decision is ``pair_cosine``."""
    if len(table) == 0 or len(query) == 0:
        return []
    frame_ok, pair_ok = _decisions(to_z, pair_cosine)
    sims = query @ rows.T
    sims = np.where(frame_ok(sims), sims, -1.0)
    starts = shot_starts(table.shots, table.video_ids)
    pairs = []
    for video in (int(v) for v in np.unique(table.video_ids)):
        rv = table.of(video)
        times, cuts = (query_ms, table.timestamps_ms[rv]), (query_starts, starts[rv])
        # The clip is sampled every second, a library video at cuts and every 2 s (a still
        # shot is one frame): which has fewer frames says nothing of which is the shorter,
        # so both ways are tried (a trimmed copy of a static video missed its original)
        found = [
            pair
            for pair in (
                _directed_pair(-1, video, sims[:, rv], times, cuts, pair_ok),
                _directed_pair(video, -1, sims[:, rv].T, times[::-1], cuts[::-1], pair_ok),
            )
            if pair is not None
        ]
        if not found:
            continue
        pair = max(found, key=lambda p: (p.coverage, p.score))
        if pair.a != -1:  # the library video is the copy: where it starts in the query
            pair = VideoPair(-1, video, pair.coverage, pair.order, -pair.offset_ms, pair.score)
        pairs.append(pair)
    pairs.sort(key=lambda p: (-p.score, p.b))
    return pairs


def _ranking(facts: Mapping[int, VideoFacts]) -> Callable[[int], tuple[int, int, int, int]]:
    """The keeper rule's sort key of a video id: longest, then most pixels, largest file."""

    def rank(video_id: int) -> tuple[int, int, int, int]:
        f = facts[video_id]
        return (-f.duration_ms, -f.width * f.height, -f.file_size, video_id)

    return rank


def video_groups(pairs: list[VideoPair], facts: Mapping[int, VideoFacts]) -> list[VideoGroup]:
    """Groups of copies around keepers (longest, most pixels, largest file); no chaining."""
    rank = _ranking(facts)
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


def keep_present_videos(
    groups: list[VideoGroup],
    facts: Mapping[int, VideoFacts],
    missing: Callable[[str], bool] = file_missing,
) -> list[VideoGroup]:
    """``groups`` with each one whose keeper's file is ``missing`` kept by its best member
    (by the keeper rule) whose file is there, the gone keeper among its members - as
    :func:`search.dedup.keep_present` does for image groups. A group whose files are all gone
    is left as it is. Only keepers' files are asked about."""
    rank, out = _ranking(facts), []
    for group in groups:
        if not missing(facts[group.keeper].path):
            out.append(group)
            continue
        present = sorted(
            (p for p in group.members if not missing(facts[p.a].path)), key=lambda p: rank(p.a)
        )
        if not present:
            out.append(group)
            continue
        new = present[0]  # its pair with the gone keeper, seen from the gone one
        gone = VideoPair(group.keeper, new.a, new.coverage, new.order, -new.offset_ms, new.score)
        members = sorted(
            [p for p in group.members if p is not new] + [gone], key=lambda p: rank(p.a)
        )
        out.append(VideoGroup(new.a, gone_keeper_reason(facts[group.keeper].path), members))
    return out


def _reason(keeper: int, members: list[int], facts: Mapping[int, VideoFacts]) -> str:
    """Why ``keeper`` is kept over the runner-up (``members`` by the keeper rule, best first),
    in words as an image group's reason is: the first rule that tells them apart (a group
    said "filesize" of a copy at a quarter of its keeper's pixels, as long as it)."""
    k, m = facts[keeper], facts[members[0]]
    if k.duration_ms != m.duration_ms:
        return f"longest ({k.duration_ms / 1000:.1f} s vs {m.duration_ms / 1000:.1f} s)"
    if k.width * k.height != m.width * m.height:
        return (
            f"most pixels ({k.width}x{k.height} vs {m.width}x{m.height}) (as long: "
            f"{k.duration_ms / 1000:.1f} s)"
        )
    if k.file_size != m.file_size:
        return (
            f"largest file ({human_size(k.file_size)} vs {human_size(m.file_size)}) (as long, "
            "as many pixels)"
        )
    return "indexed first (as long, as many pixels, as large a file)"


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
