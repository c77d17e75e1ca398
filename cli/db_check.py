"""``imgsearch db check``: is the library's database file intact, and if not, how to recover."""

from __future__ import annotations

import json

import click

from cli.admin_cmds import db
from cli.search_cmds import user_errors
from search.settings import Settings


@db.command("check")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print JSON: {"database", "ok", "read_only", "problems", "recovery"}.',
)
@click.pass_context
@user_errors
def check(ctx: click.Context, as_json: bool) -> None:
    """Check the database file: its header and size, then SQLite's full integrity check
    (reads every page; a minute for a few GB); a PostgreSQL library: its tables and every
    vector's size. Exits 1 with what is wrong and how to recover. A SQLite file that cannot
    be written (or IMGSEARCH_READ_ONLY) is checked read-only: nothing is written."""
    from search.store import (
        check_database,
        printable_url,
        read_only_file,
        recovery,
        require_database,
        sqlite_file,
    )

    settings: Settings = ctx.obj
    url = settings.resolved_database_url
    path = sqlite_file(url)  # also of a --database-url sqlite:///FILE?options
    if path is not None:
        require_database(url)
    read_only = read_only_file(url, settings.read_only) is not None
    problems = check_database(url, read_only=settings.read_only)
    where = path or printable_url(url)
    if as_json:
        fix = recovery(path) if problems and path is not None else None
        report = {"database": str(where), "ok": not problems, "read_only": read_only}
        click.echo(json.dumps({**report, "problems": problems, "recovery": fix}, indent=2))
        if problems:
            ctx.exit(1)
        return
    if not problems:
        checked = (
            "header, size and SQLite's integrity check"
            if path is not None or url.startswith("sqlite")
            else "the library's tables and every vector's size; the server checks its own "
            "pages (pg_amcheck)"
        )
        opened = "; opened read-only, nothing was written" if read_only else ""
        click.echo(f"{where}: ok ({checked}{opened})")
        return
    lines = [f"{where} is damaged:"] + [f"  {p}" for p in problems[:20]]
    if len(problems) > 20:
        lines.append(f"  ... and {len(problems) - 20} more")
    if path is not None:
        lines.append(f"To recover: {recovery(path)}.")
    click.echo("\n".join(lines), err=True)
    ctx.exit(1)
