"""The result of an index run (``imgsearch index``'s summary): the pipeline's counts and the
run's own figures, as stable JSON and as the text the CLI prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from indexer.excludes import CollectionExcludes
from indexer.system_folders import skipped_text
from indexer.writer import Counts
from search.units import human_size, plural, printable


@dataclass
class IndexSummary(Counts):
    """The result of a run: the pipeline's :class:`Counts` and the run's own figures;
    ``to_json`` is the stable machine-readable form."""

    processed: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # CPU time of the run: all threads, worker processes included
    images_per_second: float = 0.0
    warnings: list[str] = field(default_factory=list)
    collections: list[str] = field(default_factory=list)
    kept_unreadable: int = 0
    failed_total: int = 0
    images_total: int = 0
    descriptor: str = ""
    whitening: str = ""
    learn_seconds: float = 0.0  # of ``seconds``: learning the whitening (once per library)
    learn_cpu_seconds: float = 0.0  # of ``cpu_seconds``
    skipped_removed: int = 0  # files under paths `imgsearch remove` took out
    #: folders of other software the walk left out (a NAS's thumbnails...): path, what
    skipped_system: list[tuple[str, str]] = field(default_factory=list)
    #: links to folders the walk did not follow (no --follow-symlinks): their paths
    unfollowed: list[str] = field(default_factory=list)
    learn_photos: int = 0  # photos of the library the whitening was learned from
    learn_edits: int = 0  # edits of them (pairs)
    quality_measured: int = 0  # images indexed before quality flags existed, measured now
    quality_seconds: float = 0.0  # of ``seconds``: measuring them
    pruned: int = 0  # cached thumbnails / key points of removed or replaced files deleted
    pruned_bytes: int = 0
    #: why a re-index is still unfinished after the run (searches stay refused), else ""
    reindex_unfinished: str = ""
    #: the walked collections' patterns this run applied or dropped (:mod:`indexer.excludes`)
    excludes: list[CollectionExcludes] = field(default_factory=list)
    #: the library written to: its folder, its database's URL (without a password), and
    #: whether this run created it (a mistyped IMGSEARCH_LIBRARY made a new one unseen)
    library: str = ""
    database: str = ""
    library_created: bool = False

    @property
    def index_seconds(self) -> float:
        """Of ``seconds``: all but learning the whitening and measuring older images'
        quality (``images_per_second``'s)."""
        return max(0.0, self.seconds - self.learn_seconds - self.quality_seconds)

    def to_json(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "updated": self.updated,
            "moved": self.moved,
            "removed": self.removed,
            "failed": self.failed,
            "images_per_second": round(self.images_per_second, 2),
            "unchanged": self.unchanged,
            "copied": self.copied,
            "converted_to_video": self.converted_to_video,
            "processed": self.processed,
            "gone": self.gone,
            "seconds": round(self.seconds, 3),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "images_total": self.images_total,
            "failed_total": self.failed_total,
            "collections": self.collections,
            "descriptor": self.descriptor,
            "whitening": self.whitening,
            "learn_seconds": round(self.learn_seconds, 3),
            "learn_cpu_seconds": round(self.learn_cpu_seconds, 3),
            "skipped_removed": self.skipped_removed,
            "skipped_folders": [{"path": p, "holds": w} for p, w in self.skipped_system],
            "unfollowed_links": self.unfollowed,
            "learn_photos": self.learn_photos,
            "learn_edits": self.learn_edits,
            "index_seconds": round(self.index_seconds, 3),
            "quality_measured": self.quality_measured,
            "quality_seconds": round(self.quality_seconds, 3),
            "pruned": self.pruned,
            "pruned_bytes": self.pruned_bytes,
            "excludes": [e.to_json() for e in self.excludes],
            "failures": [{"path": p, "error": e} for p, e in self.failures],
            "warnings": self.warnings,
            "reindex_unfinished": self.reindex_unfinished or None,
            "library": self.library,
            "database": self.database,
            "library_created": self.library_created,
        }

    def to_text(self, max_listed: int = 20) -> str:
        lines = [
            f"{self.processed} file{'s' * (self.processed != 1)} processed in "
            f"{self.index_seconds:.1f} s"
            + (f" ({self.images_per_second:.1f} img/s)" if self.processed else "")
            + f": {self.added} added, {self.updated} updated, "
            f"{self.moved} moved, {self.removed} removed, {self.failed} failed, "
            f"{self.unchanged} unchanged"
            + (
                f" ({plural(self.copied, 'copy', 'copies')} reused a vector)" if self.copied else ""
            ),
            f"library: {self.images_total} image{'s' * (self.images_total != 1)} indexed"
            + (
                f", {self.failed_total} file{'s' if self.failed_total != 1 else ''} it could "
                "not index (`imgsearch stats` lists them)"
                if self.failed_total
                else ""
            ),
        ]
        if self.library:
            lines.append(self._library_line())
        if self.converted_to_video:
            lines.append(
                f"{self.converted_to_video} animated images re-indexed as videos (indexed "
                "as still images by an older imgsearch)"
            )
        if self.whitening.startswith("learned"):
            lines.append(self.whitening)
            lines.append(f"the whole run took {self.seconds:.1f} s")
        if self.quality_measured:
            lines.append(
                f"quality flags and layouts measured for {self.quality_measured} images "
                f"indexed before they existed ({self.quality_seconds:.1f} s)"
            )
        if self.failures:
            lines.append(f"failed files ({self.failed}):")
            lines += [f"  {printable(path)}: {error}" for path, error in self.failures[:max_listed]]
            if len(self.failures) > max_listed:
                lines.append(f"  ... and {len(self.failures) - max_listed} more (--json lists all)")
        if self.warnings:
            lines.append(f"warnings ({len(self.warnings)}):")
            lines += [f"  {printable(w)}" for w in self.warnings[:max_listed]]
            if len(self.warnings) > max_listed:
                lines.append(f"  ... and {len(self.warnings) - max_listed} more")
        lines += [e.to_text() for e in self.excludes]
        if self.gone:
            lines.append(
                f"{self.gone} file{'s' * (self.gone != 1)} gone between the walk and their "
                "reading (renamed or deleted while the run went): run `imgsearch index` again "
                "to take them where they are now"
            )
        if self.skipped_system:
            lines.append(skipped_text(self.skipped_system))
        if self.unfollowed:  # it said nothing: a linked phone folder was left out unseen
            shown = ", ".join(printable(path) for path in self.unfollowed[:5])
            more = f" and {len(self.unfollowed) - 5} more" if len(self.unfollowed) > 5 else ""
            one = len(self.unfollowed) == 1
            what = "1 link to a folder" if one else f"{len(self.unfollowed)} links to folders"
            lines.append(
                f"{what} not followed: {shown}{more} (`--follow-symlinks` follows "
                f"{'it' if one else 'them'}; or index the folder{'' if one else 's'} "
                f"{'it leads' if one else 'they lead'} to)"
            )
        if self.skipped_removed:
            lines.append(
                f"{self.skipped_removed} files left out: removed from the library "
                "(`imgsearch stats` lists them; `imgsearch remove --undo PATH` takes "
                "one back)"
            )
        if self.pruned:
            lines.append(
                f"{self.pruned} cached thumbnails and key points of removed or replaced files "
                f"deleted ({human_size(self.pruned_bytes)})"
            )
        if self.kept_unreadable:
            lines.append(
                f"{self.kept_unreadable} indexed files kept although not seen: their folders "
                "could not be listed, or hold no images now (see the warnings)"
            )
        return "\n".join(lines)

    def _library_line(self) -> str:
        """``created the library FOLDER`` or ``library folder FOLDER``, with the database
        when it is a server's (a SQLite library's database is a file in its folder)."""
        head = "created the library" if self.library_created else "library folder"
        server = not self.database.startswith("sqlite")
        return f"{head} {printable(self.library)}" + (
            f" (database {self.database})" if server else ""
        )


__all__ = ["IndexSummary"]
