"""``imgsearch stats``: the library's figures, from a summary stamped with the database's state
when nothing changed since it was read (no SQLAlchemy, NumPy or FAISS import: ~0.1 s), else
read from the library (and the summary saved)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from cli.errors import library_error_text
from cli.main import cli
from indexer.excludes import quoted
from search.settings import Settings
from search.store import (
    LibraryNotFoundError,
    cached_summary,
    require_database,
    save_summary,
    summary_stamp,
)
from search.units import printable
from web.text import human_size, plural

if TYPE_CHECKING:
    from search.library import Library


def library_figures(ctx: click.Context) -> dict[str, Any]:
    """The figures of ``imgsearch stats --json``: the saved summary while the library is as
    it was then, else read through the engine (and saved when nothing wrote meanwhile)."""
    settings: Settings = ctx.obj
    stamp = summary_stamp(settings)
    figures = cached_summary(settings, stamp)
    if figures is not None:
        return figures
    try:  # said before the imports below (~1 s)
        require_database(settings.resolved_database_url)
    except LibraryNotFoundError as error:
        raise click.ClickException(library_error_text(error)) from None
    from cli.search_cmds import open_engine, user_errors

    @user_errors
    def read() -> dict[str, Any]:
        with open_engine(ctx) as engine:
            return engine.admin.stats()

    figures = json.loads(json.dumps(read(), default=str))  # as a saved summary reads back
    if not settings.read_only:  # a read-only library keeps nothing
        save_summary(settings, stamp, figures)
    return figures


def run_figures(library: Library) -> dict[str, Any]:
    """The figures of ``stats`` read by a writing command at its end (the library open and
    everything imported: ~0.01 s), to be kept by :func:`keep_run_figures` once it is closed,
    so that the ``stats`` after an ``index`` costs ~0.1 s instead of ~1 s."""
    from search.query import LibraryAdmin

    return json.loads(json.dumps(LibraryAdmin(library).stats(), default=str))


def keep_run_figures(settings: Settings, figures: dict[str, Any]) -> None:
    """Save ``figures`` under the library's state once its writer has closed it (closing
    checkpoints SQLite's log: the files it stamps change then, not after)."""
    stamp = summary_stamp(settings)
    if settings.read_only or stamp is None:
        return
    sizes = (stamp["database_state"], stamp["wal_state"])  # the files as closed
    figures = figures | {"database_bytes": sum(state[0] for state in sizes if state)}
    save_summary(settings, stamp, figures)


@cli.command()
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print JSON: {"library", "database", "collections", "images", "failed", "vectors", '
    '"model", "index", "descriptor", "generation", "removed_paths", "reindex", "failures", '
    '"last_run"}.',
)
@click.pass_context
def stats(ctx: click.Context, as_json: bool) -> None:
    """Library figures: collections, images, failures, model, index, last run."""
    figures = library_figures(ctx)
    if as_json:
        click.echo(json.dumps(figures, indent=2, default=str))
        return
    model = figures["model"] or {}
    index = figures["index"]
    lines = [
        f"library     {figures['library']}",
        f"database    {figures['database']} ({human_size(figures['database_bytes'])})",
        f"images      {figures['images']} indexed, {figures['failed']} failed, "
        f"{figures['vectors']} vectors",
        "model       "
        + (
            f"{model['name']} ({model.get('dimension', '?')}-d, sha256 "
            f"{str(model.get('sha256', '-'))[:12]})"
            if model.get("name")
            else "none yet (the first `imgsearch index` chooses it)"
        ),
        f"index       {index['kind']}, {index['ntotal']} vectors"
        + (
            f", recall@{index.get('recall_k', 10)} {index['recall']:.3f}"
            if index.get("recall") is not None and index["kind"] != "flat"
            else ""
        )
        + "".join(f" at {name} {index[name]}" for name in ("nprobe", "efSearch") if name in index),
        f"generation  {figures['generation']}",
        _descriptor_line(figures["descriptor"]),
    ]
    if figures.get("reindex"):
        lines.append(
            f"reindex     unfinished, to {figures['reindex']}: searches are refused "
            "until `imgsearch index` (or the running reindex) finishes it"
        )
    run = figures["last_run"]
    if run:
        when = str(run["finished_at"] or run["started_at"]).replace("T", " ")[:19]
        lines.append(  # in words: "+3 ~0 >0 -0 !0" was a puzzle to newcomers
            f"last run    {run['status']} {when} UTC: {run['added']} added, "
            f"{run['updated']} updated, {run['moved']} moved, {run['removed']} removed, "
            f"{run['failed']} failed"
        )
    for collection in figures["collections"]:
        excluding = collection.get("excludes")
        lines.append(
            f"collection  {printable(collection['root'])}: "
            f"{plural(collection['images'], 'image')}"
            + (f", excluding {quoted(excluding)} (remembered --exclude)" if excluding else "")
        )
    for removal in figures.get("removed_paths", []):
        lines.append(
            f"removed     {printable(removal['path'])}: {plural(removal['images'], 'image')}, "
            f"{removal['removed_at'][:10]} (left out by index; undo: "
            "imgsearch remove --undo PATH)"
        )
    for failure in figures["failures"]:
        lines.append(f"failed      {printable(failure['path'])}: {failure['error']}")
    if figures["failed"] > len(figures["failures"]):
        lines.append(f"            ... and {figures['failed'] - len(figures['failures'])} more")
    click.echo("\n".join(lines))


def _descriptor_line(info: dict[str, Any]) -> str:
    white = info["whitening"]
    if white:
        learned = f"whitening from {white['images']} images ({white['pairs']} edit pairs"
        shrink = white.get("shrink")
        learned += f", {shrink:.0%} towards the plain space)" if shrink is not None else ")"
    elif "whiten=off" in str(info["options"]).split(","):
        learned = "no whitening (whiten=off)"
    else:
        learned = f"no whitening (learned from {info.get('whitening_from', '?')} images up)"
    if info.get("key_point_check"):  # local=on (the default) brings it; verify=on alone too
        why = "local=on" if "local=on" in str(info["options"]).split(",") else "verify=on"
        learned += f"; a query in doubt has its best candidates checked by key points ({why})"
    if "crops=on" in str(info["options"]).split(",") and "cropped_images" in info:
        learned += f"; {info['cropped_images']} images with their five crops (crops=on)"
    cal = info["calibration"] or {}
    background = f"{cal.get('background', 'measured')} background"
    if cal.get("background") == "measured, its sd the prior's":  # copies of one picture fill it
        background = "measured background, its spread capped at the plain-space prior's"
    decision = (
        f"; copies from copy score {cal['duplicate_threshold']:.3f} (z {cal['duplicate_z']:g}"
        f", {background})"
        if cal
        else ""
    )
    return (
        f"descriptor  {info['options']}\n            {learned}, "
        f"{info['framed_images']} framed photos{decision}"
    )
