"""Exploring the library: ``imgsearch clusters`` and ``imgsearch outliers`` (from the stored
vectors: no image is read again; results are cached per index generation)."""

from __future__ import annotations

import html
import json
from pathlib import Path, PurePath

import click

from cli.dedup_cmds import library_thumbnails
from cli.errors import writable_output
from cli.main import cli
from cli.options import NonEmptyPath, dash_is_stdout, ranged_option
from cli.search_cmds import open_engine, user_errors
from search.dedup import atomic_write, data_uri
from search.explore import DEFAULT_K, DEFAULT_MIN_SIZE, Clusters, ExploreError
from search.units import plural, printable

CLUSTERS_JSON = (
    'Print JSON: {"method", "clusters": [{"id", "size", "representative": {"id", "path"}, '
    '"labels", "members": [{"id", "path"}]}], "noise": [{"id", "path"}]}; a cluster\'s "id" '
    "is 0-based (the text, the HTML report and the web show id + 1: cluster 1 is id 0)."
)


REPORT_SUFFIXES = {
    ".html": "html",
    ".htm": "html",
    ".json": "json",
    "": "text",
    ".txt": "text",
    ".text": "text",
    ".md": "text",
    ".log": "text",
}
"""The report's format by its file's suffix (any other suffix needs --format)."""


@cli.command()
@click.option(
    "--method",
    type=click.Choice(["density", "kmeans"]),
    default="density",
    show_default=True,
    help="density: HDBSCAN on the k-NN graph (the number of groups comes from the data; "
    "images near nothing stay unclustered as noise); kmeans: exactly --k groups.",
)
@click.option("--k", type=click.IntRange(1), help="Number of k-means groups [default: sqrt(n/2)].")
@click.option(
    "--min-size",
    type=click.IntRange(2),
    default=DEFAULT_MIN_SIZE,
    show_default=True,
    help="Smallest density group.",
)
@click.option("--json", "as_json", is_flag=True, help=CLUSTERS_JSON)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "html"]),
    default=None,
    help="Output format [default: by --output's name (.html, .json; .txt or none: text; "
    "another suffix is refused), else text; html needs --output].",
)
@click.option(
    "-o",
    "--output",
    type=NonEmptyPath(path_type=Path, dir_okay=False, hint="give a file name"),
    callback=lambda _ctx, _param, value: dash_is_stdout(value),
    help="Write the report here instead of stdout ('-': stdout; missing folders are created).",
)
@click.pass_context
@user_errors
def clusters(
    ctx: click.Context,
    method: str,
    k: int | None,
    min_size: int,
    as_json: bool,
    fmt: str | None,
    output: Path | None,
) -> None:
    """Groups of similar images, each with a representative, its size and common labels.

    Made from the vectors the library already stores, in the model's embedding space;
    cached until the library changes.
    """
    if as_json and fmt not in (None, "json"):
        raise click.UsageError(f"--json and --format {fmt} ask for two formats: give one")
    # -o clusters.html wrote plain text into an .html file, and -o clusters.pdf still does:
    # the format follows the name, as dedup's does, and a name of another format is refused
    named = "text"
    if output is not None and fmt is None and not as_json:
        named = REPORT_SUFFIXES.get(output.suffix.lower(), "")
        if not named:
            raise click.BadParameter(
                f"cannot tell the format from {output}: name it .html, .json or .txt, or "
                "give --format",
                param_hint="'-o' / '--output'",
            )
    fmt = "json" if as_json else (fmt or named)
    if fmt == "html" and output is None:
        raise click.UsageError("an html report needs --output FILE.html")
    if method == "density" and k is not None:
        raise click.UsageError("--k is for --method kmeans; density uses --min-size")
    given = ctx.get_parameter_source("min_size") != click.core.ParameterSource.DEFAULT
    if method == "kmeans" and given:  # it was ignored without a word
        raise click.UsageError("--min-size is for --method density; kmeans uses --k")
    if output is not None:
        writable_output(output, "the report")
    with open_engine(ctx) as engine:
        try:
            result = engine.explore.clusters(method, k=k, min_size=min_size)
        except ExploreError as error:  # --k over this library's size: a bad value (exit 2)
            if error.option == "k":
                raise click.BadParameter(str(error), param_hint="'--k'") from None
            raise
        if fmt == "json":
            text = json.dumps(result.to_dict(), indent=1, ensure_ascii=False)
        elif fmt == "html":
            thumbnail = library_thumbnails(engine)
            text = clusters_html(result, lambda image_id: data_uri(thumbnail(image_id)))
        else:
            text = clusters_text(result)
    if output is None:
        click.echo(text)
    else:
        atomic_write(output, text)  # a full disk keeps the earlier report
    click.echo(
        f"{len(result.clusters)} cluster(s), {len(result.noise)} unclustered ({method})"
        + (f"; report: {output}" if output else ""),
        err=True,
    )


def clusters_text(result: Clusters) -> str:
    """One block per cluster: its number (1-based, as on the web page), size, labels, then
    the members' ids and paths, the representative first."""
    lines = []
    for c in result.clusters:
        labels = ", ".join(c.labels) or "-"
        lines.append(f"cluster {c.number}: {plural(len(c.members), 'image')} ({labels})")
        lines.extend(f"  {m.id:>7}  {printable(m.path)}" for m in c.members)
    if result.noise:
        lines.append(f"unclustered: {plural(len(result.noise), 'image')}")
        lines.extend(f"  {m.id:>7}  {printable(m.path)}" for m in result.noise)
    return "\n".join(lines) if lines else "no images"


#: the report's inline thumbnails: the first few members of each cluster, and at most this
#: many in all (a report of 31,749 images was 229 MB and 4 min of thumbnails); the others
#: are listed by id and path
INLINE_PER_CLUSTER = 12
INLINE_IN_ALL = 2_000


def clusters_html(result: Clusters, thumbnail) -> str:  # type: ignore[no-untyped-def]
    """A self-contained HTML page of the clusters: the first :data:`INLINE_PER_CLUSTER`
    members of each with their thumbnail inline (:data:`INLINE_IN_ALL` at most), the rest
    listed by id and path under them."""
    from search.dedup import file_href
    from search.library import SIZES

    budget = INLINE_IN_ALL

    def figure(image_id: int, path: str) -> str:
        uri = thumbnail(image_id)
        img = f'<img src="{uri}" alt="" width="{min(SIZES)}">' if uri else "<span>?</span>"
        href = file_href(path)  # the file itself, as the dedup report links it (ids only said
        # which image a thumbnail was)
        if href:
            img = f'<a href="{html.escape(href)}">{img}</a>'
        name = html.escape(PurePath(path).name)
        return (
            f'<figure title="{html.escape(path)}">{img}'
            f"<figcaption>{name} <small>#{image_id}</small></figcaption></figure>"
        )

    def members(listed: list) -> list[str]:  # type: ignore[type-arg]
        nonlocal budget
        shown = min(len(listed), INLINE_PER_CLUSTER, budget)
        budget -= shown
        out = [figure(m.id, m.path) for m in listed[:shown]]
        if len(listed) > shown:
            rows = "".join(f"<li>{m.id} {html.escape(m.path)}</li>" for m in listed[shown:])
            out.append(
                f"<details><summary>{len(listed) - shown} more</summary><ul>{rows}</ul></details>"
            )
        return out

    parts = [
        "<!doctype html><meta charset=utf-8>"  # a phone's width (it rendered at 980 px)
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>imgsearch - clusters</title>",
        "<style>body{font:14px sans-serif}figure{display:inline-block;margin:4px}"
        "figure img{max-height:120px;max-width:160px}</style>",
        f"<h1>{plural(len(result.clusters), 'cluster')} ({html.escape(result.method)})</h1>",
        f"<p>Thumbnails of the first {INLINE_PER_CLUSTER} images of each cluster ({INLINE_IN_ALL:,}"
        " at most in all); the others are listed by id and path.</p>",
    ]
    for c in result.clusters:
        labels = html.escape(", ".join(c.labels) or "-")
        parts.append(f"<h2>Cluster {c.number}: {plural(len(c.members), 'image')}, {labels}</h2>")
        parts.extend(members(c.members))
    if result.noise:
        parts.append(f"<h2>Unclustered ({len(result.noise)})</h2>")
        parts.extend(members(result.noise))
    return "\n".join(parts)


@cli.command()
@ranged_option("-n", "count", default=20, low=1, help_text="How many images.")
@ranged_option(
    "--k",
    default=DEFAULT_K,
    low=1,
    high=30,
    help_text="Which neighbour's distance is scored (the k-th nearest image).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print JSON: {"outliers": [{"rank", "id", "path", "score", "reason"}]}.',
)
@click.pass_context
@user_errors
def outliers(ctx: click.Context, count: int, k: int, as_json: bool) -> None:
    """Images far from everything else in the library, most outlying first.

    The score is the larger of two, each in standard deviations (robust: median and MAD)
    above the library's typical image, so it means the same in every library: the distance
    to the k-th nearest image, and how unlike the library's main directions it is (16
    principal axes). Above about 3 an image is unlike the rest; the reason says which.
    """
    with open_engine(ctx) as engine:
        found = engine.explore.outliers(count, k=k)
    if as_json:
        click.echo(json.dumps({"outliers": [o.to_dict() for o in found]}, indent=1))
        return
    if not found:
        click.echo("no images")
        return
    click.echo(f"{'rank':>4}  {'score':>7}  {'id':>7}  path (score: sd above a typical image)")
    for o in found:
        click.echo(
            f"{o.rank:>4}  {'-' if o.score is None else f'{o.score:.2f}':>7}  {o.id:>7}  "
            f"{printable(o.path)}\n        {o.reason}"
        )
