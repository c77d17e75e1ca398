"""Whole-library duplicate reports (``imgsearch dedup``): every indexed
image paired with its neighbours in the library's descriptor space
(:func:`search.dedup.groups.find_duplicates`), borderline pairs confirmed by key points with
``verify`` (:mod:`search.dedup.verify`, reading files by the engine's rules, their key points
kept on disk as a query's candidates' are).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from models import ImgsearchError
from search.dedup import (
    CollageKeepers,
    CropKeepers,
    DedupImage,
    DedupResult,
    MultiRowNeighbours,
    PaddedKeepers,
    UpscaledKeepers,
    attach_free,
    find_duplicates,
    keep_present,
    leave_out_changed,
    leave_out_moved,
    one_entry_per_file,
)
from search.descriptor import is_small
from search.library import StoredFrames, primary_vectors, searched_dimension
from search.query.candidate_files import paired_key_points
from search.query.dedup_refuter import DedupRefuter, file_readers
from search.query.engine import SearchEngine
from search.query.library_crops import CROPS_NOMINATED
from search.query.pixels import PIXEL_CHECK_MIN_SCORE
from search.query.records import disk_change, file_sha256
from search.query.reverse_lookup import default_threshold

log = logging.getLogger(__name__)


def library_images(
    engine: SearchEngine, frames: StoredFrames | None = None
) -> tuple[list[DedupImage], np.ndarray]:
    """Every indexed image of the library with its searched vector (the library's descriptor
    space: whitened, the framed photo for screenshots), in id order."""
    images: list[DedupImage] = []
    rows = engine.store.reads.dedup_rows()
    descriptor = engine.library.descriptor()
    frames = frames or StoredFrames.read(engine.store, descriptor)
    chunks_ids, chunks_vectors = [], []
    for ids, vectors in engine.store.iter_vectors():
        keep = np.fromiter((int(i) in rows for i in ids), dtype=bool, count=len(ids))
        searched = primary_vectors(descriptor, vectors[keep], frames.dominant, ids[keep])
        chunks_ids.append(ids[keep])
        chunks_vectors.append(searched.astype(np.float16))  # half the memory at 1 M
    ids = np.concatenate(chunks_ids) if chunks_ids else np.zeros(0, np.int64)
    stamp = engine.store.model_stamp()
    width = searched_dimension(descriptor, stamp.dimension if stamp else 0)
    vectors = np.concatenate(chunks_vectors) if chunks_vectors else np.zeros((0, width), np.float16)
    for image_id in ids:
        row = rows[int(image_id)]
        images.append(
            DedupImage(
                id=row[0],
                path=f"{row[1].rstrip('/')}/{row[2]}",
                file_size=row[3],
                width=row[4] or 0,
                height=row[5] or 0,
                sha256=row[6],
                exif_datetime=row[7],
                mtime=row[8] / 1e9 if row[8] else None,
                format=row[9],
                frame=(row[10], row[11]) if row[10] is not None else None,
            )
        )
    return images, vectors


def library_duplicates(
    engine: SearchEngine,
    *,
    threshold: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    verify: bool = False,
    **options: Any,
) -> DedupResult:
    """Exact and near-duplicate groups over the whole library; a group whose keeper's file
    is gone since indexing is kept by its best file still there, and files changed since
    indexing are left out (:func:`search.dedup.leave_out_changed`).

    Pairs are scored like searches: the best cosine between the two images' rows (whole image,
    framed photo) in the library's descriptor space; ``threshold`` defaults to the calibrated
    copy decision (:func:`default_threshold`). Pairs over it that the vectors do not make sure
    are grouped only when layouts or key points do not refute them
    (:mod:`search.query.dedup_refuter`: what a search asks its hits). ``verify``: borderline
    pairs are confirmed with local features, every pair over the threshold that they and the
    layouts refute is not grouped (:mod:`search.dedup.verify`), and a keeper that is a collage of a
    member's picture gives way to it (:mod:`search.dedup.collages`). Files are read only
    where a keeper's aspect ratio differs from a member's: a keeper that is the member's
    picture with bars or padding around it gives way to it (:mod:`search.dedup.padded`), and
    where a member scores under :data:`search.dedup.cropped.SCORE` with its keeper, a keeper
    that is a crop of its picture gives way to it (:mod:`search.dedup.cropped`); and where a
    member of the keeper's size scores :data:`PIXEL_CHECK_MIN_SCORE` or more, both are
    decoded to tell the same pixels (:func:`same_pixels`).
    """
    frames = StoredFrames.read(engine.store, engine.library.descriptor())
    images, vectors = library_images(engine, frames)
    threshold = default_threshold(engine) if threshold is None else float(threshold)
    verifier = padded = collages = crops = refuter = None
    if options.get("near", True) and "neighbours" not in options and len(images):
        ids = np.fromiter((im.id for im in images), dtype=np.int64, count=len(images))
        extra_ids, extra = frames.extra_rows(engine.library.descriptor(), keep=ids)
        options["neighbours"] = MultiRowNeighbours(
            vectors, ids, extra.astype(np.float16), extra_ids
        )
        small = frozenset(im.id for im in images if is_small(im.width, im.height))
        if verify:
            verifier = _verifier(engine, options["neighbours"], threshold, small, (ids, vectors))
            options["neighbours"] = verifier
            options["holds"] = verifier.holds
        elif "holds" not in options:  # a search's witness: pairs not sure by their vectors
            refuter = DedupRefuter(engine, threshold, small, (ids, vectors))
            options["holds"], options["edges_found"] = refuter.holds, refuter.prepare
        collages = CollageKeepers(verifier.picture, verifier.key_points_of) if verifier else None
        reader, stored = _picture_reader(engine), _key_point_reader(engine)
        padded, crops = PaddedKeepers(reader, stored), CropKeepers(reader, stored)
        upscaled = UpscaledKeepers(engine.settings.max_image_pixels)
        options["collage"] = _either(collages, padded, crops, upscaled)
    result = find_duplicates(images, vectors, threshold=threshold, progress=progress, **options)
    if padded is not None:
        result.stats.pop("collage_keepers", None)  # find_duplicates counted both kinds
        if collages is not None:
            result.stats["collage_keepers"] = len(collages.marked)
        result.stats["padded_keepers"] = len(padded.marked)
        cropped = sum(image.crop for image in crops.marked.values())
        result.stats["crop_keepers"] = cropped
        result.stats["pasted_keepers"] = len(crops.marked) - cropped
        result.stats["upscaled_keepers"] = len(upscaled.marked)
    if refuter is not None:
        result.stats["verify_refuted"] = refuter.refuted
    if verifier is not None:
        grouped = {image.id for group in result.groups for image in group.images}
        by_id = {image.id: image for image in images}
        result = attach_free(verifier.restore(result), verifier.attachable(grouped), by_id)
        result.stats.update(verifier.stats())
    result = leave_out_moved(keep_present(leave_out_changed(result, changed_since_index)))
    return same_pixels(engine, one_entry_per_file(result))


def same_pixels(engine: SearchEngine, result: DedupResult) -> DedupResult:
    """``result`` with each member holding its keeper's very pixels in another encoding (a
    PNG re-save of a JPEG, its EXIF stripped) marked ``exact``, as ``search`` and ``lookup``
    call it: the same size and a score of :data:`PIXEL_CHECK_MIN_SCORE` at least, then both
    files decoded whole and hashed (:class:`search.query.pixels.PixelDigests`); stats
    ``same_pixels`` counts them."""
    groups, found = [], 0
    limit = engine.settings.max_image_pixels

    def digest(image: DedupImage) -> str | None:
        try:
            return engine.pixel_digests.digest(Path(image.path), limit)
        except (ImgsearchError, OSError):
            return None

    for group in result.groups:
        keeper, members = group.keeper, list(group.members)
        mine: list[str | None] = []  # the keeper's digest, made when first needed
        for n, member in enumerate(members):
            image = member.image
            if member.exact or member.score < PIXEL_CHECK_MIN_SCORE:
                continue
            if (image.width, image.height) != (keeper.width, keeper.height):
                continue
            if not mine:
                mine.append(digest(keeper))
            if mine[0] is not None and mine[0] == digest(image):
                members[n], found = replace(member, exact=True), found + 1
        groups.append(replace(group, members=tuple(members)))
    if not found:
        return result
    return replace(result, groups=tuple(groups), stats={**result.stats, "same_pixels": found})


def changed_since_index(image: DedupImage) -> bool:
    """Whether ``image``'s file holds other bytes than it was indexed with: another size, or
    another mtime and another sha256 (a file touched, or copied without its times, keeps its
    bytes: read to tell; a report left out 41 such photos "holding other bytes now")."""
    if disk_change(image.path, image.file_size, image.mtime) != "changed":
        return False
    try:
        st = os.stat(image.path)
    except OSError:
        return True
    if image.sha256 is None or st.st_size != image.file_size:
        return True
    return not _same_bytes(image.path, image.sha256, st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=4096)
def _same_bytes(path: str, sha256: str, _size: int, _mtime_ns: int) -> bool:
    """Whether the file at ``path`` (of that size and mtime now) has ``sha256`` (read in
    chunks; kept for a report's two asks, its groups and its warnings, and until the file
    changes)."""
    try:
        return file_sha256(path) == sha256
    except (OSError, ImgsearchError):
        return False


def _picture_reader(engine: SearchEngine) -> Callable[[int], Any]:
    """``image id -> its file decoded upright at the key points' draft`` (None: gone, changed
    or unreadable), as ``dedup --verify`` reads files."""
    from models import load_image
    from search.descriptor import KEY_POINT_DRAFT

    def picture(image_id: int) -> Any:
        found = engine.records.image_file(image_id)
        if found is None or not found.path.is_file():
            return None
        try:
            return load_image(found.path, draft_size=KEY_POINT_DRAFT).image
        except (ImgsearchError, OSError) as error:
            log.info("dedup: image %s not read: %s", image_id, error)
            return None

    return picture


def _key_point_reader(engine: SearchEngine) -> Callable[[int], Any]:
    """``image id -> its key points`` as a query's candidates' are read, kept on disk (made
    once a library; None: its file is gone, changed or unreadable)."""

    def key_points(image_id: int) -> Any:
        try:
            return engine.local.files.read(image_id, paired_key_points)[0]
        except (ImgsearchError, OSError) as error:
            log.info("dedup: no key points of image %s: %s", image_id, error)
            return None

    return key_points


def _either(*checks: Any) -> Callable[..., DedupImage | None]:
    """The first of ``checks`` (None: left out) that marks a keeper, in turn."""
    kept = [check for check in checks if check is not None]

    def marked(
        keeper: DedupImage, members: Sequence[DedupImage], scores: Mapping[int, float]
    ) -> DedupImage | None:
        for check in kept:
            if (found := check(keeper, members, scores)) is not None:
                return found
        return None

    return marked


def _verifier(
    engine: SearchEngine,
    inner: Any,
    threshold: float,
    small: frozenset[int],
    searched: tuple[np.ndarray, np.ndarray],
) -> Any:
    from search.dedup import VERIFY_Z, VerifiedNeighbours
    from search.descriptor import GREY_BAND_Z, opencv

    opencv()  # a clear VerifyUnavailableError now rather than after the graph
    calibration = engine.library.descriptor().calibration
    low = min(
        calibration.duplicate_threshold(VERIFY_Z) if calibration else threshold * 0.7, threshold
    )
    # pairs of a query's band under that only attach what no group took (search.dedup.confirmed)
    attach_low = min(calibration.duplicate_threshold(GREY_BAND_Z), low) if calibration else None

    path_of, key_points = file_readers(engine)  # key points kept on disk, as a query's
    return VerifiedNeighbours(
        inner,
        path_of,
        low,
        threshold,
        calibration=calibration,
        small=small,
        layouts=engine.records.layouts,
        key_points=key_points,
        attach_low=attach_low,
        **_by_crops(engine, *searched),
    )


def _by_crops(engine: SearchEngine, ids: np.ndarray, vectors: np.ndarray) -> dict[str, Any]:
    """``crops`` and ``pair_score`` for :class:`search.dedup.VerifiedNeighbours` where the
    descriptor has ``crops`` on: an image's best matches among the other images' stored crops
    (:mod:`search.query.library_crops`; its own crops left out), a pair scored by the cosine of
    the two images' searched vectors."""
    live = engine.library.searchable()
    if not live.descriptor.config.crops:
        return {}
    index = engine.local.library.crops.index(live.descriptor, (live.generation, live.model))
    if index is None:
        return {}
    row_of = {int(i): n for n, i in enumerate(ids.tolist())}

    def vector(image_id: int) -> np.ndarray:
        return vectors[row_of[image_id]].astype(np.float32)

    def crops(image_id: int) -> list[int]:
        if image_id not in row_of:
            return []
        found = index.nominees(vector(image_id), CROPS_NOMINATED + 1)
        return [i for i in found if i != image_id and i in row_of][:CROPS_NOMINATED]

    return {"crops": crops, "pair_score": lambda a, b: float(vector(a) @ vector(b))}
