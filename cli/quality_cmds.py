"""``imgsearch flags``: the library's quality flags (too dark, overexposed, blurry, tiny,
almost uniform; measured at index time): counts, and the images that have them."""

from __future__ import annotations

import json

import click

from cli.main import cli
from cli.options import CLI_FLAG_NAMES, flag_options, ranged_option
from cli.search_cmds import open_engine, user_errors
from models.quality import FLAGS, flag_names
from search.query import MAX_OFFSET
from search.units import plural, printable

FLAGS_JSON = (
    'Print JSON: {"counts": {flag: images, "measured", "unmeasured"}, "total", "results": '
    '[{"id", "path", "flags", ...}]} (results: the images that pass --flag/--exclude-flag).'
)


@cli.command()
@flag_options
@ranged_option(
    "-n",
    "--limit",
    default=50,
    low=1,
    high=1000,
    help_text="List at most this many flagged images (the counts are of all).",
)
@click.option(
    "--offset",
    type=click.IntRange(0, MAX_OFFSET),  # a larger offset overflowed in SQLite (a traceback)
    default=0,
    help="Skip this many images (the next page: --offset 50 with the default -n).",
)
@click.option("--json", "as_json", is_flag=True, help=FLAGS_JSON)
@click.pass_context
@user_errors
def flags(
    ctx: click.Context,
    flags: tuple[str, ...],
    exclude_flags: tuple[str, ...],
    limit: int,
    offset: int,
    as_json: bool,
) -> None:
    """Quality flags: how many images are dark, bright, blurry, tiny or uniform, and with
    --flag / --exclude-flag which ones (newest file first)."""
    from search.query import QualityFilter

    if not flags and ("any" in exclude_flags or set(FLAGS) <= set(exclude_flags)):
        # it said "--flag and --exclude-flag leave nothing" of a --flag never given
        raise click.ClickException(  # exit 1, as --flag X --exclude-flag X
            f"--exclude-flag {','.join(exclude_flags)} leaves no flag to list (`flags` lists "
            "the images that have one): give --flag too, or leave --exclude-flag out"
        )
    wanted = QualityFilter.parse(flags or ("any",), exclude_flags, CLI_FLAG_NAMES)
    with open_engine(ctx) as engine:
        counts = engine.records.quality_counts()
        hits, total = engine.browse(offset, limit, wanted)
    if as_json:
        out = {"counts": counts, "total": total, "results": [h.to_dict() for h in hits]}
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(
        ", ".join(f"{name} {counts[name]}" for name in FLAGS)
        + f" (of {counts['measured']} measured images)"
    )
    if counts["unmeasured"]:
        click.echo(
            f"{plural(counts['unmeasured'], 'image')} indexed before quality flags existed are not "
            "measured yet: `imgsearch index` measures them"
        )
    if hits:
        shown = f"{offset + 1}-{offset + len(hits)} of {total}"
    else:
        shown = f"none past the first {offset} (of {total})" if total else "none"
    named = [name for name in flags if name != "any"] if flags else []
    asked = " or ".join(named) if named else "any flag"  # --flag any: "images with any: ..."
    click.echo(f"images with {asked}: {shown}")
    for hit in hits:
        click.echo(
            f"{hit.id:>7}  {', '.join(flag_names(hit.quality_flags)):<16}  {printable(hit.path)}"
        )
