"""The quality flags of images (``store.quality``): which images still need measuring, their
measures written back, flag counts and pages of images filtered by flags.

Flags are a bit-set (:data:`models.quality.FLAGS`) in ``images.quality_flags``; NULL means
"not measured" (indexed before revision 0005q, or a video). The grey-level layout
(``images.layout``, revision 0006l) is read in the same pass, so an image "still needs
measuring" when either is missing. A filter keeps images that have
at least one of the ``include`` flags and none of the ``exclude`` flags; an unmeasured image
passes an exclude-only filter (nothing is known against it) and no include filter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select, update

from models.quality import FLAGS
from search.store.records import MEASURE_COLUMNS, SessionFactory
from search.store.schema import STATUS_OK, Collection, Image


@dataclass(frozen=True)
class UnmeasuredImage:
    """An indexed image without quality flags or layout: where its file is and what it was."""

    id: int
    root: str
    rel_path: str
    file_size: int
    mtime_ns: int


def flag_condition(include: int = 0, exclude: int = 0) -> Any:
    """The SQL condition of a flag filter (bits of FLAGS); None when it filters nothing."""
    parts = []
    if include:
        parts.append(Image.quality_flags.op("&")(int(include)) != 0)
    if exclude:
        parts.append(
            (Image.quality_flags.is_(None)) | (Image.quality_flags.op("&")(int(exclude)) == 0)
        )
    return and_(*parts) if parts else None


class QualityRecords:
    """Quality flags and measures of images."""

    def __init__(self, session: SessionFactory) -> None:
        self._session = session

    def unmeasured(self, after_id: int = 0, limit: int = 256) -> list[UnmeasuredImage]:
        """Indexed still images without flags, by id after ``after_id`` (pages)."""
        query = (
            select(Image.id, Collection.root, Image.rel_path, Image.file_size, Image.mtime_ns)
            .join(Collection, Collection.id == Image.collection_id)
            .where(
                Image.status == STATUS_OK,
                Image.duration_ms.is_(None),
                Image.quality_flags.is_(None) | Image.layout.is_(None),
                Image.id > int(after_id),
            )
            .order_by(Image.id)
            .limit(int(limit))
        )
        with self._session() as session:
            return [UnmeasuredImage(*row) for row in session.execute(query)]

    def unmeasured_count(self) -> int:
        """How many indexed still images have no flags or no layout yet."""
        query = select(func.count()).where(
            Image.status == STATUS_OK,
            Image.duration_ms.is_(None),
            Image.quality_flags.is_(None) | Image.layout.is_(None),
        )
        with self._session() as session:
            return int(session.scalar(query) or 0)

    def set_measures(self, rows: Sequence[tuple[int, int, int, Sequence[float], bytes]]) -> int:
        """Write ``(image id, file mtime_ns, flags, measures, layout)`` in one transaction; a
        row whose file changed since (another mtime) is left alone. Returns how many were
        written."""
        written = 0
        with self._session() as session:
            for image_id, mtime_ns, flags, values, layout in rows:
                done = session.execute(
                    update(Image)
                    .where(Image.id == int(image_id), Image.mtime_ns == int(mtime_ns))
                    .values(
                        quality_flags=int(flags),
                        layout=bytes(layout),
                        **{name: float(v) for name, v in zip(MEASURE_COLUMNS, values, strict=True)},
                    )
                )
                written += int(done.rowcount or 0)
        return written

    def flag_counts(self) -> dict[str, int]:
        """Images per flag, plus ``measured`` and ``unmeasured`` (still images only)."""
        columns = [func.count(Image.quality_flags), func.count()]  # flagged, all still images
        columns += [
            func.sum(func.coalesce(Image.quality_flags.op("&")(bit), 0) / bit)
            for bit in FLAGS.values()
        ]
        query = select(*columns).where(Image.status == STATUS_OK, Image.duration_ms.is_(None))
        with self._session() as session:
            row = session.execute(query).one()
        counts = {name: int(row[i + 2] or 0) for i, name in enumerate(FLAGS)}
        counts["measured"] = int(row[0] or 0)
        counts["unmeasured"] = int(row[1] or 0) - counts["measured"]  # one read, one snapshot
        return counts
