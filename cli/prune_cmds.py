"""``imgsearch prune``: free the library folder's caches of what no image needs any more."""

from __future__ import annotations

import json

import click

from cli.main import cli
from cli.search_cmds import user_errors
from search.settings import Settings
from search.units import human_size, plural


@cli.command()
@click.option("--dry-run", "-n", is_flag=True, help="Only count what would be deleted.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print JSON: {"dry_run", "caches": [{"cache", "folder", "removed", '
    '"removed_bytes", "kept", "kept_bytes"}]}.',
)
@click.pass_context
@user_errors
def prune(ctx: click.Context, dry_run: bool, as_json: bool) -> None:
    """Delete cached thumbnails and key points that no library image needs any more.

    Those of images removed from the library or of files replaced since, of sizes or
    extraction versions no longer made, and temporary files left by a killed process. Files
    written in the last minute are kept. The database, the FAISS file and the photos are not
    touched; anything deleted is made again if ever needed.
    """
    from search.library import Library
    from search.query import LibraryAdmin

    settings: Settings = ctx.obj
    with Library.open(settings) as library:
        caches = LibraryAdmin(library).prune_caches(dry_run=dry_run)
    if as_json:
        data = {"dry_run": dry_run, "caches": [c.to_dict() for c in caches]}
        click.echo(json.dumps(data, indent=2))
        return
    verb = "would delete" if dry_run else "deleted"
    for cache in caches:
        noun = "thumbnail" if cache.cache == "thumbnails" else "key-point entry"
        many = None if cache.cache == "thumbnails" else "key-point entries"
        click.echo(
            f"{cache.cache}: {verb} {plural(cache.removed, noun, many)} "
            f"({human_size(cache.removed_bytes)}), kept {cache.kept} "
            f"({human_size(cache.kept_bytes)}) in {cache.folder}"
        )
