"""Leaving things out of the library: ``remove`` (recorded, undoable) and ``prune`` (the
library folder's caches of what no image needs any more)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.admin_cmds import emit, json_shape_option
from cli.main import cli
from cli.options import NonEmptyPath
from cli.search_cmds import open_engine, user_errors
from cli.stats_cmds import keep_run_figures, run_figures
from search.settings import Settings
from search.units import human_size, plural, printable

if TYPE_CHECKING:
    from search.store import Removal


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=NonEmptyPath(path_type=Path, stored=True))
@click.option(
    "--undo",
    is_flag=True,
    help="Take PATHS back: forget their removal, so the next `imgsearch index` "
    "adds their files again.",
)
@click.option(
    "--yes",
    "-y",
    is_flag=True,
    help="Remove whole collections without asking (needed when not run from a terminal).",
)
@json_shape_option(
    '{"removed", "failed", "paths": [{"path", "images", "failed"}], "unmatched", "pruned", '
    '"pruned_bytes"}; '
    'with --undo {"undone": '
    '[{"path", "images", "removed_at"}]}'
)
@click.pass_context
@user_errors
def remove(
    ctx: click.Context, paths: tuple[Path, ...], undo: bool, yes: bool, as_json: bool
) -> None:
    """Remove images (files, or folders: everything below) from the library, for good.

    PATHS: files, folders or whole collections of the library.

    Files on disk are never touched. The removal is recorded: later `imgsearch index` runs
    leave these files out (`imgsearch stats` lists what was removed) until
    `imgsearch remove --undo PATH`. Their cached thumbnails and key points are deleted.
    """
    with open_engine(ctx) as engine:
        if undo:
            undone = engine.admin.undo_remove(paths)
            if not undone:
                raise click.ClickException(_nothing_to_undo(engine.admin.removals(), paths))
            emit(
                as_json,
                {"undone": [u.to_dict() for u in undone]},
                "\n".join(
                    f"{printable(u.path)}: taken back ({plural(u.images, 'image')} when "
                    "removed); the next `imgsearch index` adds its files again"
                    for u in undone
                ),
            )
            return
        done = engine.admin.remove(paths, confirm_whole=None if yes else _confirm_whole)
        pruned, pruned_bytes = engine.admin.prune_after_changes() if done else (0, 0)
        figures = run_figures(engine.library)  # the next `stats` reads them, nothing else
    keep_run_figures(ctx.obj, figures)
    if not done:
        raise click.ClickException("none of these paths is an image of this library")
    unmatched = _unmatched(paths, [str(entry["path"]) for entry in done])
    for path in unmatched:  # beside a path that matched, a typo was passed over in silence
        click.echo(
            f"Warning: {printable(path)} is no image of this library: nothing removed there",
            err=True,
        )
    forgotten = [entry["path"] for entry in done if entry.get("collection_forgotten")]
    removed = sum(entry["images"] for entry in done)
    failed = sum(entry["failed"] for entry in done)
    what = _counted(removed, failed)
    freed = (
        f"; {pruned} cached thumbnails and key points deleted ({human_size(pruned_bytes)})"
        if pruned
        else ""
    )
    emit(
        as_json,
        {
            "removed": removed,
            "failed": failed,
            "paths": done,
            "unmatched": unmatched,
            "pruned": pruned,
            "pruned_bytes": pruned_bytes,
        },
        "\n".join(
            [
                f"forgot the empty collection {printable(root)} (it held no file)"
                for root in forgotten
            ]
            + (
                [
                    f"removed {what} from the library; later index runs leave "
                    f"{'it' if removed + failed == 1 else 'them'} out (undo: imgsearch remove "
                    "--undo PATH)" + freed
                ]
                if removed + failed or not forgotten
                else []
            )
        ),
    )


def _unmatched(paths: tuple[Path, ...], removed: list[str]) -> list[str]:
    """The ``paths`` that lie neither at, below nor above a path that was removed."""
    done = [Path(p) for p in removed]
    unmatched = []
    for path in paths:
        target = Path(os.path.abspath(path))
        candidates = dict.fromkeys([target, target.resolve()])
        if not any(
            c == d or c.is_relative_to(d) or d.is_relative_to(c) for c in candidates for d in done
        ):
            unmatched.append(str(path))
    return unmatched


def _counted(images: int, failed: int) -> str:
    """ "3 images", "1 image and 2 files that could not be indexed"."""
    text = plural(images, "image")
    if failed:
        text += f" and {plural(failed, 'file')} that could not be indexed"
    return text


def _can_ask() -> bool:
    return sys.stdin.isatty()


def _confirm_whole(collections: list[tuple[str, int, int]]) -> None:
    """Ask before a removal takes out whole collections (``imgsearch remove /`` is one
    typo away); without a terminal to ask on, refuse unless ``--yes`` was given."""
    whole = ", ".join(
        f"{printable(root)} ({_counted(images, failed)})" for root, images, failed in collections
    )
    question = f"this removes every image of the collection{'s' * (len(collections) > 1)} {whole}"
    if not _can_ask():
        raise click.UsageError(f"{question}; add --yes to go ahead")
    click.confirm(f"{question}. Go ahead?", abort=True, err=True)


def _nothing_to_undo(removals: list[Removal], paths: tuple[Path, ...]) -> str:
    for path in paths:
        target = Path(os.path.abspath(path))
        for removal in removals:
            if target.is_relative_to(removal.path):
                return (
                    f"{path} lies in the removed {removal.path}: take that back "
                    f"(`imgsearch remove --undo {removal.path}`), then remove the rest again"
                )
    return "no removal is recorded at or below these paths (`imgsearch stats` lists them)"


#: what `prune` calls one file of each cache, and its plural
_NOUNS = {
    "thumbnails": ("thumbnail", None),
    "key points": ("key-point entry", "key-point entries"),
    "explore results": ("temporary file", None),
}


@cli.command()
@click.option("--dry-run", "-n", is_flag=True, help="Only count what would be deleted.")
@json_shape_option(
    '{"dry_run", "caches": [{"cache", "folder", "removed", "removed_bytes", "kept", "kept_bytes"}]}'
)
@click.pass_context
@user_errors
def prune(ctx: click.Context, dry_run: bool, as_json: bool) -> None:
    """Delete cached thumbnails and key points that no library image needs any more.

    Those of images removed from the library or of files replaced since, of sizes or
    extraction versions no longer made, and temporary files left by a killed process or a
    full disk (the explore results' too). Files written in the last minute are kept. The
    database, the FAISS file and the photos are not touched; anything deleted is made again
    if ever needed.
    """
    from search.library import Library
    from search.query import LibraryAdmin

    settings: Settings = ctx.obj
    with Library.open(settings) as library:
        caches = LibraryAdmin(library).prune_caches(dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    emit(
        as_json,
        {"dry_run": dry_run, "caches": [c.to_dict() for c in caches]},
        "\n".join(
            f"{c.cache}: {verb} {plural(c.removed, *_NOUNS[c.cache])} "
            f"({human_size(c.removed_bytes)}), kept {c.kept} ({human_size(c.kept_bytes)}) in "
            f"{c.folder}"
            for c in caches
        ),
    )
