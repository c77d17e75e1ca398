"""What the API and the HTML views share: running queries through the engine, JSON shapes.

Neither SQL nor ONNX runs here: everything goes through ``search.query.engine`` (and
``search.query.reverse_lookup`` on top of it). Files are reached only through
``engine.records.image_file(id)``, the path the database holds for that id.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app

from models.errors import ImgsearchError
from search.dedup import DEFAULT_DEDUP_THRESHOLD
from search.descriptor import DUPLICATE_Z
from search.library import DEFAULT_SIZE, ThumbnailCache
from search.query import (
    API_NAMES,
    UNREADABLE_FIX,
    UPDATE_CHANGED,
    ImageFile,
    ImageInfo,
    LookupResult,
    SearchEngine,
    SearchHit,
    default_threshold,
    disk_change,
    empty_clip_note,
    file_flags,
    file_state_of,
    file_trouble,
    lookup,
    lookup_image,
    update_hint,
)
from web.errors import ApiError
from web.guard import public_item
from web.media_urls import image_urls
from web.params import LookupQuery, Query
from web.state import EngineHolder


def holder() -> EngineHolder:
    return current_app.extensions["imgsearch"]


def engine() -> SearchEngine:
    """The shared engine, refreshed at most once a second (raises while no library exists)."""
    return holder().get()


def thumbnails() -> ThumbnailCache:
    return current_app.extensions["imgsearch.thumbnails"]


def run_search(query: Query) -> tuple[list[SearchHit], float]:
    """Search by the uploaded image or by a library image (optionally a region of it)."""
    eng = engine()
    started = time.perf_counter()
    source = query.data if query.data is not None else library_file(eng, query.image_id).path
    hits = eng.search_image(
        source,
        roi=query.roi,
        k=query.k,
        min_score=query.min_score,
        flags=query.flags,
        name=query.filename if query.data is not None else None,
    )
    return list(hits), (time.perf_counter() - started) * 1000.0


def stored_search(query: Query) -> tuple[list[SearchHit], float, str] | None:
    """A search by a library image whose file is gone or changed since it was indexed,
    answered as ``imgsearch similar`` and the image page do: from its stored vectors (the image
    itself not listed), with the file's state (``"gone"``, ``"changed"``). None when the file
    is as indexed or the query is an upload; a region of it needs the file (404 / 409)."""
    eng = engine()
    if query.data is not None or query.image_id is None:
        return None
    require_indexed(eng, query.image_id)
    state = eng.records.file_state(query.image_id)
    if state is None and (query.roi is not None or eng.guard.model_loads()):
        return None
    state = state or MODEL_UNAVAILABLE  # as `similar ID` answers then: its stored vectors
    found = eng.records.image_file(query.image_id) if query.roi is not None else None
    if found is not None and file_trouble(found.path) is not None:  # there, but no photo
        library_file(eng, query.image_id)  # a FIFO in its place: 404 saying so
        readable(found.path, query.image_id)  # permission denied: 403
    if query.roi is not None and state == "gone":
        raise ApiError(
            404,
            f"The file of image {query.image_id} is no longer on disk, and a region of it needs "
            "the file (search without 'roi' to answer from its stored vectors); re-run the "
            "index.",
            "file_missing",
        )
    if query.roi is not None:  # a region of other pixels than were indexed: never
        raise ApiError(
            409,
            f"The file of image {query.image_id} changed on disk since it was indexed, and a "
            "region needs the file as indexed (search without 'roi' to answer from its "
            f"stored vectors); {UPDATE_CHANGED}.",
            "file_changed",
        )
    started = time.perf_counter()
    hits = eng.similar(query.image_id, k=query.k, min_score=query.min_score, flags=query.flags)
    return list(hits), (time.perf_counter() - started) * 1000.0, state


MODEL_UNAVAILABLE = "model_unavailable"  # stored_search's state when the model cannot load


def run_lookup(query: LookupQuery) -> tuple[LookupResult, float]:
    """Reverse lookup of the uploaded image or of a library image (whole images)."""
    eng = engine()
    started = time.perf_counter()
    if query.image_id is not None:  # its file, or its stored vectors when the file is gone
        require_indexed(eng, query.image_id)
        result = lookup_image(eng, query.image_id, threshold=query.threshold, others=query.others)
    else:
        result = lookup(
            eng, query.data, threshold=query.threshold, others=query.others, name=query.filename
        )
    return result, (time.perf_counter() - started) * 1000.0


@dataclass(frozen=True)
class Decision:
    """How a lookup without a threshold decides near-duplicates: ``threshold`` is the copy
    score it corresponds to in this library; ``calibrated`` when it is the library's
    calibrated decision (``z >= z_threshold``), not a configured threshold."""

    threshold: float
    calibrated: bool
    z_threshold: float | None


def default_decision() -> Decision:
    """The decision lookups use without a threshold (for the form). Without a usable library
    (none yet, model missing...) the configured threshold or the plain default stands in."""
    try:
        eng = engine()
        configured, threshold = eng.settings.dedup_threshold, default_threshold(eng)
    except ImgsearchError:
        configured = current_app.extensions["imgsearch.settings"].dedup_threshold
        threshold = DEFAULT_DEDUP_THRESHOLD if configured is None else float(configured)
    calibrated = configured is None
    return Decision(threshold, calibrated, DUPLICATE_Z if calibrated else None)


def check_serving(eng: SearchEngine) -> None:
    """Refuse (``ReindexingError``: 503 ``reindexing``) while a re-index is unfinished: the
    pages' notice says so, where the vectors dropped so far read as an empty library."""
    eng.guard.check_serving()


def require_indexed(eng: SearchEngine, image_id: int, lacks: str = "cannot be a query") -> None:
    """409 ``not_indexed`` for the id of a file that failed to index: it has no vector (a
    search or lookup by it read the file and said 415 "Not a readable image", as of an
    upload; the search page's ``?from=ID`` says this), nor a picture; ``lacks``: what that
    means for the request (its thumbnail's: "has no thumbnail")."""
    info = eng.records.get_image(image_id)
    if info is not None and info.status != "ok":
        raise ApiError(
            409,
            f"Library image #{image_id} {lacks}: its file could not be read when it "
            "was indexed. Replace or repair it, then run `imgsearch index` (it was: "
            f"{info.error or info.status}).",
            "not_indexed",
        )


def library_file(eng: SearchEngine, image_id: int | None) -> ImageFile:
    """A library image's file, sha256 and format, the path from the database (404 when the
    id is unknown or the file is gone). One column query: no labels, no vector."""
    found = eng.records.image_file(image_id) if image_id is not None else None
    if found is None:
        raise ApiError(404, f"No image with id {image_id}.")
    if disk_change(found.path) == "gone":
        readable(found.path, image_id)  # there, but cannot be reached: 403 saying why
        trouble = file_trouble(found.path)  # a FIFO in its place: put back, or index drops it
        if trouble is not None:
            raise ApiError(
                404,
                f"The file of image {image_id} {trouble.words}; put the photo back, or re-run "
                "the index (it drops the entry).",
                "file_missing",
            )
        raise ApiError(
            404,
            f"The file of image {image_id} is no longer on disk; re-run the index.",
            "file_missing",
        )
    return found


def readable(path: Path, image_id: int | None) -> None:
    """403 ``file_unreadable`` when the file at ``path`` is there but cannot be read by this
    server (permission denied on it or on a folder of its path): the index keeps such a file
    as it is, so re-running it does not help; its permissions do."""
    trouble = file_trouble(path)
    if trouble is not None and trouble.state == "unreadable":
        raise ApiError(
            403,
            f"The file of image {image_id} {trouble.words}; {UNREADABLE_FIX}.",
            "file_unreadable",
        )


def is_clip(query: Query) -> bool:
    """Is the uploaded query a video or an animated image (searched among the library's
    videos only)? Its first bytes and headers only."""
    from models import is_video_data

    return query.data is not None and is_video_data(query.data, query.filename)


def only_itself(hits: list[SearchHit], query: Query) -> bool:
    """Did a search find nothing but the library image it was made with (none at all for an
    upload)? A library video's own search lists itself, exact: its note was never said."""
    return all(hit.id == query.image_id for hit in hits)


def clip_note(query: Query) -> str | None:
    """Why a video query (an upload, or a library video's id) found nothing (else): the
    library holds no other video, or the filter emptied it, as the CLI says
    (:func:`empty_clip_note`, the API's names). None for a photo query, or when neither
    explains it."""
    eng, own = engine(), query.image_id
    info = eng.records.get_image(own) if own is not None else None
    if (info is None or info.media != "video") and not is_clip(query):
        return None
    name = "the uploaded file" if own is None else f"image {own}"
    note = empty_clip_note(
        eng.videos.count(own),
        query.min_score,
        query.flags,
        query=name,
        names=API_NAMES,
        what="results" if own is None else "other results",
        other=own is not None,
    )
    return None if note is None else note[0].upper() + note[1:] + "."


def hit_json(hit: SearchHit) -> dict[str, Any]:
    """A result's JSON, with ``file_missing`` / ``file_changed`` when its file is gone or of
    another size now (one stat), as its card shows."""
    out = public_item(hit.to_dict() | file_flags(hit.path, hit.size))
    out["score"] = round(float(out["score"]), 6)
    out.update(image_urls(hit.id, hit.sha256))
    return out


def lookup_json(result: LookupResult, query: LookupQuery, took_ms: float) -> dict[str, Any]:
    """The lookup's JSON (``LookupResult.to_dict()``) with the request, timing and URLs."""
    out = result.to_dict()
    out["query"] = {
        "image_id": query.image_id,
        "filename": query.filename,
        "others": query.others,
        **out["query"],
    }
    out["took_ms"] = round(took_ms, 2)
    for item, match in zip(out["results"], result.matches, strict=True):
        item["score"] = round(float(item["score"]), 6)
        urls = image_urls(item["id"], match.hit.sha256)
        item.update(urls | file_flags(item["path"], item.get("size")))
        public_item(item)
    return out


def image_json(info: ImageInfo) -> dict[str, Any]:
    """An image's JSON, with ``file_missing`` / ``file_changed`` as its card in a list has
    them (one stat; the detail lacked them)."""
    out = public_item(info.to_dict() | file_flags(info.path, info.file_size))
    out.update(image_urls(info.id, info.sha256))
    return out


def video_frame_jpeg(
    image_id: int, at_ms: int, size: int = DEFAULT_SIZE
) -> tuple[bytes, str | None]:
    """A library video's frame at ``at_ms`` as a JPEG (404 when the id is no video), and the
    sha256 of the video that was indexed (the version of its URLs)."""
    from models import ImgsearchError, is_video_file
    from search.library import video_still_jpeg

    found = library_file(engine(), image_id)
    if not is_video_file(found.path):
        raise ApiError(404, f"Image {image_id} is not a video.")
    unchanged(found, image_id)  # another video's frame under this one's details: never
    try:
        return video_still_jpeg(found.path, at_ms, size), found.sha256
    except ImgsearchError as error:
        # its message, not the error itself: that names the file's absolute path
        raise ApiError(
            404, f"No frame of video {image_id} at {at_ms} ms: {error.message}"
        ) from None


def unchanged(found: ImageFile, image_id: int) -> None:
    """409 ``file_changed`` when the file holds other bytes than were indexed
    (:func:`search.query.file_state_of`): its picture would show the new file's content
    under the old file's details."""
    state = file_state_of(found)
    if state == "unreadable":
        readable(found.path, image_id)
    if state == "changed":
        raise ApiError(
            409,
            f"The file of image {image_id} changed on disk since it was indexed; "
            f"{update_hint(found)}.",
            "file_changed",
        )


def thumbnail_path(image_id: int, size: int = DEFAULT_SIZE) -> tuple[Path, str | None]:
    """The cached (made on demand) EXIF-oriented JPEG thumbnail of a library image, and the
    sha256 of the content it shows (that was indexed: the version of its URLs)."""
    from models import ImageError, UnreadableImageError

    eng = engine()
    found = library_file(eng, image_id)
    cache = thumbnails()
    made = cache.cached(image_id, found.path, size=size, sha256=found.sha256)
    if made is not None:  # the picture that was indexed, whatever the file holds now
        return made, found.sha256
    unchanged(found, image_id)  # (an audit: "EXACT COPY" of an ant)
    try:
        return cache.get(image_id, found.path, size=size, sha256=found.sha256), found.sha256
    except ImageError as error:  # 415 "Not a readable image", as if the request sent one
        require_indexed(eng, image_id, "has no thumbnail")  # a failed file has no picture
        if isinstance(error, UnreadableImageError) or file_state_of(found) is None:
            raise
        raise ApiError(
            409,
            f"The file of image {image_id} changed on disk since it was indexed and is no "
            f"longer a readable image ({error.message}); {update_hint(found)}.",
            "file_changed",
        ) from None
