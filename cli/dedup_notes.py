"""What `imgsearch dedup` says on stderr beside its report when the disk no longer matches the
library: files changed or gone since indexing, links left out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from search.units import printable

if TYPE_CHECKING:
    from search.dedup import DedupResult


def warn_of_the_disk(result: DedupResult, videos: list[dict[str, Any]]) -> None:
    """Warn of the report's files that are no longer as indexed (following the report would
    delete what it did not mean to), and note the links it left out."""
    from search.query import changed_since_index, disk_change  # (loaded when a report runs)

    gone = [
        image.path
        for g in result.groups
        for image in g.images
        if disk_change(image.path) or changed_since_index(image)  # (a touched file is as it was)
    ] + [
        member["path"]  # and of the copies of a video
        for g in videos
        for member in g["members"]
        if disk_change(member["path"], member["file_size"])
    ]
    left_out = result.stats.get("changed_since_index")
    if left_out:  # their files hold other pictures now: never listed for deletion
        click.echo(
            f"warning: {left_out} file(s) changed since indexing were left out of the groups "
            "(their files hold other bytes now): run `imgsearch index` first, so that the "
            "report covers them",
            err=True,
        )
    moved = result.stats.get("moved_left_out")
    if moved:  # a renamed folder: each photo is no copy of its own old row
        click.echo(
            f"note: {moved} row(s) of files no longer where they were indexed, whose bytes "
            "are a file of their group that is there, were left out (moved or renamed since "
            "indexing, not copies); a collection whose folder is gone keeps its rows until "
            "`imgsearch remove FOLDER`",
            err=True,
        )
    links = result.stats.get("links_left_out")
    if links:  # a link and its file are one file: deleting either is not removing a copy
        click.echo(
            f"note: {links} link(s) to files of their group were left out (a link and the "
            "file it leads to are one file, not two copies)",
            err=True,
        )
    if gone:  # a keeper deleted since: following the report would delete every copy
        click.echo(
            f"warning: {len(gone)} file(s) of these groups are no longer as indexed (deleted, "
            f"moved or changed; e.g. {printable(gone[0])}): run `imgsearch index` first, so "
            "that the report matches the disk (a collection whose folder is gone keeps its "
            "rows until `imgsearch remove FOLDER`)",
            err=True,
        )


__all__ = ["warn_of_the_disk"]
