"""Reverse image lookup, on top of the query engine (library-wide duplicate reports:
:mod:`search.query.library_dedup`).

``lookup`` answers "where is this picture in my library, edited or not": exact copies (same
bytes, or the same decoded pixels in another encoding), near-duplicates (copies by the
library's calibrated copy score, or at or above an explicit threshold), then the nearest
other images - each labelled with its evidence. A lookup is **thorough**: every view of the
query is embedded and its grey band is checked by key points even when a sure copy settled it
(:data:`search.descriptor.LOOKUP_CHECKED` candidates; a search stops at its first firm copy),
so the copies the global vector leaves under the decision are confirmed where their key points
hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from search.dedup import DEFAULT_DEDUP_THRESHOLD
from search.descriptor import DUPLICATE_Z
from search.query.engine import SearchEngine
from search.query.errors import QueryError
from search.query.results import ImageQuery, SearchHit, cut
from search.query.video import is_video_query

EXACT, NEAR, SIMILAR = "exact", "near", "similar"


@dataclass(frozen=True)
class LookupMatch:
    """A library image and why it matches the query: ``match`` is exact, near or similar.
    ``hit.duplicate`` is the lookup's decision for the row (True for exact and near)."""

    hit: SearchHit
    match: str
    evidence: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.hit.to_dict(), "match": self.match, "evidence": self.evidence}


@dataclass(frozen=True)
class LookupResult:
    """``threshold``: the copy score from which a match is near (the calibrated one unless
    one was given); ``z_threshold``: the calibrated decision it stands for (None: explicit)."""

    threshold: float
    query: dict[str, Any]
    matches: list[LookupMatch] = field(default_factory=list)
    z_threshold: float | None = None
    file_missing: bool = False  # the query's file is gone: answered from its stored vectors
    file_changed: bool = False  # ... or holds other bytes than were indexed: the same
    file_unreadable: bool = False  # ... or cannot be read (permission denied): the same
    model_unavailable: bool = False  # the library's model cannot load: the same

    @property
    def file_state(self) -> str | None:
        """Why the answer came from the query image's stored vectors: its file ``"gone"``,
        ``"changed"`` or ``"unreadable"``; None when it was read (or the query an upload)."""
        states = ("gone", "changed", "unreadable")
        flags = (self.file_missing, self.file_changed, self.file_unreadable)
        return next((state for state, flag in zip(states, flags, strict=True) if flag), None)

    def of_kind(self, match: str) -> list[LookupMatch]:
        return [m for m in self.matches if m.match == match]

    @property
    def of_video(self) -> bool:
        """A video's lookup: copies are decided by their frames matched in order (the
        dedup rule), not by one copy score, so a video below can score above the threshold."""
        return self.query.get("media") == "video"

    @property
    def not_copies(self) -> str:
        """Why a video's other matches are no copies (the heading of the CLI and the web
        page): with a threshold, their frames may match in order under it (the evidence
        says so)."""
        if self.z_threshold is not None:
            return "their frames do not match in order"
        return f"their frames do not match in order at copy score >= {self.threshold:g}"

    def to_dict(self) -> dict[str, Any]:
        out = {
            "threshold": self.threshold,
            "z_threshold": self.z_threshold,
            "query": self.query,
            "counts": {kind: len(self.of_kind(kind)) for kind in (EXACT, NEAR, SIMILAR)},
            "results": [m.to_dict() for m in self.matches],
        }
        if self.file_missing:
            out["file_missing"] = True
        if self.file_changed:
            out["file_changed"] = True
        if self.file_unreadable:
            out["file_unreadable"] = True
        if self.model_unavailable:
            out["model_unavailable"] = True
        return out


def default_threshold(engine: SearchEngine) -> float:
    """The copy score from which two images are duplicates: the configured one
    (``IMGSEARCH_DEDUP_THRESHOLD``), else the library's calibrated decision."""
    configured = engine.settings.dedup_threshold
    if configured is not None:
        return float(configured)
    calibration = engine.library.descriptor().calibration
    if calibration is None:
        return DEFAULT_DEDUP_THRESHOLD
    return round(min(0.999, calibration.duplicate_threshold()), 4)


def lookup(
    engine: SearchEngine,
    source: ImageQuery,
    *,
    threshold: float | None = None,
    k: int = 50,
    others: int = 5,
    name: str | None = None,
    exclude: int | None = None,
) -> LookupResult:
    """Find ``source`` in the library: exact copies, near-duplicates, then ``others`` more
    (``name``: uploaded bytes' file name, as :meth:`SearchEngine.search_image`'s), the
    library image ``exclude`` left out (the query's own row when it is one)."""
    asked = threshold  # None: the calibrated decision, which lookup_video makes itself
    threshold, calibrated = _decision(engine, threshold, others)
    if is_video_query(source, name):
        from search.query.video_lookup import lookup_video

        return lookup_video(engine, source, threshold=asked, others=others, exclude=exclude)
    pool = _pool(k, others) + (exclude is not None)
    result = engine.query_image(source, k=pool, thorough=True)
    query = _query_facts(result.sha256, result.analysis)
    matches = _matches(engine, result.hits, result.sha256, threshold, calibrated, others, exclude)
    return LookupResult(threshold, query, matches, DUPLICATE_Z if calibrated else None)


def lookup_image(
    engine: SearchEngine,
    image_id: int,
    *,
    threshold: float | None = None,
    k: int = 50,
    others: int = 5,
) -> LookupResult:
    """Where else is library image ``image_id``: with its file, :func:`lookup` of that file;
    its file gone, changed or unreadable, or the library's model unable to load, from its
    stored vectors as ``similar`` answers (``file_missing``, ``file_changed``,
    ``file_unreadable`` or ``model_unavailable`` set). The image itself is
    never listed: "1 exact copy" of an image without copies was the image. Raises
    :class:`ImageNotFoundError` for an unknown id."""
    found = engine.records.image_file(image_id)
    info = engine.records.get_image(image_id) if found is not None else None
    if found is None or info is None or info.status != "ok":  # as `similar ID` says
        raise engine.records.without_vector(image_id)
    state = engine.records.file_state(image_id)  # "gone", "changed", "unreadable" or None
    if state is None and engine.guard.model_loads():
        return lookup(engine, found.path, threshold=threshold, k=k, others=others, exclude=image_id)
    asked = threshold
    threshold, calibrated = _decision(engine, threshold, others)
    flags = {
        "file_missing": state == "gone",
        "file_changed": state == "changed",
        "file_unreadable": state == "unreadable",
        "model_unavailable": state is None,
    }
    if info.media == "video":  # its stored frames are the query
        from search.query.clip_match import SameFile
        from search.query.video_lookup import lookup_video

        clip = SameFile.stored(info.sha256, info.file_size, info.path)
        result = lookup_video(engine, clip, threshold=asked, others=others, exclude=image_id)
        return replace(result, **flags)
    hits = engine.similar(image_id, k=_pool(k, others))  # its stored rows
    query = _query_facts(info.sha256, info)
    matches = _matches(engine, hits, info.sha256, threshold, calibrated, others, image_id)
    z_threshold = DUPLICATE_Z if calibrated else None
    return LookupResult(threshold, query, matches, z_threshold, **flags)


def _query_facts(sha: str | None, image: Any) -> dict[str, Any]:
    """A lookup's ``query``: the sha256 and size and format of an analysed upload or a stored
    image (both have ``width``, ``height``, ``format``)."""
    return {"sha256": sha, "width": image.width, "height": image.height, "format": image.format}


def _pool(k: int, others: int) -> int:
    """How many nearest images a lookup reads: ``k``, and room for ``others`` after as many
    copies (`lookup --others 100` listed 47 of a library's 60 other photos: k was 50)."""
    return max(k, others + 50)


def _decision(engine: SearchEngine, threshold: float | None, others: int) -> tuple[float, bool]:
    """The copy score a lookup decides with, and whether it is the calibrated decision."""
    calibrated = (
        threshold is None
        and engine.settings.dedup_threshold is None
        and engine.library.descriptor().calibration is not None
    )
    threshold = default_threshold(engine) if threshold is None else float(threshold)
    if not 0.0 < threshold <= 1.0:
        raise QueryError(f"threshold must be in (0, 1], got {threshold}")
    if others < 0:
        raise QueryError(f"others must be >= 0, got {others}")
    return threshold, calibrated


def _matches(
    engine: SearchEngine,
    hits: list[SearchHit],
    sha: str | None,
    threshold: float,
    calibrated: bool,
    others: int,
    exclude: int | None = None,
) -> list[LookupMatch]:
    """A lookup's rows from a search's ``hits``: exact copies (same bytes as ``sha``
    anywhere in the library, same pixels), near-duplicates, then ``others`` more, ranked;
    the library image ``exclude`` (the query's own row) never among them."""
    hits = [hit for hit in hits if hit.id != exclude]
    calibration = engine.library.descriptor().calibration
    matches: list[LookupMatch] = []
    seen: set[int] = set()
    # Same bytes anywhere in the library, even beyond the k nearest.
    if sha is not None:
        by_id = {hit.id: hit for hit in hits}
        same_bytes = [i for i in engine.store.ids_by_sha256(sha) if i != exclude]
        z_same = None if calibration is None else round(float(calibration.duplicate_z(1.0)), 2)
        missing = [
            replace(hit, copy_score=1.0, z=z_same, duplicate=True)
            for hit in engine.hits_for([i for i in same_bytes if i not in by_id], 1.0, exact=True)
        ]
        by_id.update({hit.id: hit for hit in missing})
        for image_id in same_bytes:
            if image_id in by_id:
                hit = replace(by_id[image_id], exact=True)
                matches.append(LookupMatch(hit, EXACT, "same bytes (sha256)"))
                seen.add(image_id)
    nearby = [hit for hit in hits if hit.id not in seen]
    for hit in nearby:  # the search's own check (search.query.pixels), as for every search
        if hit.exact:
            matches.append(LookupMatch(hit, EXACT, "same pixels, other encoding"))
            seen.add(hit.id)
    near_matches, similar = [], []
    for hit in nearby:
        if hit.id in seen:
            continue
        near, evidence = _evidence(hit, threshold, calibrated)
        # One decision per row: the one in force (calibrated, or the given threshold).
        hit = replace(hit, duplicate=near)
        if near:
            near_matches.append(LookupMatch(hit, NEAR, evidence))
        elif len(similar) < others:
            similar.append(LookupMatch(hit, SIMILAR, evidence))
    # exact, then near, then the others: each kind in the order of the search
    matches = [replace(m, hit=replace(m.hit, duplicate=True)) for m in matches]
    matches += near_matches + similar
    return [replace(m, hit=replace(m.hit, rank=rank)) for rank, m in enumerate(matches, start=1)]


def _evidence(hit: SearchHit, threshold: float, calibrated: bool) -> tuple[bool, str]:
    """Is ``hit`` a near-duplicate, and why (copy score, calibrated z, threshold)."""
    copy = hit.copy_score if hit.copy_score is not None else hit.score
    if calibrated and hit.z is not None:
        sign = ">=" if hit.duplicate else "<"
        return hit.duplicate, (
            f"copy score {cut(copy, 3)}: {cut(hit.z, 1)} sd above the "
            f"library's background {sign} {DUPLICATE_Z:g}"
            + (f": {hit.lookalike_note}" if hit.lookalike else "")
            + (f", {note}" if (note := hit.confirmation_note) else "")
        )
    near = copy >= threshold
    limit = f"{threshold:.4f}".rstrip("0").ljust(4, "0")  # 0.9 -> 0.90, 0.925
    note = hit.confirmation_note if near else None
    if hit.lookalike:  # the calibrated decision's "no", said under any threshold
        note = hit.lookalike_note
    return near, (
        f"copy score {cut(copy, 3)} {'>=' if near else '<'} threshold {limit}"
        + (f", {note}" if note else "")
    )
